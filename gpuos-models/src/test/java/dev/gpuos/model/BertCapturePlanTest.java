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
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BERT's forward pass captured per batch shape (batch x padded length) and replayed. On the GPU backend's host
 * path (the simulated device, whose operators do nothing) a later batch of a seen shape compiles nothing and makes
 * the same two submissions (the ids' copy into the capture's input, the replay), whatever the host's timing: the
 * backend here cuts a recording after 20 us, so a recorded pass would be cut many times, at points that differ
 * per batch. On the CPU backend, where values are exact, the captured pass must compute what the recorded one
 * does, bit for bit.
 */
class BertCapturePlanTest {
    record Seen(long submissions, long tasks, List<String> compiled) {}

    /** {@code b} texts of random ids, the longest {@code t} tokens ([CLS] .. [SEP]); the others shorter (padding). */
    static int[][] batch(SplittableRandom rnd, int b, int t) {
        int[][] ids = new int[b][];
        for (int i = 0; i < b; i++) {
            int len = i == 0 ? t : 3 + rnd.nextInt(t - 2);
            ids[i] = new int[len];
            ids[i][0] = 2;
            for (int j = 1; j < len - 1; j++) ids[i][j] = 5 + rnd.nextInt(590);
            ids[i][len - 1] = 3;
        }
        return ids;
    }

    @Test
    void laterBatchesOfOneShapeCompileNothingAndMakeTwoSubmissions() {
        assertTrue(BertEncoder.capture, "-Dgpuos.bert.capture=false: this test checks the captured pass");
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(2))) {
            GpuBackend gpu = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofNanos(20_000));
            try (BertEncoder enc = BertEncoder.load(ModelTestAccess.fixture("bert-tiny"), gpu, LoadProgress.NONE)) {
                SplittableRandom rnd = new SplittableRandom(7);
                int[][] shapes = {{1, 16}, {3, 12}};
                List<List<Seen>> seen = new ArrayList<>();
                for (int[] s : shapes) seen.add(new ArrayList<>());
                for (int round = 0; round < 5; round++) {
                    for (int k = 0; k < shapes.length; k++) {
                        GpuBackend.Stats a = gpu.stats();
                        int compiled = gpu.operatorsCompiled().size();
                        float[][] e = enc.embedIds(batch(rnd, shapes[k][0], shapes[k][1]));
                        assertEquals(shapes[k][0], e.length);
                        assertTrue(enc.mode().startsWith("replayed"), enc.mode());
                        GpuBackend.Stats b = gpu.stats();
                        seen.get(k).add(new Seen(b.submissions() - a.submissions(), b.tasks() - a.tasks(),
                                List.copyOf(gpu.operatorsCompiled().subList(compiled, gpu.operatorsCompiled().size()))));
                    }
                }
                for (int k = 0; k < shapes.length; k++) {
                    List<Seen> s = seen.get(k);
                    // the first batch of a shape captures (and may compile); every later one is the same replay
                    for (int round = 1; round < s.size(); round++) {
                        String where = shapes[k][0] + " x " + shapes[k][1] + ", batch " + round + ": " + s;
                        assertEquals(List.of(), s.get(round).compiled(), "operators compiled, " + where);
                        assertEquals(s.get(1).tasks(), s.get(round).tasks(), "tasks, " + where);
                        assertEquals(2, s.get(round).submissions(), "submissions, " + where);
                    }
                }
                // a bounded cache: the least recently used shape is given back once more than SHAPES are seen
                for (int t = 4; t < 4 + BertEncoder.SHAPES; t++) enc.embedIds(batch(rnd, 2, t));
                List<Long> kept = enc.capturedShapes();
                assertEquals(BertEncoder.SHAPES, kept.size(), kept.toString());
                assertFalse(kept.contains(1L << 32 | 16) || kept.contains(3L << 32 | 12), "the oldest shapes were given back: " + kept);
                // and captured again when it comes back, into the operators already compiled
                int compiled = gpu.operatorsCompiled().size();
                enc.embedIds(batch(rnd, 1, 16));
                assertEquals(compiled, gpu.operatorsCompiled().size(), "a shape captured again compiles nothing");
                assertTrue(enc.capturedShapes().contains(1L << 32 | 16));
            }
        }
    }

    /**
     * The capture's bookkeeping (ids and lengths written into its input before each run, padding masks made from
     * the lengths on the backend, captures kept per shape and given back) against the recorded pass: a CPU capture
     * calls the program again at every run, so hidden states and embeddings must be the recorded ones bit for bit.
     */
    @Test
    void aCapturedForwardComputesWhatTheRecordedOneDoes() {
        List<float[]> recorded = run(false), captured = run(true);
        assertEquals(recorded.size(), captured.size());
        for (int i = 0; i < recorded.size(); i++) assertArrayEquals(recorded.get(i), captured.get(i), "output " + i);
    }

    private static List<float[]> run(boolean captured) {
        BertEncoder.captureOnEveryBackend = captured;
        try (BertEncoder enc = BertEncoder.load(ModelTestAccess.fixture("bert-tiny"), CpuBackend.eager(), LoadProgress.NONE)) {
            SplittableRandom rnd = new SplittableRandom(11);
            List<float[]> out = new ArrayList<>();
            // the same shapes again with other ids and lengths (a kept capture must run on the new ones), and more
            // shapes than are kept (an evicted shape captured again)
            int[][] shapes = {{1, 16}, {3, 12}, {1, 16}, {3, 12}, {2, 5}, {2, 6}, {2, 7}, {2, 8}, {2, 9}, {2, 10}, {2, 11}, {1, 16}, {3, 12}};
            for (int[] s : shapes) {
                BertEncoder.Output o = enc.forward(batch(rnd, s[0], s[1]));
                assertEquals(captured, enc.mode().startsWith("replayed"), enc.mode());
                out.add(o.lastHiddenState());
                for (float[] e : o.embeddings()) out.add(e);
            }
            return out;
        } finally {
            BertEncoder.captureOnEveryBackend = false;
        }
    }
}
