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
 * The agent's staging of a template replay (worker.cu: patch_template_vector,
 * template_task_ok, template_member), runs on the HOST: nvcc compiles worker.cu itself into the harness
 * {@code template_round_host.cu}, which stages random templates in rounds and checks every verdict, run mark and
 * patched header field against a plain reading of the protocol. The simulated device validates expansions in
 * Java, so it could not show a packing bug of the CUDA code: the one this test found (a task with three or more
 * deps whose first was the task just before was rejected as malformed, which aborted the worker on the Llama
 * decode step's first replay). Skips without nvcc.
 */
class TemplateRoundHostTest {
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    @Test
    void templateTasksAreAcceptedMarkedAndPatchedAsTheProtocolSays() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot build the harness");
        Path binary = build();
        for (long seed : new long[]{1, 2, 3}) {
            String out = run(binary, seed, 400);
            Matcher m = Pattern.compile("cases (\\d+) tasks (\\d+) rejected (\\d+) members (\\d+)").matcher(out);
            assertTrue(m.find(), "seed " + seed + ": " + out);
            assertEquals(400, Integer.parseInt(m.group(1)), out);
            // Malformed templates are about half; members and multi-dep chains are common in every seed.
            assertTrue(Integer.parseInt(m.group(3)) > 100, "seed " + seed + ": too few malformed tasks: " + out);
            assertTrue(Integer.parseInt(m.group(4)) > 100, "seed " + seed + ": too few run members: " + out);
        }
    }

    private static Path build() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("gpuos-template-host");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Files.writeString(dir.resolve(WorkerSources.WORKER_NAME), WorkerSources.worker());
        try (InputStream in = TemplateRoundHostTest.class.getResourceAsStream("template_round_host.cu")) {
            assertTrue(in != null, "resource template_round_host.cu missing");
            Files.write(dir.resolve("harness.cu"), in.readAllBytes());
        }
        Path exe = dir.resolve("harness");
        Process p = new ProcessBuilder(NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-rdc=true", "-I" + dir,
                "-o", exe.toString(), dir.resolve("harness.cu").toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the template harness:\n" + log);
        return exe;
    }

    private static String run(Path binary, long seed, int cases) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), Long.toString(seed), Integer.toString(cases))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "template harness did not finish, seed " + seed);
        assertEquals(0, p.exitValue(), "seed " + seed + ": " + out);
        return out;
    }
}
