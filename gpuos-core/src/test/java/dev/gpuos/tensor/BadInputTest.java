package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input throws the documented exception at the call site and records and allocates nothing. */
class BadInputTest {

    private static void assertRejected(Class<? extends Throwable> type, TensorScope scope, CpuBackend backend, String what,
                                       Executable call) {
        long executed = backend.executedCount();
        int pending = backend.pendingCount();
        int owned = scope.ownedBufferCount();
        Throwable t = assertThrows(type, call, what);
        assertTrue(t.getMessage() != null && !t.getMessage().isBlank(), what + ": exception without a message");
        assertEquals(executed, backend.executedCount(), what + ": something ran");
        assertEquals(pending, backend.pendingCount(), what + ": something was recorded");
        assertEquals(owned, scope.ownedBufferCount(), what + ": something was allocated");
    }

    @Test
    void eagerBackend() {
        check(CpuBackend.eager());
    }

    @Test
    void batchedBackend() {
        check(CpuBackend.batched(10_000, Duration.ofHours(1)));
    }

    private static void check(CpuBackend backend) {
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor m = s.ones(DType.F32, 2, 3), v4 = s.ones(DType.F32, 4), ints = s.ones(DType.I32, 3), bools = s.ones(DType.BOOL, 3);
            Tensor f64 = s.ones(DType.F64, 3, 1);
            assertRejected(ShapeMismatchException.class, s, backend, "broadcast", () -> m.add(v4));
            assertRejected(ShapeMismatchException.class, s, backend, "where broadcast", () -> Tensor.where(bools, m, v4));
            assertRejected(UnsupportedDTypeException.class, s, backend, "neg bool", bools::neg);
            assertRejected(UnsupportedDTypeException.class, s, backend, "sub bool", () -> bools.sub(bools));
            assertRejected(UnsupportedDTypeException.class, s, backend, "gelu int", ints::gelu);
            assertRejected(UnsupportedDTypeException.class, s, backend, "mean int", ints::mean);
            assertRejected(UnsupportedDTypeException.class, s, backend, "where cond", () -> Tensor.where(ints, m, m));
            assertRejected(UnsupportedDTypeException.class, s, backend, "rand int", () -> s.rand(1, DType.I64, 3));
            assertRejected(UnsupportedDTypeException.class, s, backend, "matmul dtypes", () -> m.matmul(f64));
            assertRejected(IllegalArgumentException.class, s, backend, "int pow negative", () -> ints.pow(-1L));
            assertRejected(IndexOutOfBoundsException.class, s, backend, "sum axis", () -> m.sum(new int[]{2}, false));
            assertRejected(IndexOutOfBoundsException.class, s, backend, "argmax axis", () -> m.argmax(-3, true));
            assertRejected(IndexOutOfBoundsException.class, s, backend, "softmax dim", () -> m.softmax(5));
            assertRejected(IndexOutOfBoundsException.class, s, backend, "outside storage",
                    () -> m.asStrided(new long[]{7}, new long[]{1}, 0));
            assertRejected(IllegalArgumentException.class, s, backend, "duplicate axes", () -> m.sum(new int[]{1, -1}, false));
            assertRejected(ShapeMismatchException.class, s, backend, "matmul", () -> m.matmul(m));
            assertRejected(ShapeMismatchException.class, s, backend, "view", () -> m.transpose(0, 1).view(6));
            assertRejected(ShapeMismatchException.class, s, backend, "layer_norm", () -> m.layerNorm(new long[]{2}, null, null, 1e-5));
            assertRejected(ShapeMismatchException.class, s, backend, "cat", () -> Tensor.cat(1, m, v4));
            assertRejected(ShapeMismatchException.class, s, backend, "data size", () -> s.tensor(new float[5], 2, 3));
            assertRejected(ShapeMismatchException.class, s, backend, "item", m::item);
            assertRejected(IllegalArgumentException.class, s, backend, "arange step", () -> s.arange(0, 5, 0));
            // Issue 15: overflow-prone input is refused at the call, before anything is allocated or recorded.
            Tensor r3 = s.arange(3);
            assertRejected(IndexOutOfBoundsException.class, s, backend, "narrow overflow", () -> r3.narrow(0, 1, Long.MAX_VALUE));
            assertRejected(IndexOutOfBoundsException.class, s, backend, "asStrided overflow",
                    () -> v4.asStrided(new long[]{2}, new long[]{Long.MAX_VALUE}, 0));
            assertRejected(ShapeMismatchException.class, s, backend, "element count", () -> s.zeros(DType.F32, 1L << 31, 1L << 31));
            assertRejected(ShapeMismatchException.class, s, backend, "broadcast element count",
                    () -> v4.reshape(4, 1).expand(4, 1L << 40).add(v4.reshape(1, 4, 1).expand(1L << 40, 4, 1L << 40)));
            assertRejected(IllegalArgumentException.class, s, backend, "full NaN I32", () -> s.full(Double.NaN, DType.I32, 2));
            assertRejected(IllegalArgumentException.class, s, backend, "arange span", () -> s.arange(Long.MIN_VALUE, Long.MAX_VALUE, 1));
            assertRejected(NullPointerException.class, s, backend, "add null", () -> m.add((Tensor) null));
            assertRejected(NullPointerException.class, s, backend, "matmul null", () -> m.matmul(null));
            try (TensorScope otherScope = TensorScope.open(CpuBackend.eager())) {
                Tensor foreign = otherScope.ones(DType.F32, 2, 3);
                assertRejected(IllegalArgumentException.class, s, backend, "other backend", () -> m.add(foreign));
                assertEquals(1, otherScope.ownedBufferCount());
            }

            Tensor doomed;
            try (TensorScope inner = TensorScope.open(backend)) {
                doomed = inner.ones(DType.F32, 3);
            }
            assertRejected(TensorClosedException.class, s, backend, "closed operand", () -> m.add(doomed));
            assertRejected(TensorClosedException.class, s, backend, "closed read", doomed::toFloatArray);
            assertRejected(TensorClosedException.class, s, backend, "closed view", () -> doomed.reshape(3, 1));
        }
    }
}
