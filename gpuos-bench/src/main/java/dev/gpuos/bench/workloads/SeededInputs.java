package dev.gpuos.bench.workloads;

/**
 * The seeded generator behind every workload input, written so that Java and {@code bench/pytorch/inputs.py}
 * produce bit-identical float32 values without exchanging files (the W1 inputs alone are 2.6 GB).
 *
 * <p>Element {@code i} (row-major index) of an input with seed {@code s} is
 * <pre>
 *   h = hash32((i + hash32(s)) mod 2^32)           hash32: Thomas Mueller's integer hash, all mod 2^32:
 *                                                    x = (x ^ (x >>> 16)) * 0x45d9f3b
 *                                                    x = (x ^ (x >>> 16)) * 0x45d9f3b
 *                                                    x =  x ^ (x >>> 16)
 *   u = float32(h >>> 8) * 2^-24                    exact: 24 random bits in [0, 1)
 *   v = float32(lo) + float32(span) * u             two float32 operations, each rounded to nearest even
 * </pre>
 * Counter-based, so any slice can be generated on its own and in parallel, and every step is exact or one
 * IEEE-rounded float32 operation: Java's float arithmetic, numpy's float32 ufuncs and two separate torch
 * kernels all give the same bits. The multiplier is below 2^27 so that Python can evaluate the hash in int64
 * without overflow. With {@code lo = -1, span = 2} every value is exact ({@code (h >>> 8) * 2^-23 - 1}).
 */
public final class SeededInputs {
    private SeededInputs() {}

    static final int MULTIPLIER = 0x45d9f3b;

    /** Mueller's 32-bit integer hash (a bijection on 32-bit words). */
    public static int hash32(int x) {
        x = (x ^ (x >>> 16)) * MULTIPLIER;
        x = (x ^ (x >>> 16)) * MULTIPLIER;
        return x ^ (x >>> 16);
    }

    /** Element {@code index} of the input with this seed and range. */
    public static float value(long seed, long index, float lo, float span) {
        int h = hash32((int) index + hash32((int) seed));
        float u = (h >>> 8) * 0x1p-24f;
        return lo + span * u;
    }

    /** Elements {@code [0, count)}. */
    public static float[] generate(long seed, int count, float lo, float span) {
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0, got " + count);
        }
        float[] out = new float[count];
        int mixed = hash32((int) seed);
        // Counter-based, so chunks fill in parallel (the largest W1 input has 164M elements).
        int chunk = 1 << 20;
        java.util.stream.IntStream.range(0, (count + chunk - 1) / chunk).parallel().forEach(c -> {
            int end = Math.min(count, (c + 1) * chunk);
            for (int i = c * chunk; i < end; i++) {
                int h = hash32(i + mixed);
                out[i] = lo + span * ((h >>> 8) * 0x1p-24f);
            }
        });
        return out;
    }

    /**
     * What {@code run.py} checks before it trusts its own copy of an input: the element count, the first
     * four and the last element (bit-exact) and the float64 sum (to a relative 1e-9, since summation order
     * differs between Java and numpy).
     */
    public record Fingerprint(long count, float[] head, float last, double sum) {
        public int[] headBits() {
            int[] bits = new int[head.length];
            for (int i = 0; i < head.length; i++) {
                bits[i] = Float.floatToRawIntBits(head[i]);
            }
            return bits;
        }
    }

    public static Fingerprint fingerprint(float[] values) {
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        float[] head = java.util.Arrays.copyOf(values, Math.min(4, values.length));
        return new Fingerprint(values.length, head, values.length == 0 ? Float.NaN : values[values.length - 1], sum);
    }
}
