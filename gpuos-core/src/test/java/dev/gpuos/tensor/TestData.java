package dev.gpuos.tensor;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Random tensors (with matching reference values) in random layouts, and tolerant comparison. */
final class TestData {
    private TestData() {}

    static final DType[] ALL = DType.values();

    enum LayoutKind { CONTIGUOUS, PERMUTED, STRIDED, EXPANDED }

    record Made(Tensor tensor, RefArray ref, LayoutKind kind) {}

    static long[] randomShape(SplittableRandom r, int maxRank, int maxSize) {
        int rank = r.nextInt(maxRank + 1);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) {
            int roll = r.nextInt(20);
            s[i] = roll == 0 ? 0 : roll < 6 ? 1 : 1 + r.nextInt(maxSize);
        }
        return s;
    }

    /** A shape that broadcasts to {@code target}: a suffix of it with some sizes replaced by 1. */
    static long[] broadcastableTo(SplittableRandom r, long[] target) {
        int drop = r.nextInt(target.length + 1);
        long[] s = Arrays.copyOfRange(target, drop, target.length);
        for (int i = 0; i < s.length; i++) if (r.nextInt(4) == 0) s[i] = 1;
        return s;
    }

    static double randomValue(SplittableRandom r, DType t, boolean specials) {
        return switch (t) {
            case BOOL -> r.nextBoolean() ? 1 : 0;
            case I32, I64 -> r.nextInt(-6, 7);
            default -> {
                if (specials && r.nextInt(14) == 0) {
                    double[] sp = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0};
                    yield sp[r.nextInt(sp.length)];
                }
                yield RefArray.roundTo(t, r.nextDouble(-4, 4));
            }
        };
    }

    static RefArray randomRef(SplittableRandom r, DType t, long[] shape, boolean specials) {
        double[] v = new double[(int) RefArray.count(shape)];
        for (int i = 0; i < v.length; i++) v[i] = randomValue(r, t, specials);
        return new RefArray(t, shape, v);
    }

    /** Uploads reference values contiguously through the public factories. */
    static Tensor upload(TensorScope s, RefArray a) {
        if (a.rank() == 0) return upload(s, new RefArray(a.dtype, new long[]{1}, a.v)).reshape();
        return switch (a.dtype) {
            case BOOL -> {
                boolean[] b = new boolean[a.v.length];
                for (int i = 0; i < b.length; i++) b[i] = a.v[i] != 0;
                yield s.tensor(b, a.shape);
            }
            case I32, I64 -> {
                long[] l = new long[a.v.length];
                for (int i = 0; i < l.length; i++) l[i] = (long) a.v[i];
                yield s.tensor(l, a.dtype, a.shape);
            }
            default -> s.tensor(a.v, a.dtype, a.shape);
        };
    }

    static Made make(TensorScope s, SplittableRandom r, DType t, long[] shape, boolean specials) {
        LayoutKind kind = LayoutKind.values()[r.nextInt(LayoutKind.values().length)];
        return make(s, r, t, shape, specials, kind);
    }

    /** A tensor with the given logical shape and random values, laid out as {@code kind} says. */
    static Made make(TensorScope s, SplittableRandom r, DType t, long[] shape, boolean specials, LayoutKind kind) {
        int rank = shape.length;
        switch (kind) {
            case CONTIGUOUS -> {
                RefArray ref = randomRef(r, t, shape, specials);
                return new Made(upload(s, ref), ref, kind);
            }
            case PERMUTED -> {
                RefArray ref = randomRef(r, t, shape, specials);
                int[] q = randomPermutation(r, rank);
                long[] baseShape = new long[rank];
                for (int j = 0; j < rank; j++) baseShape[q[j]] = shape[j];
                RefArray base = RefArray.zeros(t, baseShape);
                RefArray.forEachIndex(baseShape, bi -> {
                    long[] vi = new long[rank];
                    for (int j = 0; j < rank; j++) vi[j] = bi[q[j]];
                    base.set(bi, ref.at(vi));
                });
                return new Made(upload(s, base).permute(q), ref, kind);
            }
            case STRIDED -> {
                RefArray ref = randomRef(r, t, shape, specials);
                long[] baseShape = new long[rank];
                for (int d = 0; d < rank; d++) baseShape[d] = 2 * shape[d] + 1;
                RefArray base = randomRef(r, t, baseShape, true); // junk between the picked elements
                RefArray.forEachIndex(shape, vi -> {
                    long[] bi = new long[rank];
                    for (int d = 0; d < rank; d++) bi[d] = 2 * vi[d] + 1;
                    base.set(bi, ref.at(vi));
                });
                Tensor view = upload(s, base);
                for (int d = 0; d < rank; d++) view = view.slice(d, 1, 1 + 2 * shape[d], 2);
                return new Made(view, ref, kind);
            }
            case EXPANDED -> {
                long[] small = shape.clone();
                for (int d = 0; d < rank; d++) if (r.nextBoolean()) small[d] = Math.min(small[d], 1);
                RefArray src = randomRef(r, t, small, specials);
                RefArray ref = RefArray.zeros(t, shape);
                RefArray.forEachIndex(shape, i -> ref.set(i, src.broadcastAt(i)));
                return new Made(upload(s, src).expand(shape), ref, kind);
            }
        }
        throw new AssertionError(kind);
    }

    static int[] randomPermutation(SplittableRandom r, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    /** Elementwise tolerance (relative) by result dtype: {@link ToleranceTable}. */
    static double elementwiseTolerance(DType t) {
        return ToleranceTable.elementwise(t);
    }

    static double reductionTolerance(DType t) {
        return ToleranceTable.accumulating(t);
    }

    static void assertMatches(RefArray expected, Tensor actual, double rtol, String context) {
        assertEquals(expected.dtype, actual.dtype(), context + ": dtype");
        assertArrayEquals(expected.shape, actual.shape(), context + ": shape");
        double[] got = actual.toDoubleArray();
        double atol = expected.dtype.isFloating() ? rtol * 1e-2 : 0;
        for (int i = 0; i < got.length; i++) {
            double e = expected.v[i], g = got[i];
            boolean ok;
            if (Double.isNaN(e) || Double.isNaN(g)) ok = Double.isNaN(e) && Double.isNaN(g);
            else if (Double.isInfinite(e) || Double.isInfinite(g)) ok = e == g;
            else ok = Math.abs(e - g) <= atol + rtol * Math.abs(e);
            if (!ok) {
                fail(context + ": element " + i + " expected " + e + " but got " + g + " (rtol " + rtol + ")\nexpected "
                        + expected + "\nactual " + Arrays.toString(got));
            }
        }
    }
}
