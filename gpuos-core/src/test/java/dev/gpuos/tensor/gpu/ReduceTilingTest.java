package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** How reductions are cut into tiles: warps for many short rows, blocks for long rows or very few rows. */
class ReduceTilingTest {
    /** Tiles of a reduction over {@code rows} rows of {@code len} elements, as FamilyTasks.reduce cuts them. */
    private static int tiles(long rows, long len) {
        boolean block = FamilyTasks.reduceBlockTeams(rows, len);
        return Dims.tiling(rows, block ? 1 : FamilyTasks.WARPS_PER_BLOCK)[1];
    }

    @Test
    void theIssuesSmallReductionsAreWarpTiles() {
        // W4: 1000 x sum(dim=-1) over these shapes; 8 rows a tile.
        assertEquals(1, tiles(8, 256));
        assertEquals(4, tiles(32, 128));
        assertEquals(8, tiles(64, 512));
        assertEquals(16, tiles(128, 1024));
    }

    @Test
    void longRowsAndSingleRowsKeepWholeBlocks() {
        assertTrue(FamilyTasks.reduceBlockTeams(1, 1024), "one row of 1024: a block, not one warp");
        assertTrue(FamilyTasks.reduceBlockTeams(1000, 4096), "long rows: a block each");
        assertEquals(1000, tiles(1000, 4096));
        assertFalse(FamilyTasks.reduceBlockTeams(1, 100), "short single rows: one warp");
    }

    @Test
    void everyRowIsInExactlyOneTile() {
        SplittableRandom random = new SplittableRandom(20261125);
        for (int i = 0; i < 2000; i++) {
            long seed = random.nextLong();
            SplittableRandom r = new SplittableRandom(seed);
            long rows = 1 + r.nextLong(1 << 20), len = 1 + r.nextLong(1 << 16);
            boolean block = FamilyTasks.reduceBlockTeams(rows, len);
            int[] t = Dims.tiling(rows, block ? 1 : FamilyTasks.WARPS_PER_BLOCK);
            assertTrue((long) t[0] * t[1] >= rows && (long) t[0] * (t[1] - 1) < rows,
                    "seed " + seed + ": rows " + rows + " tile " + t[0] + " x " + t[1]);
        }
    }
}
