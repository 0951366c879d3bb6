package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;

import java.util.Arrays;

/**
 * What the generator knows about a live tensor without running anything: dtype, shape, a bound on its finite
 * magnitudes, whether it may hold NaN or infinities, and whether it is <em>exact</em>.
 *
 * <p>Exact means every value is a multiple of 2^-{@code frac} held without rounding, so every correct backend
 * holds bit-identical values (grid inputs, then add, sub, mul, max/min, sums and matmuls while the results
 * still fit the dtype's mantissa). Ops that jump (comparisons, floor division, remainder, casts to integers,
 * argmax, log/sqrt domains) are only applied to exact tensors: on rounded values two correct backends may
 * land on different sides of the jump.
 *
 * @param frac number of fractional bits of an exact tensor; -1 if the tensor is not exact
 */
record Facts(int id, DType dtype, long[] shape, double bound, int frac, boolean specials) {
    Facts {
        shape = shape.clone();
    }

    @Override public long[] shape() { return shape.clone(); }

    boolean exact() { return frac >= 0; }

    int rank() { return shape.length; }

    long size(int d) { return shape[d]; }

    long numel() { return FuzzInputs.numel(shape); }

    Facts with(DType t, long[] s, double b, int f, boolean sp, int newId) {
        return new Facts(newId, t, s, b, representable(t, b, f), sp);
    }

    Facts view(long[] s, int newId) { return new Facts(newId, dtype, s, bound, frac, specials); }

    /** {@code frac} if values bounded by {@code bound} with {@code frac} fractional bits fit {@code t} exactly, else -1. */
    static int representable(DType t, double bound, int frac) {
        if (frac < 0) return -1;
        return switch (t) {
            case BOOL -> 0;
            case I32 -> frac == 0 && bound < 0x1p30 ? 0 : -1;
            case I64 -> frac == 0 && bound < 0x1p52 ? 0 : -1;
            case F16 -> bound * Math.scalb(1.0, frac) <= 0x1p11 && bound <= 60000 && frac <= 24 ? frac : -1;
            case BF16 -> bound * Math.scalb(1.0, frac) <= 0x1p8 ? frac : -1;
            case F32 -> bound * Math.scalb(1.0, frac) <= 0x1p24 ? frac : -1;
            case F64 -> bound * Math.scalb(1.0, frac) <= 0x1p53 ? frac : -1;
        };
    }

    /** torch.result_type over tensors (dimensioned first, then 0-dim) and scalars, as the API promotes. */
    static DType resultType(Facts[] tensors, Scalar[] scalars) {
        DType dims = null, zero = null, wrapped = null;
        for (Facts f : tensors) {
            if (f.rank() > 0) dims = promote(dims, f.dtype());
            else zero = promote(zero, f.dtype());
        }
        for (Scalar s : scalars) wrapped = promote(wrapped, s.kind() == DType.F64 ? DType.F32 : s.kind());
        return combine(dims, combine(zero, wrapped));
    }

    private static DType promote(DType a, DType b) { return a == null ? b : DType.promote(a, b); }

    private static DType combine(DType higher, DType lower) {
        if (higher == null) return lower;
        if (lower == null) return higher;
        if (higher.isFloating()) return higher;
        if (higher == DType.BOOL || lower.isFloating()) return DType.promote(higher, lower);
        return higher;
    }

    /** Broadcast shape, or null if the shapes do not broadcast. */
    static long[] broadcast(long[] a, long[] b) {
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long x = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            long y = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (x != y && x != 1 && y != 1) return null;
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    /** Bound and fractional bits of a scalar operand (fraction bits -1 if it is not a short binary fraction). */
    static double scalarBound(Scalar s) { return Math.abs(s.doubleValue()); }

    static int scalarFrac(Scalar s) {
        double v = s.doubleValue();
        for (int f = 0; f <= 4; f++) if (Math.scalb(v, f) == Math.rint(Math.scalb(v, f))) return f;
        return -1;
    }

    @Override
    public String toString() { return "t" + id + " " + dtype + Arrays.toString(shape) + (exact() ? " exact" : ""); }
}
