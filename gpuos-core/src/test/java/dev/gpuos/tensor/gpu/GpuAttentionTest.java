package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.UnsupportedOnBackendException;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attention.cu against the CPU backend: every floating dtype; one query row (decode) and several; S below, at and
 * above one chunk of 256 keys (the running maximum and sum across chunks); value rows of 64 (4 thread groups a
 * column), 300 and 512 (one group, threads owning several columns); contiguous, strided and permuted operands;
 * keys and values of a KV head expanded over its query heads (LlamaModel's grouped-query attention); no bias, a
 * bias [S] and [L, S] broadcast; a row masked whole (NaN) and a chunk masked whole before live keys; the op in a
 * replayed capture. Value rows wider than 512 are refused with the reason.
 */
@Tag("gpu")
class GpuAttentionTest extends SharedGpuOS {
    static GpuBackend gpu;

    @BeforeAll
    static void backend() {
        gpu = new GpuBackend(os);
    }

    private static double rtol(DType t) {
        return ToleranceTable.accumulating(t);
    }

    @Test
    void matchesTheCpuOverShapesLayoutsAndDtypes() {
        // {batch, L, S, E, Ev}
        long[][] shapes = {{1, 1, 1, 1, 1}, {32, 1, 160, 64, 64}, {3, 4, 256, 16, 64}, {2, 3, 700, 64, 300},
                {2, 1, 257, 8, 512}, {5, 2, 33, 5, 7}};
        DType[] dtypes = {DType.F32, DType.BF16, DType.F16, DType.F64};
        int trial = 0;
        for (DType t : dtypes) {
            for (long[] sh : shapes) {
                for (LayoutKind kind : new LayoutKind[]{LayoutKind.CONTIGUOUS, LayoutKind.STRIDED, LayoutKind.PERMUTED}) {
                    long seed = 500 + trial++;
                    SplittableRandom r = new SplittableRandom(seed);
                    long nb = sh[0], l = sh[1], s = sh[2], e = sh[3], ev = sh[4];
                    String ctx = t + " " + java.util.Arrays.toString(sh) + " " + kind + " seed " + seed;
                    try (Twins tw = new Twins(gpu)) {
                        Twin q = tw.random(r, t, new long[]{nb, l, e}, false, kind);
                        Twin k = tw.random(r, t, new long[]{nb, s, e}, false, kind);
                        Twin v = tw.random(r, t, new long[]{nb, s, ev}, false, kind);
                        Twin[] biases = {null, tw.random(r, t, new long[]{s}, false, LayoutKind.CONTIGUOUS),
                                tw.random(r, t, new long[]{l, s}, false, kind)};
                        double scale = 1 / Math.sqrt(e);
                        for (Twin b : biases) {
                            Twin out = new Twin(q.cpu().attention(k.cpu(), v.cpu(), b == null ? null : b.cpu(), scale),
                                    q.dev().attention(k.dev(), v.dev(), b == null ? null : b.dev(), scale));
                            Twins.assertClose(out, rtol(t), rtol(t), ctx + (b == null ? " no bias" : " bias " + b.shape().length + "d"));
                        }
                    }
                }
            }
        }
    }

    /** LlamaModel's case: q, keys and bias f32, values (and the result) BF16 or F16; and all F32. */
    @Test
    void groupedQueryAttentionMixedDtypesMaskedChunksAndACapture() {
        for (DType vt : new DType[]{DType.BF16, DType.F16, DType.F32}) groupedQuery(vt);
    }

    private static void groupedQuery(DType vt) {
        SplittableRandom r = new SplittableRandom(77);
        long kvh = 8, rep = 4, s = 600, d = 64;
        // an accumulating op's bound, absolute as well as relative (outputs are weighted means of values in [-4, 4],
        // so an element near 0 carries the row's rounding: the H100 gave 2.8e-6 off on -0.0158 in f32)
        double tol = rtol(vt);
        try (Twins tw = new Twins(gpu)) {
            Twin q = tw.random(r, DType.F32, new long[]{kvh, rep, 1, d}, false, LayoutKind.CONTIGUOUS);
            Twin k = tw.random(r, DType.F32, new long[]{kvh, 1, s, d}, false, LayoutKind.CONTIGUOUS)
                    .map(x -> x.expand(kvh, rep, s, d));
            Twin v = tw.random(r, vt, new long[]{kvh, 1, s, d}, false, LayoutKind.CONTIGUOUS)
                    .map(x -> x.expand(kvh, rep, s, d));
            // keys 0..299 (the first chunk and part of the second) masked with -inf, the rest live
            double[] mask = new double[(int) s];
            for (int i = 0; i < 300; i++) mask[i] = Double.NEGATIVE_INFINITY;
            Twin bias = tw.upload(DType.F32, new long[]{s}, mask);
            Twins.assertClose(new Twin(q.cpu().attention(k.cpu(), v.cpu(), bias.cpu(), 0.125),
                    q.dev().attention(k.dev(), v.dev(), bias.dev(), 0.125)), tol, tol, vt + " values: gqa, first 300 keys masked");
            java.util.Arrays.fill(mask, Double.NEGATIVE_INFINITY);
            Twin all = tw.upload(DType.F32, new long[]{s}, mask);
            double[] got = q.dev().attention(k.dev(), v.dev(), all.dev(), 0.125).toDoubleArray();
            for (double x : got) assertTrue(Double.isNaN(x), "every key masked: NaN, got " + x);
            GpuReplay replay = gpu.captureReturning(() -> List.of(q.dev().attention(k.dev(), v.dev(), bias.dev(), 0.125)));
            replay.run();
            Tensor expected = q.cpu().attention(k.cpu(), v.cpu(), bias.cpu(), 0.125);
            Twins.assertClose(new Twin(expected, replay.outputs().getFirst()), tol, tol, vt + " values: replayed");
            replay.close();
        }
    }

    @Test
    void valueRowsWiderThanTheSharedAccumulatorsAreRefused() {
        try (Twins tw = new Twins(gpu)) {
            Tensor q = tw.dev.zeros(DType.F32, 1, 1, 4), k = tw.dev.zeros(DType.F32, 1, 3, 4), v = tw.dev.zeros(DType.F32, 1, 3, 513);
            assertTrue(assertThrows(UnsupportedOnBackendException.class, () -> q.attention(k, v, null, 1)).getMessage()
                    .contains("513"));
        }
    }
}
