package dev.gpuos.tensor;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The test tree's own n-d array: row-major doubles plus a dtype, with its own index arithmetic, broadcasting
 * and rounding. Nothing here calls main-code helpers, so the reference stays independent of what it checks.
 * Integer test values are small, so doubles hold them exactly.
 */
final class RefArray {
    final DType dtype;
    final long[] shape;
    final double[] v;

    RefArray(DType dtype, long[] shape, double[] v) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.v = v;
        if (v.length != count(shape)) throw new AssertionError("ref size " + v.length + " vs shape " + Arrays.toString(shape));
    }

    static RefArray zeros(DType dtype, long[] shape) {
        return new RefArray(dtype, shape, new double[(int) count(shape)]);
    }

    static long count(long[] shape) {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
    }

    int rank() { return shape.length; }

    double at(long[] idx) { return v[(int) linear(idx, shape)]; }

    void set(long[] idx, double value) { v[(int) linear(idx, shape)] = value; }

    static long linear(long[] idx, long[] shape) {
        long l = 0;
        for (int d = 0; d < shape.length; d++) l = l * shape[d] + idx[d];
        return l;
    }

    /** Calls {@code body} for every multi-index of {@code shape} in row-major order (the array is reused). */
    static void forEachIndex(long[] shape, Consumer<long[]> body) {
        if (count(shape) == 0) return;
        long[] idx = new long[shape.length];
        while (true) {
            body.accept(idx);
            int d = shape.length - 1;
            while (d >= 0) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
                d--;
            }
            if (d < 0) return;
        }
    }

    /** Broadcast result shape, or null if the shapes are incompatible. */
    static long[] broadcast(long[]... shapes) {
        int rank = 0;
        for (long[] s : shapes) rank = Math.max(rank, s.length);
        long[] out = new long[rank];
        Arrays.fill(out, 1);
        for (long[] s : shapes) {
            for (int i = 0; i < s.length; i++) {
                int o = rank - s.length + i;
                if (s[i] == out[o] || s[i] == 1) continue;
                if (out[o] != 1) return null;
                out[o] = s[i];
            }
        }
        return out;
    }

    /** The element a broadcast read at output index {@code outIdx} sees. */
    double broadcastAt(long[] outIdx) {
        long[] idx = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            long o = outIdx[outIdx.length - shape.length + i];
            idx[i] = shape[i] == 1 ? 0 : o;
        }
        return at(idx);
    }

    /** Value rounded to what dtype {@code t} can store, written independently of the main code. */
    static double roundTo(DType t, double x) {
        return switch (t) {
            case F64 -> x;
            case F32 -> (float) x;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) x));
            case BF16 -> roundBf16((float) x);
            // Saturating, NaN to 0 (the documented float-to-integer conversion); tests keep integer math in range.
            case I32 -> Double.isNaN(x) ? 0 : Math.max(-2147483648.0, Math.min(2147483647.0, x < 0 ? Math.ceil(x) : Math.floor(x)));
            case I64 -> (long) x;
            case BOOL -> x != 0 ? 1 : 0;
        };
    }

    /** Picks the nearer of the two bf16 neighbours of f, ties to the even one. */
    static double roundBf16(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) return f;
        int bits = Float.floatToRawIntBits(f);
        int low = bits & 0xFFFF0000;
        int high = low + 0x10000;
        double dl = Math.abs((double) f - Float.intBitsToFloat(low));
        double dh = Math.abs((double) Float.intBitsToFloat(high) - f);
        if (dl < dh) return Float.intBitsToFloat(low);
        if (dh < dl) return Float.intBitsToFloat(high);
        return ((low >>> 16) & 1) == 0 ? Float.intBitsToFloat(low) : Float.intBitsToFloat(high);
    }

    @Override
    public String toString() {
        return "Ref[" + dtype + " " + Arrays.toString(shape) + " " + Arrays.toString(v) + "]";
    }
}
