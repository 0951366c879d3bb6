package dev.gpuos.tensor.gpu;

import org.junit.jupiter.api.Test;

import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_GEMV;
import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_SKINNY_K;
import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_SKINNY_M;
import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_TILED;
import static dev.gpuos.tensor.gpu.FamilyTasks.SKINNY_UNITS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which path of matmul.cu a product takes and how it is cut into units (no GPU needed). */
class MatmulPlanTest {
    /**
     * {path, units, span, warpCols} on the skinny paths (M_GEMV off); the units of each batch cover its columns,
     * each unit at least one column.
     */
    private static long[] plan(long batches, long rows, long inner, long cols, long bk) {
        return covered(FamilyTasks.matmulPlan(batches, rows, inner, cols, 1, bk, true, false, false), batches, cols);
    }

    /** As {@link #plan}, with M_GEMV on, for a with k-stride {@code ak}. */
    private static long[] gemvPlan(long batches, long rows, long inner, long cols, long ak, long bk) {
        return covered(FamilyTasks.matmulPlan(batches, rows, inner, cols, ak, bk, true, true, false), batches, cols);
    }

    private static long[] covered(long[] p, long batches, long cols) {
        if (p[0] != PATH_TILED) {
            long perBatch = p[1] / batches;
            assertEquals(p[1], perBatch * batches, "units are whole batches");
            assertTrue(perBatch * p[2] >= cols && (perBatch - 1) * p[2] < cols, "units cover the columns exactly once");
        }
        return p;
    }

    @Test
    void decodeWithATransposedWeightStreamsItOverEveryBlock() {
        // x[1, 2048] @ W^T, W [8192, 2048] (HF Linear layout): b's k-stride is 1.
        long[] p = plan(1, 1, 2048, 8192, 1);
        assertEquals(PATH_SKINNY_K, p[0]);
        assertEquals(4, p[3], "a warp takes 4 columns at a time");
        assertEquals(0, p[2] % 32, "a unit is whole groups of 8 warps x 4 columns");
        assertTrue(p[1] >= SKINNY_UNITS * 9 / 10 && p[1] <= SKINNY_UNITS, "units: " + p[1]);
        // W [2048, 8192]: 2048 columns, one column per warp.
        p = plan(1, 1, 8192, 2048, 1);
        assertArrayEquals(new long[]{PATH_SKINNY_K, 256, 8, 1}, p);
        // The Llama-3 head: 128256 columns.
        p = plan(1, 1, 2048, 128256, 1);
        assertEquals(PATH_SKINNY_K, p[0]);
        assertTrue(p[1] <= SKINNY_UNITS, "units: " + p[1]);
    }

    @Test
    void oneDecodeRowTakesTheMatrixVectorPathWithEveryWarpsColumnsAtOnce() {
        // Llama-3.2-1B's decode products (x [1, k] @ W^T, W [m, k]): {path, units, columns a unit, a warp at once}.
        // Every unit's columns are the 8 warps' concurrent columns (q/k/v: 2 a warp, not 16 a warp in turn), and
        // the units fill the worker's 264 blocks once (lm_head's 251 units of 512 columns: 16 rounds of 4).
        assertArrayEquals(new long[]{PATH_GEMV, 192, 16, 2}, gemvPlan(1, 1, 2048, 3072, 1, 1), "q/k/v stacked");
        assertArrayEquals(new long[]{PATH_GEMV, 256, 8, 1}, gemvPlan(1, 1, 2048, 2048, 1, 1), "o");
        assertArrayEquals(new long[]{PATH_GEMV, 256, 64, 4}, gemvPlan(1, 1, 2048, 16384, 1, 1), "gate/up stacked");
        assertArrayEquals(new long[]{PATH_GEMV, 256, 8, 1}, gemvPlan(1, 1, 8192, 2048, 1, 1), "down");
        assertArrayEquals(new long[]{PATH_GEMV, 251, 512, 4}, gemvPlan(1, 1, 2048, 128256, 1, 1), "lm_head");
        // 3 columns a warp would be needed: the operator has 4
        assertArrayEquals(new long[]{PATH_GEMV, 165, 32, 4}, gemvPlan(1, 1, 64, 264 * 20, 1, 1));
        // A strided x, a row-major weight, or more than one row: the skinny paths, as with M_GEMV off.
        assertEquals(PATH_SKINNY_K, gemvPlan(1, 1, 2048, 2048, 3, 1)[0], "x with k-stride 3");
        assertEquals(PATH_SKINNY_M, gemvPlan(1, 1, 2048, 2048, 1, 2048)[0], "row-major weight");
        assertEquals(PATH_SKINNY_K, gemvPlan(1, 2, 2048, 2048, 1, 1)[0], "two rows");
        assertEquals(PATH_GEMV, gemvPlan(1, 1, 1, 7, 5, 3)[0], "one inner element: any strides are k-contiguous");
        assertArrayEquals(new long[]{PATH_GEMV, 1000, 8, 1}, gemvPlan(1000, 1, 64, 5, 1, 1), "one unit per batch");
        assertArrayEquals(new long[]{PATH_TILED, 32, 0, 0},
                FamilyTasks.matmulPlan(1, 1, 2048, 2048, 1, 1, false, true, false), "the skinny switch off");
    }

