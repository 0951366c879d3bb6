package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The products of batched BERT (all-MiniLM-L6-v2 shape, 32 x 128 tokens = 4096 rows: q/k/v stacked, o, FFN up and
 * down) and of a Llama-3.2-1B prefill of 32 tokens (q/k/v stacked, o, gate/up stacked, down), x @ W^T with W in the
 * HF Linear layout, each as one replayed capture on the GPU backend, on three paths in one JVM: the scalar 64x64
 * tiles, M_MMA (the tensor-core tiles on by default) and what -Dgpuos.matmul.tensorCores=true plans (M_MMA_ASYNC:
 * cp.async stages and ldmatrix; M_MMA_ROWS for the prefill's 32 rows), planned by setting {@link FamilyTasks#tensorCores} and {@link FamilyTasks#asyncTensorCores}
 * before each capture. Per path: us per run (submission to the host seeing it done, one product per run), TFLOP/s,
 * and the largest difference from M_MMA's result relative to its largest value (both accumulate in f32 and round
 * once: bf16-rounding-sized differences are expected, not more). Then each model's products summed as it runs them
 * (BERT: 6 layers; Llama: 16). Not a test: run it with
 * {@code java -cp <core classes + test classes + deps> dev.gpuos.tensor.gpu.TensorCoreTiming [bf16|f16]}.
 */
public final class TensorCoreTiming {
    private TensorCoreTiming() {}

    private static final String[] PATHS = {"scalar tiles", "M_MMA", "switch on"};

    /** {rows, k, m, times the model runs it per forward}, name. */
    private record Shape(String model, String name, long n, long k, long m, int perForward) {}

    private static final List<Shape> SHAPES = List.of(
            new Shape("bert", "q/k/v", 4096, 384, 1152, 6),
            new Shape("bert", "o", 4096, 384, 384, 6),
            new Shape("bert", "ffn up", 4096, 384, 1536, 6),
            new Shape("bert", "ffn down", 4096, 1536, 384, 6),
            new Shape("llama", "q/k/v", 32, 2048, 3072, 16),
            new Shape("llama", "o", 32, 2048, 2048, 16),
            new Shape("llama", "gate/up", 32, 2048, 16384, 16),
            new Shape("llama", "down", 32, 8192, 2048, 16));

    public static void main(String[] args) {
        DType t = args.length > 0 && args[0].equalsIgnoreCase("f16") ? DType.F16 : DType.BF16;
        boolean tensorCoresWas = FamilyTasks.tensorCores, asyncWas = FamilyTasks.asyncTensorCores;
        List<String> table = new ArrayList<>();
        table.add(String.format(Locale.ROOT, "%-5s %-6s %-9s %-26s | %-12s %9s %8s | %s", "dtype", "model", "product",
                "x @ W^T", "path", "us/run", "TFLOP/s", "max |path - M_MMA| / max |M_MMA|"));
        double[][] perForward = new double[2][PATHS.length];
        try (GpuOS os = GpuOS.start(GpuTestSupport.options())) {
            GpuBackend gpu = new GpuBackend(os);
            // M_MMA_ASYNC keeps (shared memory / 8 KB) - 1 steps in flight, at most 3 (-Dgpuos.worker.smemBytes)
            table.addFirst(String.format(Locale.ROOT, "worker shared memory %d bytes a block: M_MMA_ASYNC %d stages",
                    os.sharedMemoryBytes(), Math.min(4, os.sharedMemoryBytes() / 8192)));
            System.out.println(table.getFirst());
            for (Shape s : SHAPES) {
                double[] us = time(gpu, t, s, table);
                int model = s.model().equals("bert") ? 0 : 1;
                for (int p = 0; p < PATHS.length; p++) perForward[model][p] += us[p] * s.perForward();
            }
        } finally {
            FamilyTasks.tensorCores = tensorCoresWas;
            FamilyTasks.asyncTensorCores = asyncWas;
        }
        table.add("");
        for (int model = 0; model < 2; model++) {
            table.add(String.format(Locale.ROOT, "%s products per forward (%s, one product a run, summed): "
                            + "scalar tiles %.3f ms, M_MMA %.3f ms, switch on (M_MMA_ASYNC / M_MMA_ROWS) %.3f ms", t,
                    model == 0 ? "BERT 32 x 128, 6 layers" : "Llama-3.2-1B prefill of 32 tokens, 16 layers",
                    perForward[model][0] / 1e3, perForward[model][1] / 1e3, perForward[model][2] / 1e3));
        }
        System.out.println();
        System.out.println("== tensor-core timing");
        table.forEach(System.out::println);
    }

    /** us per run on each path; rows added to the table (and printed as they come). */
    private static double[] time(GpuBackend gpu, DType t, Shape s, List<String> table) {
        double[] us = new double[PATHS.length];
        try (TensorScope scope = TensorScope.open(gpu)) {
            Tensor w = scope.randn(300, t, s.m(), s.k()).mul(0.05);
            Tensor x = scope.randn(301, t, s.n(), s.k());
            scope.sync();
            double[][] results = new double[PATHS.length][];
            for (int p = 0; p < PATHS.length; p++) {
                FamilyTasks.tensorCores = p >= 1;
                FamilyTasks.asyncTensorCores = p == 2;
                Tensor[] y = new Tensor[1];
                GpuReplay r = gpu.capture(() -> y[0] = x.matmul(w.transpose(0, 1)));
                double sec = MatvecTiming.seconds(gpu, new GpuReplay[]{r});
                us[p] = sec * 1e6;
                results[p] = y[0].toDoubleArray();
                String label = p < 2 ? PATHS[p] : FamilyTasks.matmulPlan(1, s.n(), s.k(), s.m(), 1, 1, true, true, true,
                        true)[0] == FamilyTasks.PATH_MMA_ROWS ? "M_MMA_ROWS" : "M_MMA_ASYNC";
                table.add(String.format(Locale.ROOT, "%-5s %-6s %-9s %-26s | %-12s %9.1f %8.2f | %s", t, s.model(),
                        s.name(), "[" + s.n() + "," + s.k() + "]x[" + s.m() + "," + s.k() + "]^T", label, us[p],
                        2.0 * s.n() * s.k() * s.m() / sec / 1e12,
                        p == 2 ? String.format(Locale.ROOT, "%.2e", MatvecTiming.relDiff(results[1], results[2])) : ""));
                System.out.println(table.getLast());
            }
            // the scalar row was printed before M_MMA ran: its difference, now known, on a line of its own
            table.add(String.format(Locale.ROOT, "%-5s %-6s %-9s scalar tiles vs M_MMA: %.2e", t, s.model(), s.name(),
                    MatvecTiming.relDiff(results[1], results[0])));
        }
        return us;
    }
}
