package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Scalar;

/**
 * What a {@link FillNode} writes at linear element index i of its (contiguous) output. The random patterns are
 * counter-based (a SplitMix64 hash of seed and index), so every backend produces the same numbers for the same
 * seed without sharing generator state; see {@link #hash}.
 */
public sealed interface FillPattern {
    /** Every element = value. */
    record Constant(Scalar value) implements FillPattern {}

    /** Element i = start + i * step, computed in I64 for integral outputs and in double otherwise. */
    record Arange(Scalar start, Scalar step) implements FillPattern {}

    /** Uniform in [low, high): u = (hash(seed, i) >>> 11) * 2^-53, value = low + u * (high - low). */
    record Uniform(long seed, double low, double high) implements FillPattern {}

    /**
     * Normal by Box-Muller: u1 = ((hash(seed, 2i) >>> 11) + 1) * 2^-53, u2 = (hash(seed, 2i+1) >>> 11) * 2^-53,
     * value = mean + std * sqrt(-2 ln u1) * cos(2 pi u2).
     */
    record Normal(long seed, double mean, double std) implements FillPattern {}

    /** SplitMix64 finaliser of seed + (counter + 1) * golden gamma; identical in CUDA with unsigned long long. */
    static long hash(long seed, long counter) {
        long z = seed + (counter + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static double unitInterval(long hash) {
        return (hash >>> 11) * 0x1.0p-53;
    }
}
