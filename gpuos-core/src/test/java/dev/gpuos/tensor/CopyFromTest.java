package dev.gpuos.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** In-place copy (PyTorch's copy_) on the CPU backend: broadcasting, conversion, order, bad input. */
class CopyFromTest {
    @Test
    void copiesBroadcastAndConvertsInPlaceInRecordingOrder() {
        try (TensorScope s = TensorScope.open()) {
            Tensor dst = s.zeros(DType.F32, 2, 3);
            Tensor before = dst.add(1.0);                       // sees the zeros
            assertSame(dst, dst.copyFrom(s.tensor(new long[]{7, -2, 5}, DType.I64, 3)));
            Tensor after = dst.add(1.0);                        // sees the copy
            assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1}, before.toFloatArray());
            assertArrayEquals(new float[]{7, -2, 5, 7, -2, 5}, dst.toFloatArray());
            assertArrayEquals(new float[]{8, -1, 6, 8, -1, 6}, after.toFloatArray());
            // Into a transposed view: element (i, j) of the view is element (j, i) of the buffer.
            Tensor square = s.zeros(DType.F64, 2, 2);
            square.transpose(0, 1).copyFrom(s.tensor(new double[]{1, 2, 3, 4}, 2, 2));
            assertArrayEquals(new double[]{1, 3, 2, 4}, square.toDoubleArray());
            // The same view onto itself is a no-op.
            square.copyFrom(square);
            assertArrayEquals(new double[]{1, 3, 2, 4}, square.toDoubleArray());
        }
    }

    @Test
    void refusesWhatCannotBeCopiedSafely() {
        try (TensorScope s = TensorScope.open()) {
            Tensor dst = s.zeros(DType.F32, 2, 3);
            assertThrows(ShapeMismatchException.class, () -> dst.copyFrom(s.zeros(DType.F32, 4)));
            Tensor row = s.zeros(DType.F32, 3);
            assertThrows(IllegalArgumentException.class, () -> row.expand(2, 3).copyFrom(dst));
            Tensor sq = s.zeros(DType.F32, 3, 3);
            assertThrows(IllegalArgumentException.class, () -> sq.copyFrom(sq.transpose(0, 1)));
            Tensor closed = s.zeros(DType.F32, 3);
            try (TensorScope inner = TensorScope.open()) {
                Tensor gone = inner.zeros(DType.F32, 3);
                inner.close();
                assertThrows(TensorClosedException.class, () -> closed.copyFrom(gone));
            }
        }
    }
}