    @Test
    void rowMajorAndOddStridesTakeTheColumnPerLanePath() {
        long[] p = plan(1, 4, 512, 1000, 1000);
        assertEquals(PATH_SKINNY_M, p[0]);
        assertEquals(0, p[2] % 32, "a unit is whole warps of columns");
        assertEquals(PATH_SKINNY_M, plan(1, 1, 5, 7, 3)[0]);
        // One inner element: b's k-stride is irrelevant, the k-contiguous path reads element 0 of each column.
        assertEquals(PATH_SKINNY_K, plan(1, 1, 1, 7, 3)[0]);
    }

    @Test
    void manyBatchesGiveOneUnitPerBatch() {
        long[] p = plan(1000, 1, 64, 100, 1);
        assertEquals(PATH_SKINNY_K, p[0]);
        assertEquals(1000, p[1]);
        assertEquals(128, p[2], "100 columns rounded up to 8 warps x 4");
    }

    @Test
    void moreThanSixteenRowsOrTheSwitchOffUseTiles() {
        assertArrayEquals(new long[]{PATH_TILED, 2 * 3 * 2, 0, 0}, plan(2, 130, 64, 100, 1));
        assertArrayEquals(new long[]{PATH_TILED, 1, 0, 0}, plan(1, 17, 64, 64, 1));
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0}, FamilyTasks.matmulPlan(1, 17, 64, 64, 1, 1, true, true, true));
        assertEquals(PATH_SKINNY_K, plan(1, 16, 64, 64, 1)[0], "16 rows are still skinny");
        assertArrayEquals(new long[]{PATH_TILED, 128, 0, 0}, FamilyTasks.matmulPlan(1, 1, 2048, 8192, 1, 1, false, true, false));
        assertEquals(0, FamilyTasks.matmulPlan(1, 1, 64, 0, 1, 1, true, true, false)[1], "no columns, no units");
    }

    /**
     * -Dgpuos.matmul.tensorCores=true: tensor-core products with both operands k-contiguous take M_MMA_ASYNC in
     * M_MMA's units (BERT 32 x 128 tokens' q/k/v: 64 x 18 units), or M_MMA_ROWS from 17 to 32 rows; any other
     * layout, and skinny ones, as before.
     */
    @Test
    void kContiguousTensorCoreProductsTakeTheAsyncTilesOnlyWhenAsked() {
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ASYNC, 64 * 18, 0, 0},
                FamilyTasks.matmulPlan(1, 4096, 384, 1152, 1, 1, true, true, true, true), "BERT q/k/v");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ASYNC, 32, 0, 0},
                FamilyTasks.matmulPlan(1, 33, 2048, 2048, 1, 1, true, true, true, true), "33 rows: 64-row units");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ASYNC, 3, 0, 0},
                FamilyTasks.matmulPlan(3, 40, 1, 64, 5, 9, true, true, true, true), "k = 1: any strides");
        // 17-32 rows (a Llama prefill of 32 tokens): 8 columns a unit, 16 where that still gives every block one
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ROWS, 256, 1, 0},
                FamilyTasks.matmulPlan(1, 32, 2048, 2048, 1, 1, true, true, true, true), "o");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ROWS, 384, 1, 0},
                FamilyTasks.matmulPlan(1, 32, 2048, 3072, 1, 1, true, true, true, true), "q/k/v");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ROWS, 1024, 2, 0},
                FamilyTasks.matmulPlan(1, 32, 2048, 16384, 1, 1, true, true, true, true), "gate/up");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA_ROWS, 256, 1, 0},
                FamilyTasks.matmulPlan(1, 17, 8192, 2048, 1, 1, false, true, true, true), "down, 17 rows, skinny off");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0},
                FamilyTasks.matmulPlan(1, 32, 64, 64, 1, 64, true, true, true, true), "32 rows, row-major b");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0},
                FamilyTasks.matmulPlan(1, 17, 64, 64, 1, 1, true, true, true, false), "the switch off");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0},
                FamilyTasks.matmulPlan(1, 17, 64, 64, 1, 64, true, true, true, true), "row-major b");
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0},
                FamilyTasks.matmulPlan(1, 17, 64, 64, 17, 1, true, true, true, true), "a transposed");
        assertArrayEquals(new long[]{PATH_TILED, 1, 0, 0},
                FamilyTasks.matmulPlan(1, 17, 64, 64, 1, 1, true, true, false, true), "no tensor cores (F32)");
        assertEquals(PATH_GEMV, FamilyTasks.matmulPlan(1, 1, 2048, 2048, 1, 1, true, true, true, true)[0], "decode");
        assertEquals(PATH_SKINNY_K, FamilyTasks.matmulPlan(1, 16, 384, 384, 1, 1, true, true, true, true)[0],
                "16 rows");
    }
}
