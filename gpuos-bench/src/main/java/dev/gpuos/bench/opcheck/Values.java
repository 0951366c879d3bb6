package dev.gpuos.bench.opcheck;

import dev.gpuos.tensor.DType;

import java.util.SplittableRandom;

/**
 * Kinds of seeded input values. Each kind gives floating, integral and BOOL dtypes values of the same intent:
 * {@link #MIXED} puts special values (NaN, infinities, -0.0, huge, tiny and subnormal magnitudes; for integers
 * the wrap-around edges) among ordinary ones; the others keep an op inside its well-defined domain where
 * PyTorch and GPUOS are both specified (divisors, exponents, float-to-int casts).
 */
public enum Values {
    /** Floats: normal samples with about 40% special values; integers: small values and the dtype's edges. */
    MIXED,
    /** Floats: standard normal; integers: [-9, 9]. */
    NORMAL,
    /** Floats: normal with some NaN and +-inf (no huge finite values, so sums do not depend on order). */
    NONFINITE,
    /** Like MIXED for floats (zero divisors included); integers: non-zero and never -1 (no MIN / -1). */
    DIVISOR,
    /** Floats: +-[0.5, 1.5] (products stay in range); integers: [-2, 2]. */
    UNIT,
    /** Exponents: floats normal x 2 with 0, -0, +-inf, NaN; integers: [-2, 5]. */
    EXPONENT,
    /** Floats: normal x 4 with about 20% -inf (masked attention scores); integers: [-9, 9]. */
    MASKED,
    /** Floats in [-1000, 1000] with halves and -0.0, finite and in range of every dtype; integers: edges. */
    CASTABLE,
    /** Indices in [0, bound). */
    INDEX;

    private static final double[] FLOAT_SPECIALS = {
        Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 0.0, 1e30, -1e30, 1e-30, -1e-30,
        1e-40, 65504, -70000, 3.0e38, 88.5, -104, 0.5, -2.5, 1.0, -1.0, 1e4, -1e-4,
    };
    private static final long[] I32_EDGES = {
        Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE + 1, Integer.MAX_VALUE - 1, -1, 0, 1, 65536, -65537, 46341,
    };
    private static final long[] I64_EDGES = {
        Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE + 1, Long.MAX_VALUE - 1, -1, 0, 1, Integer.MIN_VALUE,
        Integer.MAX_VALUE, 1L << 32, 3037000500L,
    };

    /** {@code n} values for a floating dtype (rounded to it on upload). */
    double[] floats(SplittableRandom r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (this) {
                case MIXED, DIVISOR -> r.nextInt(10) < 4 ? FLOAT_SPECIALS[r.nextInt(FLOAT_SPECIALS.length)] : 2 * r.nextGaussian();
                case NORMAL -> r.nextGaussian();
                case NONFINITE -> switch (r.nextInt(12)) {
                    case 0 -> Double.NaN;
                    case 1 -> Double.POSITIVE_INFINITY;
                    case 2 -> Double.NEGATIVE_INFINITY;
                    default -> r.nextGaussian();
                };
                case UNIT -> (r.nextBoolean() ? 1 : -1) * r.nextDouble(0.5, 1.5);
                case EXPONENT -> switch (r.nextInt(10)) {
                    case 0 -> 0.0;
                    case 1 -> -0.0;
                    case 2 -> r.nextBoolean() ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
                    case 3 -> Double.NaN;
                    default -> 2 * r.nextGaussian();
                };
                case MASKED -> r.nextInt(5) == 0 ? Double.NEGATIVE_INFINITY : 4 * r.nextGaussian();
                case CASTABLE -> switch (r.nextInt(6)) {
                    case 0 -> -0.0;
                    case 1 -> r.nextInt(-20, 21) + 0.5;
                    default -> r.nextDouble(-1000, 1000);
                };
                case INDEX -> throw new IllegalStateException("INDEX values are integral");
            };
        }
        return v;
    }

    /** {@code n} values for an integral or BOOL dtype. */
    long[] longs(SplittableRandom r, int n, DType dtype, long bound) {
        long[] v = new long[n];
        long[] edges = dtype == DType.I64 ? I64_EDGES : I32_EDGES;
        for (int i = 0; i < n; i++) {
            if (dtype == DType.BOOL) {
                v[i] = r.nextBoolean() ? 1 : 0;
                continue;
            }
            v[i] = switch (this) {
                case MIXED, CASTABLE -> r.nextInt(3) == 0 ? edges[r.nextInt(edges.length)] : r.nextInt(-9, 10);
                case NORMAL, NONFINITE, MASKED -> r.nextInt(-9, 10);
                case DIVISOR -> r.nextBoolean() ? r.nextInt(1, 8) : r.nextInt(-7, -1);
                case UNIT -> r.nextInt(-2, 3);
                case EXPONENT -> r.nextInt(-2, 6);
                case INDEX -> r.nextLong(bound);
            };
        }
        return v;
    }
}
