package dev.gpuos.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tensor.attention on the CPU backend against the ops it replaces (scores, scale and bias, softmax, @ values) in
 * F64, so the comparison is to round-off; the shapes and the argument checks.
 */
class AttentionTest {
    private static double[] values(SplittableRandom r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextDouble(-2, 2);
        return v;
    }

    private static void assertClose(float[] expected, float[] actual, double tol, String ctx) {
        assertEquals(expected.length, actual.length, ctx);
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol * (1 + Math.abs(expected[i])),
                    ctx + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
        }
    }

    @Test
    void matchesScoresSoftmaxAndValuesComposed() {
        SplittableRandom r = new SplittableRandom(41);
        // {batch, L, S, E, Ev}; the bias as [S], [L, S], full, or none
        long[][] shapes = {{1, 1, 1, 1, 1}, {3, 1, 160, 64, 64}, {2, 5, 7, 3, 9}, {4, 2, 300, 8, 300}};
        try (TensorScope s = TensorScope.open()) {
            for (long[] sh : shapes) {
                long nb = sh[0], l = sh[1], sl = sh[2], e = sh[3], ev = sh[4];
                Tensor q = s.tensor(values(r, (int) (nb * l * e)), DType.F64, nb, l, e);
                Tensor k = s.tensor(values(r, (int) (nb * sl * e)), DType.F64, nb, sl, e);
                Tensor v = s.tensor(values(r, (int) (nb * sl * ev)), DType.F64, nb, sl, ev);
                Tensor[] biases = {null, s.tensor(values(r, (int) sl), DType.F64, sl),
                        s.tensor(values(r, (int) (l * sl)), DType.F64, l, sl),
                        s.tensor(values(r, (int) (nb * l * sl)), DType.F64, nb, l, sl)};
                double scale = 1 / Math.sqrt(e);
                for (Tensor b : biases) {
                    Tensor scores = q.matmul(k.transpose(1, 2)).mul(scale);
                    if (b != null) scores = scores.add(b);
                    float[] expected = scores.softmax(-1).matmul(v).toFloatArray();
                    Tensor got = q.attention(k, v, b, scale);
                    assertEquals(java.util.List.of(nb, l, ev), java.util.Arrays.stream(got.shape()).boxed().toList());
                    assertClose(expected, got.toFloatArray(), 1e-6, java.util.Arrays.toString(sh) + " bias "
                            + (b == null ? "none" : java.util.Arrays.toString(b.shape())));
                }
            }
        }
    }

    @Test
    void sharedKeysOfAGroupAndStridedViewsReadAsTheyLook() {
        // grouped-query attention as LlamaModel runs it: q [kvh, rep, t, d], k and v [kvh, 1, S, d] expanded
        SplittableRandom r = new SplittableRandom(42);
        try (TensorScope s = TensorScope.open()) {
            Tensor q = s.tensor(values(r, 2 * 3 * 2 * 4), DType.F32, 2, 3, 2, 4);
            Tensor k = s.tensor(values(r, 2 * 9 * 4), DType.F32, 2, 1, 9, 4).expand(2, 3, 9, 4);
            Tensor vWide = s.tensor(values(r, 2 * 9 * 10), DType.F32, 2, 1, 9, 10);
            Tensor v = vWide.narrow(3, 1, 5).expand(2, 3, 9, 5);   // rows 10 apart, from element 1
            Tensor bias = s.tensor(values(r, 2 * 9), DType.F32, 2, 9);
            float[] expected = q.matmul(k.transpose(2, 3)).mul(0.5).add(bias).softmax(-1).matmul(v).toFloatArray();
            assertClose(expected, q.attention(k, v, bias, 0.5).toFloatArray(), 1e-5, "gqa");
        }
    }

    @Test
    void aRowWhoseScoresAreAllMinusInfinityIsNaNAsInPyTorch() {
        try (TensorScope s = TensorScope.open()) {
            Tensor q = s.tensor(new float[]{1, 2, 3, 4}, 1, 2, 2), k = s.tensor(new float[]{1, 0, 0, 1, 1, 1}, 1, 3, 2);
            Tensor v = s.tensor(new float[]{1, 2, 3}, 1, 3, 1);
            float inf = Float.NEGATIVE_INFINITY;
            float[] out = q.attention(k, v, s.tensor(new float[]{inf, inf, inf, inf, 0, -1e30f}, 2, 3), 1).toFloatArray();
            assertTrue(Float.isNaN(out[0]), "all -inf: " + out[0]);
            assertEquals(2, out[1], 1e-6, "one key left (the second)");
        }
    }

    @Test
    void badArgumentsAreNamed() {
        try (TensorScope s = TensorScope.open()) {
            Tensor q = s.zeros(DType.F32, 2, 3, 4), k = s.zeros(DType.F32, 2, 5, 4), v = s.zeros(DType.F32, 2, 5, 6);
            assertTrue(assertThrows(ShapeMismatchException.class, () -> q.attention(s.zeros(DType.F32, 2, 5, 3), v, null, 1))
                    .getMessage().contains("[2, 5, 3]"));
            assertTrue(assertThrows(ShapeMismatchException.class, () -> q.attention(k, s.zeros(DType.F32, 1, 5, 6), null, 1))
                    .getMessage().contains("equal batch dims"));
            assertTrue(assertThrows(ShapeMismatchException.class, () -> q.attention(s.zeros(DType.F32, 2, 0, 4),
                    s.zeros(DType.F32, 2, 0, 6), null, 1)).getMessage().contains("S = 0"));
            assertThrows(ShapeMismatchException.class, () -> q.attention(k, v, s.zeros(DType.F32, 4, 5), 1));
            assertTrue(assertThrows(UnsupportedDTypeException.class, () -> q.attention(k.to(DType.BF16), v, null, 1))
                    .getMessage().contains("one dtype"));
            assertThrows(UnsupportedDTypeException.class, () -> q.attention(k, v.to(DType.I32), null, 1));
            assertEquals(DType.BF16, q.attention(k, v.to(DType.BF16), null, 1).dtype(), "the values' dtype");
            assertThrows(UnsupportedDTypeException.class, () -> q.to(DType.I64).attention(k.to(DType.I64), v.to(DType.I64), null, 1));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> q.attention(k, v, null, Double.NaN))
                    .getMessage().contains("scale"));
            assertThrows(NullPointerException.class, () -> q.attention(null, v, null, 1));
        }
    }
}
