package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

/**
 * Llama-3.2-1B's decode attention (32 query heads over 8 KV heads of 64, one query row each) as replayed captures
 * on the GPU backend, one tile a row against split S ({@link FamilyTasks#splitS} off, then on) in one JVM, at
 * S = 160, 1024 and 4096. Two captures per S: 16 layers chained (each layer's output is the next one's query, all
 * F32, so the 16 tasks run one after another as a decode step's attentions do; each layer its own cache, 256 MB at
 * S = 4096, more than L2), and one op with BF16 values (LlamaModel's mixed case). Prints us per run, the keys and
 * values streamed per second, and the largest |old - new| / max|old|. Not a test: run it with
 * {@code java -cp <core classes + test classes + deps> dev.gpuos.tensor.gpu.AttentionSplitTiming}.
 */
public final class AttentionSplitTiming {
    private static final long KV_HEADS = 8, REP = 4, D = 64, LAYERS = 16;

    private AttentionSplitTiming() {}

    public static void main(String[] args) {
        List<String> table = new ArrayList<>();
        table.add(String.format("%-5s %-22s | %-9s %6s %9s %7s | %s", "S", "capture", "path", "chunks", "us/run", "GB/s",
                "max |old-new|/max|old|"));
        boolean was = FamilyTasks.splitS;
        try (GpuOS os = GpuOS.start(GpuTestSupport.options())) {
            GpuBackend gpu = new GpuBackend(os);
            for (long s : new long[]{160, 1024, 4096}) {
                table.addAll(time(gpu, s));
                table.subList(table.size() - 4, table.size()).forEach(System.out::println);
            }
        } finally {
            FamilyTasks.splitS = was;
        }
        System.out.println();
        table.forEach(System.out::println);
    }

    private static List<String> time(GpuBackend gpu, long s) {
        List<String> rows = new ArrayList<>();
        try (TensorScope sc = TensorScope.open(gpu)) {
            Tensor[] k = new Tensor[(int) LAYERS], v = new Tensor[(int) LAYERS];
            for (int i = 0; i < LAYERS; i++) {
                k[i] = sc.randn(10 + i, DType.F32, KV_HEADS, 1, s, D);
                v[i] = sc.randn(40 + i, DType.F32, KV_HEADS, 1, s, D);
            }
            Tensor vb = v[0].to(DType.BF16);
            Tensor q = sc.randn(7, DType.F32, KV_HEADS, REP, 1, D);
            Tensor bias = sc.zeros(DType.F32, s);
            sc.sync();
            double scale = 1 / Math.sqrt(D);
            long chainBytes = LAYERS * 2 * KV_HEADS * s * D * 4, oneBytes = KV_HEADS * s * D * (4 + 2);
            double[][] chain = new double[2][], one = new double[2][];
            for (int mode = 0; mode < 2; mode++) {
                FamilyTasks.splitS = mode == 1;
                Tensor[] out = new Tensor[2];
                GpuReplay layers = gpu.capture(() -> {
                    Tensor x = q;
                    for (int i = 0; i < LAYERS; i++) x = x.attention(expand(k[i], s), expand(v[i], s), bias, scale);
                    out[0] = x;
                });
                GpuReplay single = gpu.capture(() -> out[1] = q.attention(expand(k[0], s), expand(vb, s), bias, scale));
                double perChain = MatvecTiming.seconds(gpu, new GpuReplay[]{layers});
                double perOne = MatvecTiming.seconds(gpu, new GpuReplay[]{single});
                chain[mode] = out[0].toDoubleArray();
                one[mode] = out[1].toDoubleArray();
                long chunks = FamilyTasks.attentionSplit(KV_HEADS * REP, s, mode == 1)[0];
                String path = mode == 0 ? "one tile" : "split S";
                rows.add(String.format("%-5d %-22s | %-9s %6d %9.1f %7.0f | %s", s, LAYERS + " layers chained, f32", path,
                        chunks, perChain * 1e6, chainBytes / perChain / 1e9,
                        mode == 0 ? "" : String.format("%.2e", MatvecTiming.relDiff(chain[0], chain[1]))));
                rows.add(String.format("%-5d %-22s | %-9s %6d %9.1f %7.0f | %s", s, "1 op, bf16 values", path, chunks,
                        perOne * 1e6, oneBytes / perOne / 1e9,
                        mode == 0 ? "" : String.format("%.2e", MatvecTiming.relDiff(one[0], one[1]))));
                layers.close();
                single.close();
            }
        }
        // old, new per capture: one tile's two rows, then split's
        return List.of(rows.get(0), rows.get(2), rows.get(1), rows.get(3));
    }

    /** A KV head's cache [8, 1, S, 64] over its 4 query heads, as LlamaModel.attend expands it (no copy). */
    private static Tensor expand(Tensor cache, long s) {
        return cache.expand(KV_HEADS, REP, s, D);
    }
}
