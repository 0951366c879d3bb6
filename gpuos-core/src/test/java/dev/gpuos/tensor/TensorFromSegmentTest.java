package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** TensorFactory.tensor(MemorySegment, ...): raw little-endian bytes (e.g. a mapped weights file) as a tensor. */
class TensorFromSegmentTest {
    @Test
    void bytesOfAnyDtypeBecomeTheTensor() {
        try (Arena arena = Arena.ofConfined(); TensorScope scope = TensorScope.open(CpuBackend.eager())) {
            MemorySegment f32 = arena.allocate(6 * 4, 8);
            for (int i = 0; i < 6; i++) f32.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i * 1.5f - 2);
            Tensor t = scope.tensor(f32, DType.F32, 2, 3);
            assertArrayEquals(new long[]{2, 3}, t.shape());
            assertArrayEquals(new float[]{-2f, -0.5f, 1f, 2.5f, 4f, 5.5f}, t.toFloatArray());

            // an unaligned slice of bf16 values, as a safetensors data section may place them
            MemorySegment raw = arena.allocate(1 + 4 * 2, 8);
            float[] values = {1f, -3.5f, 0.15625f, 1024f};
            for (int i = 0; i < 4; i++) raw.set(ValueLayout.JAVA_SHORT_UNALIGNED, 1 + 2L * i, BFloat16.fromFloat(values[i]));
            Tensor b = scope.tensor(raw.asSlice(1), DType.BF16, 4);
            assertEquals(DType.BF16, b.dtype());
            assertArrayEquals(values, b.to(DType.F32).toFloatArray());
        }
    }

    @Test
    void aByteCountThatDisagreesWithTheShapeIsRefused() {
        try (Arena arena = Arena.ofConfined(); TensorScope scope = TensorScope.open(CpuBackend.eager())) {
            MemorySegment seg = arena.allocate(10);
            var e = assertThrows(ShapeMismatchException.class, () -> scope.tensor(seg, DType.F32, 3));
            assertTrue(e.getMessage().contains("10 bytes") && e.getMessage().contains("needs 12"), e.getMessage());
            assertThrows(ShapeMismatchException.class, () -> scope.tensor(seg, DType.F32, -1));
            assertThrows(NullPointerException.class, () -> scope.tensor((MemorySegment) null, DType.F32, 3));
            assertEquals(0, scope.ownedBufferCount(), "a refused upload allocates nothing");
        }
    }
}
