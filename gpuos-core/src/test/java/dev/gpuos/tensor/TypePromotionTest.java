package dev.gpuos.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Known torch.result_type answers. */
class TypePromotionTest {

    @Test
    void matchesPyTorch() {
        try (TensorScope s = TensorScope.open()) {
            Tensor i32 = s.ones(DType.I32, 3), i64 = s.ones(DType.I64, 3), f16 = s.ones(DType.F16, 3);
            Tensor bf16 = s.ones(DType.BF16, 3), f32 = s.ones(DType.F32, 3), b = s.ones(DType.BOOL, 3);
            assertEquals(DType.F32, i32.add(2.5).dtype());
            assertEquals(DType.I32, i32.add(2L).dtype());
            assertEquals(DType.I64, b.add(1L).dtype());
            assertEquals(DType.F32, b.add(1.5).dtype());
            assertEquals(DType.F16, f16.add(2.5).dtype());
            assertEquals(DType.F16, f16.add(i64).dtype());
            assertEquals(DType.F32, f16.add(bf16).dtype());
            assertEquals(DType.I64, i32.add(i64).dtype());
            assertEquals(DType.F64, i32.add(s.scalar(1.0, DType.F64)).dtype());
            assertEquals(DType.F32, f32.add(s.scalar(1.0, DType.F64)).dtype());
            assertEquals(DType.I32, i32.add(s.scalar(1L)).dtype());
            assertEquals(DType.F32, i32.div(i32).dtype());
            assertEquals(DType.F32, i64.sigmoid().dtype());
            assertEquals(DType.I64, i64.relu().dtype());
            assertEquals(DType.BOOL, f32.lt(i64).dtype());
            assertEquals(DType.I64, b.sum().dtype());
            assertEquals(DType.F32, i32.clamp(0.5, 2.0).dtype());
            assertEquals(DType.F16, Tensor.where(b, f16, Scalar.of(1.5)).dtype());
        }
    }

    @Test
    void scalarsAreRoundedToTheCommonDtypeFirst() {
        try (TensorScope s = TensorScope.open()) {
            Tensor h = s.tensor(new float[]{0.1f}, DType.F16);
            assertTrue(h.eq(0.1).booleanItem(), "f16(0.1) == 0.1 compares in F16, like PyTorch");
            assertTrue(s.tensor(new int[]{3}).div(2L).item() == 1.5);
            assertEquals(2L, s.tensor(new int[]{7}).floorDivide(3L).longItem());
            assertEquals(-3L, s.tensor(new int[]{-7}).floorDivide(3L).longItem());
            assertEquals(2L, s.tensor(new int[]{-7}).remainder(3L).longItem());
            assertEquals(-1.0, s.tensor(new float[]{5}).remainder(-3.0).item());
        }
    }
}
