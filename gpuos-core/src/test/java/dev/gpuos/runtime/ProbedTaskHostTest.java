package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The agent's short path for a probed task (worker.cu: probe_stageable, probed_slot_vector) runs on the HOST: nvcc
 * compiles worker.cu into the harness {@code probed_task_host.cu}, which checks the verdict on random
 * descriptors, each with at most one defect (an expansion header, another seq, tile, dep or operand counts out of
 * range, a broken ticket prefix sum, a later dep, tiles beyond the tile map), and the device-ring copy against the
 * one the general path leaves. A descriptor the short path took wrongly would be published unvalidated; one it
 * copied wrongly would hand an operator a stale pointer. Skips without nvcc.
 */
class ProbedTaskHostTest {
    @Test
    void probedTasksTakeTheShortPathExactlyWhenValidAndAreCopiedAsTheGeneralPathCopiesThem() throws Exception {
        Path binary = WorkerHostHarness.build("probed_task_host.cu");
        for (long seed : new long[]{1, 2, 3}) {
            String out = WorkerHostHarness.run(binary, seed, 20_000);
            Matcher m = Pattern.compile("cases (\\d+) short (\\d+) rejected (\\d+)").matcher(out);
            assertTrue(m.find(), "seed " + seed + ": " + out);
            assertEquals(20_000, Integer.parseInt(m.group(1)), out);
            // About a third of the cases carry no defect and fit; every defect kind is common.
            assertTrue(Integer.parseInt(m.group(2)) > 2_000, "seed " + seed + ": too few short-path tasks: " + out);
            assertTrue(Integer.parseInt(m.group(3)) > 8_000, "seed " + seed + ": too few rejections: " + out);
        }
    }
}
