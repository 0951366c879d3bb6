package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Builds and runs the host harnesses that compile worker.cu itself with nvcc (TemplateRoundHostTest,
 * ProbedTaskHostTest): the worker's sources and headers as WorkerSources renders them, the shared
 * {@code worker_host.h} and the harness in one folder, one nvcc call; a harness takes SEED CASES and prints its
 * counts. Skips the calling test without nvcc.
 */
final class WorkerHostHarness {
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    private WorkerHostHarness() {}

    /** Compiles the test resource {@code harness} (e.g. "probed_task_host.cu") into an executable. */
    static Path build(String harness) throws IOException, InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot build the harness");
        Path dir = Files.createTempDirectory("gpuos-worker-host");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Files.writeString(dir.resolve(WorkerSources.WORKER_NAME), WorkerSources.worker());
        for (String resource : new String[]{"worker_host.h", harness}) {
            try (InputStream in = WorkerHostHarness.class.getResourceAsStream(resource)) {
                assertTrue(in != null, "resource " + resource + " missing");
                Files.write(dir.resolve(resource), in.readAllBytes());
            }
        }
        Path exe = dir.resolve("harness");
        Process p = new ProcessBuilder(NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-rdc=true", "-I" + dir,
                "-o", exe.toString(), dir.resolve(harness).toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish on " + harness);
        assertEquals(0, p.exitValue(), "nvcc rejected " + harness + ":\n" + log);
        return exe;
    }

    /** Runs a built harness on {@code cases} cases from {@code seed}; returns what it printed (exit status 0). */
    static String run(Path binary, long seed, int cases) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), Long.toString(seed), Integer.toString(cases))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "harness " + binary + " did not finish, seed " + seed);
        assertEquals(0, p.exitValue(), "seed " + seed + ": " + out);
        return out;
    }
}
