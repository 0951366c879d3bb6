package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

/**
 * Decode-shaped products x[1, k] @ W^T (W [m, k], HF's Linear layout) as replayed captures on the GPU backend,
 * the 64x64 tiled path against the skinny path in one JVM (planned with {@link FamilyTasks#skinny} off, then on),
 * in GB/s of weight read against the H100's measured 3.0 TB/s HBM copy rate. Not a test: run it with
 * {@code java -cp <core classes + test classes + deps> dev.gpuos.tensor.gpu.MatvecTiming}.
 *
 * Then prefill-shaped F16/BF16 products, the scalar 64x64 tiles against tensor cores
 * ({@link FamilyTasks#tensorCores} off, then on), in TFLOP/s.
 *
 * <p>Two numbers per path: "1/run", one product per replay run (what a run costs end to end: submission,
 * the task, completion, the host seeing it), and "R/run", R products over R distinct weights in one capture
 * (independent tasks, so the worker overlaps them: the streaming rate with the per-run cost spread over R).
 * Weights rotate over copies totalling at least 256 MB so that runs read HBM, not the 50 MB L2.
 */
public final class MatvecTiming {
    private static final double HBM_BYTES_PER_S = 3.0e12;
    private static final long ROTATION_BYTES = 256L << 20;

    private MatvecTiming() {}

    public static void main(String[] args) {
        long[][] shapes = {{8192, 2048}, {2048, 8192}, {128256, 2048}};
        DType[] dtypes = {DType.BF16, DType.F32};
        List<String> table = new ArrayList<>();
        table.add(String.format("%-5s %-14s %3s | %-8s %9s %7s %5s | %9s %7s %5s | %s", "dtype", "W [m,k]", "R",
                "path", "us/run", "GB/s", "%HBM", "us/prod", "GB/s", "%HBM", "max |tiled-skinny|/max|y|"));
        boolean skinnyWas = FamilyTasks.skinny, tensorCoresWas = FamilyTasks.tensorCores;
        try (GpuOS os = GpuOS.start(GpuTestSupport.options())) {
            GpuBackend gpu = new GpuBackend(os);
            for (DType t : dtypes) {
                for (long[] shape : shapes) {
                    table.addAll(time(gpu, t, shape[0], shape[1]));
                    System.out.println(table.getLast());
                }
            }
            table.add("");
            table.add(String.format("%-5s %-22s | %-12s %9s %8s | %s", "dtype", "prefill x @ W^T", "path", "us/run",
                    "TFLOP/s", "max |scalar-mma|/max|y|"));
            for (DType t : new DType[]{DType.BF16, DType.F16}) {
                table.addAll(prefill(gpu, t, 128, 2048, 8192));
                table.addAll(prefill(gpu, t, 512, 2048, 2048));
            }
        } finally {
            FamilyTasks.skinny = skinnyWas;
            FamilyTasks.tensorCores = tensorCoresWas;
        }
        System.out.println();
        table.forEach(System.out::println);
    }

    private static List<String> time(GpuBackend gpu, DType t, long m, long k) {
        long wBytes = m * k * t.byteSize();
        int copies = (int) Math.min(8, Math.max(1, Math.ceilDiv(ROTATION_BYTES, wBytes)));
        List<String> rows = new ArrayList<>();
        try (TensorScope s = TensorScope.open(gpu)) {
            Tensor[] w = new Tensor[copies];
            for (int i = 0; i < copies; i++) w[i] = s.randn(100 + i, t, m, k);
            Tensor x = s.randn(7, t, 1, k);
            s.sync();
            double[][] results = new double[2][];
            String[] labels = {"tiled", "skinny"};
            for (int mode = 0; mode < 2; mode++) {
                FamilyTasks.skinny = mode == 1;
                Tensor[] y = new Tensor[copies];
                GpuReplay[] one = new GpuReplay[copies];
                for (int i = 0; i < copies; i++) {
                    int c = i;
                    one[i] = gpu.capture(() -> y[c] = x.matmul(w[c].transpose(0, 1)));
                }
                Tensor[] ys = new Tensor[copies];
                GpuReplay all = gpu.capture(() -> {
                    for (int i = 0; i < copies; i++) ys[i] = x.matmul(w[i].transpose(0, 1));
                });
                double perRun = seconds(gpu, one);
                double perAll = seconds(gpu, new GpuReplay[]{all}) / copies;
                results[mode] = y[0].toDoubleArray();
                double gbOne = wBytes / perRun / 1e9, gbAll = wBytes / perAll / 1e9;
                rows.add(String.format("%-5s %-14s %3d | %-8s %9.1f %7.0f %4.0f%% | %9.1f %7.0f %4.0f%% | %s", t,
                        "[" + m + "," + k + "]", copies, labels[mode], perRun * 1e6, gbOne,
                        100 * gbOne * 1e9 / HBM_BYTES_PER_S, perAll * 1e6, gbAll, 100 * gbAll * 1e9 / HBM_BYTES_PER_S,
                        mode == 0 ? "" : String.format("%.2e", relDiff(results[0], results[1]))));
            }
        }
        return rows;
    }

    /** x[n, k] @ W^T (W [m, k]) as one replayed product: scalar 64x64 tiles against tensor cores. */
    private static List<String> prefill(GpuBackend gpu, DType t, long n, long k, long m) {
        List<String> rows = new ArrayList<>();
        try (TensorScope s = TensorScope.open(gpu)) {
            Tensor w = s.randn(200, t, m, k).mul(0.05);
            Tensor x = s.randn(201, t, n, k);
            s.sync();
            double[][] results = new double[2][];
            String[] labels = {"scalar tiles", "mma"};
            for (int mode = 0; mode < 2; mode++) {
                FamilyTasks.tensorCores = mode == 1;
                Tensor[] y = new Tensor[1];
                GpuReplay r = gpu.capture(() -> y[0] = x.matmul(w.transpose(0, 1)));
                double sec = seconds(gpu, new GpuReplay[]{r});
                results[mode] = y[0].toDoubleArray();
                rows.add(String.format("%-5s %-22s | %-12s %9.1f %8.2f | %s", t, "[" + n + "," + k + "]x[" + m + ","
                                + k + "]^T", labels[mode], sec * 1e6, 2.0 * n * k * m / sec / 1e12,
                        mode == 0 ? "" : String.format("%.2e", relDiff(results[0], results[1]))));
                System.out.println(rows.getLast());
            }
        }
        return rows;
    }

    /** Seconds per run of the replays, run in rotation after a warm-up; as many runs as fit about 0.3 s. */
    static double seconds(GpuBackend gpu, GpuReplay[] replays) {
        for (GpuReplay r : replays) r.run();
        gpu.sync();
        long t0 = System.nanoTime();
        for (GpuReplay r : replays) r.run();
        gpu.sync();
        double first = (System.nanoTime() - t0) / 1e9 / replays.length;
        int runs = (int) Math.max(2L * replays.length, Math.min(4000, (long) (0.3 / first)));
        t0 = System.nanoTime();
        for (int i = 0; i < runs; i++) replays[i % replays.length].run();
        gpu.sync();
        return (System.nanoTime() - t0) / 1e9 / runs;
    }

    static double relDiff(double[] a, double[] b) {
        double d = 0, mag = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
            mag = Math.max(mag, Math.abs(a[i]));
        }
        return mag == 0 ? d : d / mag;
    }
}
