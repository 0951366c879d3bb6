package dev.gpuos.tensor;

/**
 * bfloat16 conversions. A bf16 is the upper half of an IEEE float32, so widening is a shift; narrowing rounds
 * to nearest, ties to even, exactly like CUDA's {@code __float2bfloat16_rn}.
 */
public final class BFloat16 {
    private BFloat16() {}

    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            // Keep sign and payload top bits but force a quiet NaN, so truncation can never produce infinity.
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
