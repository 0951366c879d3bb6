package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * matmul.cu's M_MMA_ASYNC (tensor cores, cp.async staging, ldmatrix) and M_MMA_ROWS (17-32 rows: narrow units, k
 * split over the warps, fragments from global memory), planned only with {@code -Dgpuos.matmul.tensorCores=true}
 * (on here for the class), against the CPU backend in BF16 and F16: products of more rows than the skinny paths
 * take, with k across several 32-wide stages or chunks and ragged in the last, rows and columns past one unit and
 * ragged, M_MMA_ROWS with 8 and 16 columns a unit; x @ W^T with W in the HF Linear layout (the path's case), aligned rows
 * of a wider weight, x as rows of a wider tensor, a batched x over a broadcast W^T and a batch of W^Ts; and the
 * operands it hands to M_MMA's code in the same task (W's rows off 16-byte alignment, k = 7 in contiguous rows)
 * and a row-major B (planned on M_MMA). Shapes of batched BERT (MiniLM: hidden 384, FFN 1536) and a Llama prefill
 * (32 rows over 2048) with fewer rows or columns where the CPU reference would be slow. Seeds in every message.
 */
@Tag("gpu")
class GpuTensorCoreMatmulTest extends SharedGpuOS {
    static GpuBackend gpu;
    private static boolean skinnyWas, tensorCoresWas, asyncWas;

