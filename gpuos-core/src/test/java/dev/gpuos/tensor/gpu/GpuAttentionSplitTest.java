package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attention.cu's split S ({@link FamilyTasks#splitS}, on for this class whatever -Dgpuos.attention.splitS says)
 * against the CPU backend and against the one-tile-a-row path of the same GPU: every floating dtype, few query rows
 * (where the plan splits; each shape asserts it does), S across chunk edges, value rows of 1 to 512, no bias, a
 * bias [S] with a chunk masked whole and [L, S]; then Llama-3.2-1B's decode shape (8 KV heads x 4, a static cache
 * of 4096 masked past the position) captured once and replayed at growing positions, which reuses the task's
 * counters and partials on every run, down to one live key and none (NaN).
 */
@Tag("gpu")
class GpuAttentionSplitTest extends SharedGpuOS {
    static GpuBackend gpu;
    static boolean splitWas;

    @BeforeAll
    static void backend() {
        gpu = new GpuBackend(os);
        splitWas = FamilyTasks.splitS;
    }

    @AfterAll
    static void restore() {
        FamilyTasks.splitS = splitWas;
    }

    @Test
    void splitRowsMatchTheCpuAndTheOneTilePath() {
        // {batch, L, S, E, Ev}
        long[][] shapes = {{32, 1, 1024, 64, 64}, {32, 1, 4096, 64, 64}, {1, 1, 257, 8, 512}, {2, 3, 1500, 16, 300},
                {4, 1, 700, 5, 7}, {1, 1, 513, 64, 1}, {8, 2, 2048, 64, 128}};
        int trial = 0;
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16, DType.F64}) {
            double tol = ToleranceTable.accumulating(t);
            for (long[] sh : shapes) {
                long nb = sh[0], l = sh[1], s = sh[2], e = sh[3], ev = sh[4];
                assertTrue(FamilyTasks.attentionSplit(nb * l, s, true)[0] > 1, Arrays.toString(sh) + " is not split");
                LayoutKind kind = trial % 2 == 0 ? LayoutKind.CONTIGUOUS : LayoutKind.STRIDED;
                long seed = 900 + trial++;
                SplittableRandom r = new SplittableRandom(seed);
                String ctx = t + " " + Arrays.toString(sh) + " " + kind + " seed " + seed;
                try (Twins tw = new Twins(gpu)) {
                    Twin q = tw.random(r, t, new long[]{nb, l, e}, false, kind);
                    Twin k = tw.random(r, t, new long[]{nb, s, e}, false, kind);
                    Twin v = tw.random(r, t, new long[]{nb, s, ev}, false, kind);
                    double[] mask = new double[(int) s];
                    for (int i = 256; i < Math.min(s, 512); i++) mask[i] = Double.NEGATIVE_INFINITY;  // chunk 1 whole
                    Twin[] biases = {null, tw.upload(t, new long[]{s}, mask), tw.random(r, t, new long[]{l, s}, false, kind)};
                    double scale = 1 / Math.sqrt(e);
                    for (Twin b : biases) {
                        String c = ctx + (b == null ? " no bias" : " bias " + b.shape().length + "d");
                        Tensor bc = b == null ? null : b.cpu(), bd = b == null ? null : b.dev();
                        FamilyTasks.splitS = false;
                        Tensor one = q.dev().attention(k.dev(), v.dev(), bd, scale);
                        one.toDoubleArray();
                        FamilyTasks.splitS = true;
                        Twin split = new Twin(q.cpu().attention(k.cpu(), v.cpu(), bc, scale),
                                q.dev().attention(k.dev(), v.dev(), bd, scale));
                        Twins.assertClose(split, tol, tol, c + ": split vs CPU");
                        Twins.assertClose(new Twin(one, split.dev()), tol, tol, c + ": split vs one tile a row");
                    }
                } finally {
                    FamilyTasks.splitS = true;
                }
            }
        }
    }

    /** LlamaModel's decode attention (q, keys, mask f32; values BF16, F16 or F32) replayed at growing positions. */
    @Test
    void llamaDecodeStepReplayedAtGrowingPositions() {
        for (DType vt : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            FamilyTasks.splitS = true;
            SplittableRandom r = new SplittableRandom(78);
            long kvh = 8, rep = 4, s = 4096, d = 64;
            assertEquals(8, FamilyTasks.attentionSplit(kvh * rep, s, true)[0], "Llama's 32 heads at S = 4096");
            double tol = ToleranceTable.accumulating(vt);
            try (Twins tw = new Twins(gpu)) {
                Twin q = tw.random(r, DType.F32, new long[]{kvh, rep, 1, d}, false, LayoutKind.CONTIGUOUS);
                Twin k = tw.random(r, DType.F32, new long[]{kvh, 1, s, d}, false, LayoutKind.CONTIGUOUS)
                        .map(x -> x.expand(kvh, rep, s, d));
                Twin v = tw.random(r, vt, new long[]{kvh, 1, s, d}, false, LayoutKind.CONTIGUOUS)
                        .map(x -> x.expand(kvh, rep, s, d));
                Twin bias = tw.upload(DType.F32, new long[]{s}, new double[(int) s]);
                GpuReplay replay = gpu.captureReturning(() -> List.of(q.dev().attention(k.dev(), v.dev(), bias.dev(), 0.125)));
                // positions in one chunk, across the split's edges, the whole cache, one key, then none (NaN)
                for (int pos : new int[]{100, 511, 512, 1500, 4095, 0, 2600, -1}) {
                    double[] mask = new double[(int) s];
                    for (int i = pos + 1; i < s; i++) mask[i] = Double.NEGATIVE_INFINITY;
                    Twin now = tw.upload(DType.F32, new long[]{s}, mask);
                    bias.dev().copyFrom(now.dev());
                    replay.run();
                    Tensor got = replay.outputs().getFirst();
                    if (pos < 0) {
                        for (double x : got.toDoubleArray()) assertTrue(Double.isNaN(x), vt + ": every key masked: NaN, got " + x);
                        continue;
                    }
                    Tensor expected = q.cpu().attention(k.cpu(), v.cpu(), now.cpu(), 0.125);
                    Twins.assertClose(new Twin(expected, got), tol, tol, vt + " values: replayed at position " + pos);
                }
                replay.close();
            }
        }
    }
}
