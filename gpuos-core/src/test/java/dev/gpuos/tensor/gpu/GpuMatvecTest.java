package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

/**
 * Matmul's skinny paths (at most {@link FamilyTasks#SKINNY_ROWS} rows: decode, batch-1 inference; one row with
 * k-stride 1 in both operands takes M_GEMV) against the CPU backend: 1..8 rows and the tiled neighbours (9 and 40 rows: tensor cores for F16/BF16), inner sizes below, at and above one warp's
 * 16-byte sweep and the 8 KB of staged rows (2100 x 4 rows of floats do not fit: k is staged in chunks), column
 * counts that leave partial units and warps. b as a transposed weight (k-stride 1: whole 16-byte loads), the same
 * with aligned rows of a wider weight (16-byte loads and a tail) and with rows off 16-byte alignment (element
 * loads), row-major (m-stride 1) and with neither stride 1; a contiguous and transposed; batched with a broadcast
 * weight. Seeds are in every failure message.
 */
@Tag("gpu")
class GpuMatvecTest extends SharedGpuOS {
    static GpuBackend gpu;
    private static boolean skinnyWas, tensorCoresWas, gemvWas;

    /** The paths under test, on for this class whatever -Dgpuos.matmul.skinny / .mma / .gemv say. */
    @BeforeAll
    static void backend() {
        skinnyWas = FamilyTasks.skinny;
        tensorCoresWas = FamilyTasks.tensorCores;
        gemvWas = FamilyTasks.gemv;
        FamilyTasks.skinny = true;
        FamilyTasks.tensorCores = true;
        FamilyTasks.gemv = true;
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void restorePaths() {
        FamilyTasks.skinny = skinnyWas;
        FamilyTasks.tensorCores = tensorCoresWas;
        FamilyTasks.gemv = gemvWas;
    }

    /**
     * One row over many columns, where M_GEMV gives a warp 2 (3072 columns) or 4 (9000) columns at once, k a whole
     * number of 16-byte groups or not; x contiguous, and x off 16-byte alignment (element loads of x and the
     * weight); each on M_GEMV and, planned with it off, on the skinny path that one-row products took before.
     */
    @Test
    void oneRowOverManyColumnsMatchesTheCpuOnBothPaths() {
        try {
            for (boolean gemv : new boolean[]{true, false}) {
                FamilyTasks.gemv = gemv;
                for (DType t : new DType[]{DType.BF16, DType.F32, DType.F16}) {
                    for (long k : new long[]{2048, 2100}) {
                        for (long m : new long[]{3072, 9000}) {
                            long seed = 7000 + t.ordinal() * 1000L + k + m;
                            SplittableRandom r = new SplittableRandom(seed);
                            double rtol = rtol(t), atol = rtol * 16 * Math.sqrt(k + 1);
                            String ctx = t + " k " + k + " m " + m + " seed " + seed + (gemv ? " (M_GEMV)" : " (skinny)");
                            try (Twins tw = new Twins(gpu)) {
                                Twin weight = tw.random(r, t, new long[]{m, k}, false, LayoutKind.CONTIGUOUS)
                                        .map(w -> w.transpose(0, 1));
                                Twin x = tw.random(r, t, new long[]{1, k}, false, LayoutKind.CONTIGUOUS);
                                check(x, weight, rtol, atol, "x @ W^T " + ctx);
                                Twin shifted = tw.random(r, t, new long[]{1, k + 1}, false, LayoutKind.CONTIGUOUS)
                                        .map(v -> v.slice(1, 1, k + 1));
                                check(shifted, weight, rtol, atol, "x off 16-byte alignment @ W^T " + ctx);
                            }
                        }
                    }
                }
            }
        } finally {
            FamilyTasks.gemv = true;
        }
    }

    private static final long[] ROWS = {1, 2, 3, 4, 5, 8, 9, 16, 17, 40};
    private static final long[] INNER = {1, 7, 300, 2048, 2100};
    private static final long[] COLS = {1, 33, 300};

    /** The bound of GpuBackendOpsTest's matmul: rtol by dtype, atol growing with sqrt(k). */
    private static double rtol(DType t) {
        return ToleranceTable.accumulating(t);
    }

    @Test
    void skinnyProductsMatchTheCpu() {
        DType[] dtypes = {DType.BF16, DType.F32, DType.F16, DType.F64, DType.I64};
        for (DType t : dtypes) {
            for (long n : ROWS) {
                for (long k : INNER) {
                    for (long m : COLS) {
                        long seed = 9000 + t.ordinal() * 100_000L + n * 10_000 + k * 10 + m;
                        trial(t, n, k, m, seed);
                    }
                }
            }
        }
    }

    private static void trial(DType t, long n, long k, long m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double rtol = rtol(t), atol = rtol * 16 * Math.sqrt(k + 1);
        String ctx = t + " n " + n + " k " + k + " m " + m + " seed " + seed;
        try (Twins tw = new Twins(gpu)) {
            Twin x = tw.random(r, t, new long[]{n, k}, false, LayoutKind.CONTIGUOUS);
            Twin weight = tw.random(r, t, new long[]{m, k}, false, LayoutKind.CONTIGUOUS).map(w -> w.transpose(0, 1));
            check(x, weight, rtol, atol, "x @ W^T " + ctx);
            long pitch = Math.ceilDiv(k, 16) * 16;
            Twin padded = tw.random(r, t, new long[]{m, pitch}, false, LayoutKind.CONTIGUOUS)
                    .map(w -> w.slice(1, 0, k).transpose(0, 1));
            check(x, padded, rtol, atol, "x @ W^T, aligned rows of a wider weight (16-byte loads, then a tail) " + ctx);
            Twin shifted = tw.random(r, t, new long[]{m, k + 1}, false, LayoutKind.CONTIGUOUS)
                    .map(w -> w.slice(1, 1, k + 1).transpose(0, 1));
            check(x, shifted, rtol, atol, "x @ W^T, rows off 16-byte alignment " + ctx);
            Twin rowMajor = tw.random(r, t, new long[]{k, m}, false, LayoutKind.CONTIGUOUS);
            check(x, rowMajor, rtol, atol, "x @ B row-major " + ctx);
            if (k * m <= 300 * 33) {
                Twin strided = tw.random(r, t, new long[]{k, m}, false, LayoutKind.STRIDED);
                Twin xT = tw.random(r, t, new long[]{k, n}, false, LayoutKind.CONTIGUOUS).map(v -> v.transpose(0, 1));
                check(xT, strided, rtol, atol, "x^T @ B strided " + ctx);
                Twin xs = tw.random(r, t, new long[]{3, n, k}, false, LayoutKind.CONTIGUOUS);
                Twin shared = tw.random(r, t, new long[]{1, m, k}, false, LayoutKind.CONTIGUOUS)
                        .map(w -> w.transpose(1, 2).expand(3, k, m));
                check(xs, shared, rtol, atol, "batched x @ broadcast W^T " + ctx);
                Twin perBatch = tw.random(r, t, new long[]{3, k, m}, false, LayoutKind.PERMUTED);
                check(xs, perBatch, rtol, atol, "batched x @ permuted B " + ctx);
            }
        }
    }

    private static void check(Twin a, Twin b, double rtol, double atol, String ctx) {
        Twins.assertClose(new Twin(a.cpu().matmul(b.cpu()), a.dev().matmul(b.dev())), rtol, atol, ctx);
    }
}