    @BeforeAll
    static void backend() {
        skinnyWas = FamilyTasks.skinny;
        tensorCoresWas = FamilyTasks.tensorCores;
        asyncWas = FamilyTasks.asyncTensorCores;
        FamilyTasks.skinny = true;
        FamilyTasks.tensorCores = true;
        FamilyTasks.asyncTensorCores = true;
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void restorePaths() {
        FamilyTasks.skinny = skinnyWas;
        FamilyTasks.tensorCores = tensorCoresWas;
        FamilyTasks.asyncTensorCores = asyncWas;
    }

    private static final DType[] HALVES = {DType.BF16, DType.F16};

    /** {n, k, m}: ragged edges around 64-wide units and 32-wide k stages, and the models' shapes. */
    private static final long[][] SHAPES = {
            {17, 8, 8}, {17, 40, 70}, {20, 600, 70}, {31, 44, 9},   // M_MMA_ROWS: 8 columns a unit
            {32, 256, 4500},    // M_MMA_ROWS, 16 columns a unit
            {33, 600, 9}, {64, 64, 64}, {100, 72, 130}, {130, 384, 200},
            {256, 384, 1152},   // BERT q/k/v (rows cut from 4096)
            {128, 1536, 384},   // BERT FFN down
            {32, 2048, 512},    // Llama prefill, 32 tokens (columns cut from 2048-8192)
    };

    @Test
    void linearLayoutProductsMatchTheCpu() {
        for (DType t : HALVES) {
            for (long[] s : SHAPES) {
                long n = s[0], k = s[1], m = s[2];
                long[] plan = FamilyTasks.matmulPlan(1, n, k, m, 1, 1, true, true, true, true);
                assertEquals(n <= FamilyTasks.MMA_ROWS ? FamilyTasks.PATH_MMA_ROWS : FamilyTasks.PATH_MMA_ASYNC, plan[0],
                        "x @ W^T's plan");
                long seed = 31_000 + t.ordinal() * 100_000L + n * 1000 + k + m;
                SplittableRandom r = new SplittableRandom(seed);
                double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(k + 1);
                String ctx = t + " n " + n + " k " + k + " m " + m + " seed " + seed;
                try (Twins tw = new Twins(gpu)) {
                    Twin x = tw.random(r, t, new long[]{n, k}, false, LayoutKind.CONTIGUOUS);
                    Twin w = tw.random(r, t, new long[]{m, k}, false, LayoutKind.CONTIGUOUS).map(v -> v.transpose(0, 1));
                    check(x, w, rtol, atol, "x @ W^T " + ctx);
                    if (n * k * m > 20_000_000L) continue;   // the layouts below on the smaller shapes only
                    long pitch = Math.ceilDiv(k, 8) * 8 + 8;
                    Twin padded = tw.random(r, t, new long[]{m, pitch}, false, LayoutKind.CONTIGUOUS)
                            .map(v -> v.slice(1, 0, k).transpose(0, 1));
                    check(x, padded, rtol, atol, "x @ W^T, W's rows 16-byte aligned in a wider tensor " + ctx);
                    Twin xWide = tw.random(r, t, new long[]{n, pitch}, false, LayoutKind.CONTIGUOUS)
                            .map(v -> v.slice(1, 8, 8 + k));
                    check(xWide, w, rtol, atol, "x as columns 8.. of a wider tensor @ W^T " + ctx);
                    Twin shifted = tw.random(r, t, new long[]{m, k + 1}, false, LayoutKind.CONTIGUOUS)
                            .map(v -> v.slice(1, 1, k + 1).transpose(0, 1));
                    check(x, shifted, rtol, atol, "x @ W^T, W's rows off 16-byte alignment (M_MMA's code or element loads) " + ctx);
                    Twin rowMajor = tw.random(r, t, new long[]{k, m}, false, LayoutKind.CONTIGUOUS);
                    check(x, rowMajor, rtol, atol, "x @ B row-major (M_MMA) " + ctx);
                    Twin xs = tw.random(r, t, new long[]{3, n, k}, false, LayoutKind.CONTIGUOUS);
                    Twin shared = tw.random(r, t, new long[]{1, m, k}, false, LayoutKind.CONTIGUOUS)
                            .map(v -> v.transpose(1, 2).expand(3, k, m));
                    check(xs, shared, rtol, atol, "batched x @ broadcast W^T " + ctx);
                    Twin perBatch = tw.random(r, t, new long[]{3, m, k}, false, LayoutKind.CONTIGUOUS)
                            .map(v -> v.transpose(1, 2));
                    check(xs, perBatch, rtol, atol, "batched x @ a W^T per batch " + ctx);
                }
            }
        }
    }

    /**
     * k = 7 in contiguous rows: rows 14 bytes apart, so M_MMA_ASYNC's task runs M_MMA's code and M_MMA_ROWS loads
     * elements; k = 1, any strides.
     */
    @Test
    void operandsTheCopiesCannotTakeMatchTheCpu() {
        for (DType t : HALVES) {
            for (long[] s : new long[][]{{40, 7, 70}, {20, 7, 70}, {20, 1, 33}, {40, 1, 33}}) {
                long n = s[0], k = s[1], m = s[2];
                long seed = 52_000 + t.ordinal() * 1000L + n + k + m;
                SplittableRandom r = new SplittableRandom(seed);
                double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(k + 1);
                try (Twins tw = new Twins(gpu)) {
                    Twin x = tw.random(r, t, new long[]{n, k}, false, LayoutKind.CONTIGUOUS);
                    Twin w = tw.random(r, t, new long[]{m, k}, false, LayoutKind.CONTIGUOUS).map(v -> v.transpose(0, 1));
                    check(x, w, rtol, atol, "x @ W^T " + t + " n " + n + " k " + k + " m " + m + " seed " + seed);
                }
            }
        }
    }

    /** The same product replayed from a capture (the way BertEncoder and the Llama prefill run it) twice. */
    @Test
    void aCapturedProductReplaysTheSameValues() {
        for (DType t : HALVES) {
            long n = 96, k = 384, m = 160, seed = 61_000 + t.ordinal();
            SplittableRandom r = new SplittableRandom(seed);
            double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(k + 1);
            try (Twins tw = new Twins(gpu)) {
                Twin x = tw.random(r, t, new long[]{n, k}, false, LayoutKind.CONTIGUOUS);
                Twin w = tw.random(r, t, new long[]{m, k}, false, LayoutKind.CONTIGUOUS).map(v -> v.transpose(0, 1));
                dev.gpuos.tensor.Tensor[] y = new dev.gpuos.tensor.Tensor[1];
                GpuReplay replay = gpu.capture(() -> y[0] = x.dev().matmul(w.dev()));
                for (int run = 0; run < 2; run++) {
                    replay.run();
                    Twins.assertClose(new Twin(x.cpu().matmul(w.cpu()), y[0]), rtol, atol,
                            "replay " + run + " of x @ W^T " + t + " seed " + seed);
                }
            }
        }
    }

    private static void check(Twin a, Twin b, double rtol, double atol, String ctx) {
        Twins.assertClose(new Twin(a.cpu().matmul(b.cpu()), a.dev().matmul(b.dev())), rtol, atol, ctx);
    }
}
