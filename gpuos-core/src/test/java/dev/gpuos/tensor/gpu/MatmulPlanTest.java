package dev.gpuos.tensor.gpu;

import org.junit.jupiter.api.Test;

import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_SKINNY_K;
import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_SKINNY_M;
import static dev.gpuos.tensor.gpu.FamilyTasks.PATH_TILED;
import static dev.gpuos.tensor.gpu.FamilyTasks.SKINNY_UNITS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which path of matmul.cu a product takes and how it is cut into units (no GPU needed). */
class MatmulPlanTest {
    /** {path, units, span, warpCols}; the units of each batch cover its columns, each unit at least one column. */
    private static long[] plan(long batches, long rows, long inner, long cols, long bk) {
        long[] p = FamilyTasks.matmulPlan(batches, rows, inner, cols, bk, true, false);
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
        assertArrayEquals(new long[]{FamilyTasks.PATH_MMA, 1, 0, 0}, FamilyTasks.matmulPlan(1, 17, 64, 64, 1, true, true));
        assertEquals(PATH_SKINNY_K, plan(1, 16, 64, 64, 1)[0], "16 rows are still skinny");
        assertArrayEquals(new long[]{PATH_TILED, 128, 0, 0}, FamilyTasks.matmulPlan(1, 1, 2048, 8192, 1, false, false));
        assertEquals(0, FamilyTasks.matmulPlan(1, 1, 64, 0, 1, true, false)[1], "no columns, no units");
    }
}
