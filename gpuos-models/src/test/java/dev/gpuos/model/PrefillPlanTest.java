package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A Llama prefill on the GPU backend's host path (the simulated device, whose operators do nothing): after the
 * first prefill of a shape, another of the same shape compiles no operator and plans the same work, whatever the
 * host's timing. Recorded eagerly, the recording's time bound cut a prefill into submissions wherever the host
 * happened to be after 1 ms, and a new cut could fuse into an operator not compiled before: on the H100 an NVRTC
 * compile and a generation swap inside each timed prefill (GPU run models-4-1: 613-715 ms for 32 tokens). The
 * backend here cuts after 20 us, so an eager prefill would be cut many times, at points that differ per run.
 */
class PrefillPlanTest {
    record Seen(long submissions, long tasks, List<String> compiled) {}

    @Test
    void laterPrefillsOfOneShapeCompileNothingAndPlanTheSameWork() {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(2))) {
            GpuBackend gpu = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofNanos(20_000));
            try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture("llama-tiny-untied-bf16"), gpu, 64, LoadProgress.NONE)) {
                int[] prompt = new int[24];
                for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + 7 * i;
                m.generate(prompt, 5, false, id -> { });   // captures the decode step; leaves cache set 1 current
                List<Seen> seen = new ArrayList<>();
                for (int round = 0; round < 6; round++) {
                    // a generate between prefills (as ModelsBench runs them): its decode steps flip the cache set
                    if (round % 2 == 1) m.generate(prompt, 2, false, id -> { });
                    GpuBackend.Stats a = gpu.stats();
                    int compiled = gpu.operatorsCompiled().size();
                    m.reset();
                    m.nextToken(prompt);
                    assertEquals(prompt.length, m.position());
                    GpuBackend.Stats b = gpu.stats();
                    seen.add(new Seen(b.submissions() - a.submissions(), b.tasks() - a.tasks(),
                            List.copyOf(gpu.operatorsCompiled().subList(compiled, gpu.operatorsCompiled().size()))));
                }
                // rounds 0 and 1 may plan the two cache sets' prefills; every later one is the same replay
                for (int round = 2; round < seen.size(); round++) {
                    Seen s = seen.get(round);
                    assertEquals(List.of(), s.compiled(), "operators compiled by prefill " + round + ": " + seen);
                    assertEquals(seen.get(2).tasks(), s.tasks(), "tasks of prefill " + round + ": " + seen);
                    // the ids' copy into the capture's input, then the replay
                    assertEquals(2, s.submissions(), "submissions of prefill " + round + ": " + seen);
                }
            }
        }
    }

    /**
     * The captured prefill's bookkeeping (the ids written into the capture's input, one capture per cache set,
     * position and length, kept and reused, the position advanced, the cache rows the decode step then reads),
     * on the CPU backend where values are exact: a CPU capture calls the program again at every run, so the
     * logits and tokens must be those of the recorded prefill bit for bit.
     */
    @Test
    void aCapturedPrefillComputesWhatTheRecordedOneDoes() {
        List<float[]> recorded = run(false), captured = run(true);
        assertEquals(recorded.size(), captured.size());
        for (int i = 0; i < recorded.size(); i++) assertArrayEquals(recorded.get(i), captured.get(i), "output " + i);
    }

    private static List<float[]> run(boolean captured) {
        LlamaModel.captureOnEveryBackend = captured;
        try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture("llama-tiny-untied-bf16"), CpuBackend.eager(), 32, LoadProgress.NONE)) {
            assertEquals(captured, m.prefillMode().startsWith("captured"), m.prefillMode());
            List<float[]> out = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                // other ids of the same lengths every round: a kept capture must run on the new ones
                int[] prompt = {5 + round, 17, 29, 41, 53, 65, 77 - round}, more = {9, 99 + round, 199};
                m.reset();
                out.add(m.forwardAll(prompt));                            // position 0, 7 tokens
                out.add(m.forwardAll(more));                              // position 7, 3 tokens
                out.add(new float[]{m.nextToken(new int[]{3 + round})});  // position 10, one token, argmax
                assertEquals(11, m.position());
                int[] g = m.generate(round == 1 ? more : prompt, 4, false, id -> { }).tokens();   // flips the cache set
                float[] tokens = new float[g.length];
                for (int i = 0; i < g.length; i++) tokens[i] = g[i];
                out.add(tokens);
            }
            return out;
        } finally {
            LlamaModel.captureOnEveryBackend = false;
        }
    }
}
