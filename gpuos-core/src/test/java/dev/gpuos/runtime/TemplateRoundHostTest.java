package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    @Test
    void templateTasksAreAcceptedMarkedAndPatchedAsTheProtocolSays() throws Exception {
        Path binary = WorkerHostHarness.build("template_round_host.cu");
        for (long seed : new long[]{1, 2, 3}) {
            String out = WorkerHostHarness.run(binary, seed, 400);
            Matcher m = Pattern.compile("cases (\\d+) tasks (\\d+) rejected (\\d+) members (\\d+)").matcher(out);
            assertTrue(m.find(), "seed " + seed + ": " + out);
            assertEquals(400, Integer.parseInt(m.group(1)), out);
            // Malformed templates are about half; members and multi-dep chains are common in every seed.
            assertTrue(Integer.parseInt(m.group(3)) > 100, "seed " + seed + ": too few malformed tasks: " + out);
            assertTrue(Integer.parseInt(m.group(4)) > 100, "seed " + seed + ": too few run members: " + out);
        }
    }
}
