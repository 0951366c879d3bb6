package dev.gpuos.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CreationTest {

    @Test
    void constantsAndRanges() {
        try (TensorScope s = TensorScope.open()) {
            assertArrayEquals(new float[]{0, 0}, s.zeros(DType.BF16, 2).toFloatArray());
            assertArrayEquals(new long[]{1, 1, 1}, s.ones(DType.I32, 3).toLongArray());
            assertArrayEquals(new long[]{2, 2}, s.full(2.7, DType.I64, 2).toLongArray());
            assertArrayEquals(new boolean[]{true}, s.full(0.5, DType.BOOL, 1).toBooleanArray());
            assertArrayEquals(new long[]{0, 1, 2, 3, 4}, s.arange(5).toLongArray());
            assertArrayEquals(new long[]{2, 5, 8}, s.arange(2, 11, 3).toLongArray());
            assertArrayEquals(new long[]{5, 3, 1}, s.arange(5, 0, -2).toLongArray());
            assertArrayEquals(new long[0], s.arange(3, 3, 1).toLongArray());
            assertArrayEquals(new float[]{0, 0.25f, 0.5f, 0.75f}, s.arange(0.0, 1.0, 0.25, DType.F32).toFloatArray());
            assertEquals(0, s.scalar(2.5).rank());
            assertEquals(2.5, s.scalar(2.5).item());
            assertEquals(DType.I64, s.scalar(3L).dtype());
            assertThrows(IllegalArgumentException.class, () -> s.arange(0, 5, -1));
        }
    }

    @Test
    void randomTensorsAreSeededAndWellDistributed() {
        try (TensorScope s = TensorScope.open()) {
            double[] u = s.rand(42, DType.F64, 20000).toDoubleArray();
            assertArrayEquals(u, s.rand(42, DType.F64, 20000).toDoubleArray());
            assertFalse(java.util.Arrays.equals(u, s.rand(43, DType.F64, 20000).toDoubleArray()));
            double mean = 0, min = 1, max = 0;
            for (double v : u) { mean += v / u.length; min = Math.min(min, v); max = Math.max(max, v); }
            assertEquals(0.5, mean, 0.01);
            assertTrue(min >= 0 && max < 1);
            Tensor n = s.randn(7, DType.F32, 20000);
            assertEquals(0, n.mean().item(), 0.03);
            assertEquals(1, n.mul(n).mean().item(), 0.05);
            assertArrayEquals(n.toFloatArray(), s.randn(7, DType.F64, 20000).to(DType.F32).toFloatArray());
        }
    }

    @Test
    void halfPrecisionStorageRoundsToNearestEven() {
        try (TensorScope s = TensorScope.open()) {
            float[] values = {1.00390625f, 1.01171875f, 3.14159f, -65504f, 1e-8f, Float.NaN, Float.POSITIVE_INFINITY};
            float[] bf = s.tensor(values, DType.BF16).toFloatArray();
            float[] hf = s.tensor(values, DType.F16).toFloatArray();
            for (int i = 0; i < values.length; i++) {
                assertEquals(RefArray.roundBf16(values[i]), bf[i], 0, "bf16 of " + values[i]);
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(values[i])), hf[i], 0, "f16 of " + values[i]);
            }
            assertEquals(1.0f, bf[0]);  // tie between 1.0 and 1.0078125 goes to the even mantissa
            assertEquals(1.015625f, bf[1]);
        }
    }

    @Test
    void integersAreExactAndWrapLikeTwosComplement() {
        try (TensorScope s = TensorScope.open()) {
            long[] big = {Long.MAX_VALUE, Long.MIN_VALUE + 1, 1L << 60};
            assertArrayEquals(big, s.tensor(big).toLongArray());
            assertArrayEquals(new long[]{Long.MIN_VALUE}, s.tensor(new long[]{Long.MAX_VALUE}).add(1L).toLongArray());
            Tensor i32 = s.tensor(new int[]{Integer.MAX_VALUE});
            assertEquals(DType.I32, i32.add(1L).dtype());
            assertArrayEquals(new int[]{Integer.MIN_VALUE}, i32.add(1L).toIntArray());
            assertEquals(7, s.tensor(new int[]{7}).longItem());
            assertTrue(s.tensor(new boolean[]{true}).booleanItem());
        }
    }

    @Test
    void castsFollowCConversions() {
        try (TensorScope s = TensorScope.open()) {
            Tensor f = s.tensor(new float[]{-1.7f, 2.9f, 0f, Float.NaN});
            assertArrayEquals(new int[]{-1, 2, 0, 0}, f.to(DType.I32).toIntArray());
            assertArrayEquals(new boolean[]{true, true, false, true}, f.to(DType.BOOL).toBooleanArray());
            assertArrayEquals(new float[]{1, 0}, s.tensor(new boolean[]{true, false}).to(DType.F16).toFloatArray());
            Tensor same = f.to(DType.F32);
            assertTrue(same == f, "to() of the same dtype returns the tensor itself");
        }
    }
}
