package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
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
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    @Test
    void probedTasksTakeTheShortPathExactlyWhenValidAndAreCopiedAsTheGeneralPathCopiesThem() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot build the harness");
        Path binary = build();
        for (long seed : new long[]{1, 2, 3}) {
            String out = run(binary, seed, 20_000);
            Matcher m = Pattern.compile("cases (\\d+) short (\\d+) rejected (\\d+)").matcher(out);
            assertTrue(m.find(), "seed " + seed + ": " + out);
            assertEquals(20_000, Integer.parseInt(m.group(1)), out);
            // About a third of the cases carry no defect and fit; every defect kind is common.
            assertTrue(Integer.parseInt(m.group(2)) > 2_000, "seed " + seed + ": too few short-path tasks: " + out);
            assertTrue(Integer.parseInt(m.group(3)) > 8_000, "seed " + seed + ": too few rejections: " + out);
        }
    }

    private static Path build() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("gpuos-probed-host");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Files.writeString(dir.resolve(WorkerSources.WORKER_NAME), WorkerSources.worker());
        try (InputStream in = ProbedTaskHostTest.class.getResourceAsStream("probed_task_host.cu")) {
            assertTrue(in != null, "resource probed_task_host.cu missing");
            Files.write(dir.resolve("harness.cu"), in.readAllBytes());
        }
        Path exe = dir.resolve("harness");
        Process p = new ProcessBuilder(NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-rdc=true", "-I" + dir,
                "-o", exe.toString(), dir.resolve("harness.cu").toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the probed-task harness:\n" + log);
        return exe;
    }

    private static String run(Path binary, long seed, int cases) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), Long.toString(seed), Integer.toString(cases))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probed-task harness did not finish, seed " + seed);
        assertEquals(0, p.exitValue(), "seed " + seed + ": " + out);
        return out;
    }
}
