package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.ShapeMismatchException;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15 on the GPU backend: views whose bounds overflow never reach a task; a bad index_select index belongs
 * to the tensors computed from it (their reads throw it) and to nobody else, on any thread; float to I32 casts
 * saturate bit for bit like the CPU backend, on native operators and on the interpreter tier.
 */
@Tag("gpu")
class GpuBadInputTest extends SharedGpuOS {

    private static GpuBackend backend() {
        return new GpuBackend(os, 1024, Duration.ofSeconds(60));  // only sync points submit: counts are exact
    }

    private static void assertRejectedBeforeATask(GpuBackend b, Class<? extends Throwable> type, String what,
                                                  Executable call) {
        int pending = b.pendingCount();
        long tasks = b.stats().tasks();
        Throwable t = assertThrows(type, call, what);
        assertTrue(t.getMessage() != null && !t.getMessage().isBlank(), what + ": no message");
        assertEquals(pending, b.pendingCount(), what + ": a node was recorded");
        b.sync();
        assertEquals(tasks, b.stats().tasks(), what + ": a task ran");
    }

    @Test
    void viewsWhoseBoundsOverflowNeverReachATask() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor z = s.zeros(DType.F32, 4), r = s.arange(3);
            b.sync();
            assertRejectedBeforeATask(b, IndexOutOfBoundsException.class, "asStrided stride MAX",
                    () -> z.asStrided(new long[]{2}, new long[]{Long.MAX_VALUE}, 0));
            assertRejectedBeforeATask(b, IndexOutOfBoundsException.class, "asStrided strides sum past MAX",
                    () -> z.asStrided(new long[]{2, 2}, new long[]{Long.MAX_VALUE / 2, Long.MAX_VALUE / 2 + 2}, 0));
            assertRejectedBeforeATask(b, IndexOutOfBoundsException.class, "asStrided offset MAX",
                    () -> z.asStrided(new long[]{2}, new long[]{1}, Long.MAX_VALUE));
            assertRejectedBeforeATask(b, IndexOutOfBoundsException.class, "asStrided size x stride past storage",
                    () -> z.asStrided(new long[]{1L << 40}, new long[]{1L << 30}, 0));
            assertRejectedBeforeATask(b, IndexOutOfBoundsException.class, "narrow length MAX",
                    () -> r.narrow(0, 1, Long.MAX_VALUE));
            assertRejectedBeforeATask(b, ShapeMismatchException.class, "expand past the element limit",
                    () -> z.reshape(4, 1).expand(4, 1L << 62));
            assertRejectedBeforeATask(b, ShapeMismatchException.class, "zeros [2^31, 2^31]",
                    () -> s.zeros(DType.F32, 1L << 31, 1L << 31));
            // A legal view at the very end of the storage still computes the right values.
            Tensor last = s.arange(0, 8, 1).asStrided(new long[]{2}, new long[]{7}, 0);
            assertArrayEquals(new long[]{0, 7}, last.add(0L).toLongArray());
        }
    }

    @Test
    void aBadIndexBelongsToItsDependentsOnly() throws Exception {
        GpuBackend b = backend();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor bad = x.indexSelect(0, s.tensor(new long[]{1, 42, 2}));
            Tensor derived = bad.mul(2.0).sum();
            Tensor alsoBad = x.indexSelect(0, s.tensor(new long[]{-7}));
            Tensor good = x.indexSelect(0, s.tensor(new long[]{9, 0})).add(1.0);
            // Another thread's read of its own tensor, after this thread's failed op was submitted and ran.
            b.sync();
            Future<float[]> theirs = other.submit(() -> {
                try (TensorScope t = TensorScope.open(b)) {
                    return t.arange(0, 4, 1).to(DType.F32).mul(3.0).toFloatArray();
                }
            });
            assertArrayEquals(new float[]{0, 3, 6, 9}, theirs.get(1, TimeUnit.MINUTES));
            assertArrayEquals(new float[]{10, 1}, good.toFloatArray());
            b.sync();
            b.flush();
            IllegalStateException e = assertThrows(IllegalStateException.class, bad::toFloatArray);
            IndexOutOfBoundsException cause = assertInstanceOf(IndexOutOfBoundsException.class, e.getCause());
            assertTrue(cause.getMessage().contains("42") && cause.getMessage().contains("10"), cause.getMessage());
            IllegalStateException d = assertThrows(IllegalStateException.class, derived::toFloatArray);
            assertTrue(d.getCause().getMessage().contains("42"), d.getCause().getMessage());
            IllegalStateException a = assertThrows(IllegalStateException.class, alsoBad::toFloatArray);
            assertTrue(a.getCause().getMessage().contains("-7"), a.getCause().getMessage());
            // Reading again throws again: the error stays with its tensors; unrelated work keeps working.
            assertThrows(IllegalStateException.class, bad::toFloatArray);
            assertArrayEquals(new float[]{5}, x.indexSelect(0, s.tensor(new long[]{5})).toFloatArray());
        } finally {
            other.shutdown();
        }
    }

    /** More index_selects than the backend has fault slots: an old fault is still found (resolved before reuse). */
    @Test
    void aFaultOutlivesTheSlotRing() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor index = s.tensor(new long[]{3});
            Tensor bad = x.indexSelect(0, s.tensor(new long[]{11}));
            b.sync();
            Tensor sum = s.zeros(DType.F32, 1);
            for (int i = 0; i < IndexFaults.SLOTS + IndexFaults.SLOTS / 2 + 3; i++) {
                sum = sum.add(x.indexSelect(0, index));
                if (i % 200 == 0) b.sync();
            }
            assertEquals(3f * (IndexFaults.SLOTS + IndexFaults.SLOTS / 2 + 3), sum.toFloatArray()[0]);
            IllegalStateException e = assertThrows(IllegalStateException.class, bad::toFloatArray);
            assertTrue(e.getCause().getMessage().contains("11"), e.getCause().getMessage());
        }
    }

    @Test
    void floatToI32SaturatesLikeTheCpuOnBothTiers() {
        float[] values = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e20f, -1e20f, 2.5f, -2.5f,
                2147483520f, -2147483648f, 2147483648f, -0.0f, 3e9f};
        int[] expected = new int[values.length];
        for (int i = 0; i < values.length; i++) expected[i] = (int) values[i];  // Java's cast: the documented one
        for (TieredOperators.Policy tier : new TieredOperators.Policy[]{null, TieredOperators.Policy.NEVER}) {
            GpuBackend b = new GpuBackend(os, 1024, Duration.ofSeconds(60), tier);
            String name = tier == null ? "native" : "interpreted";
            try (TensorScope g = TensorScope.open(b); TensorScope c = TensorScope.open(CpuBackend.eager())) {
                for (DType from : new DType[]{DType.F32, DType.F64, DType.F16, DType.BF16}) {
                    Tensor gx = g.tensor(values, from), cx = c.tensor(values, from);
                    int[] cpu = cx.to(DType.I32).toIntArray();
                    assertArrayEquals(cpu, gx.to(DType.I32).toIntArray(), name + " " + from + " -> I32");
                    // Fused with arithmetic: the store converts from the F32/F64 compute value, never through I64.
                    assertArrayEquals(cx.mul(1.0).to(DType.I32).toIntArray(), gx.mul(1.0).to(DType.I32).toIntArray(),
                            name + " " + from + " * 1 -> I32");
                    if (from == DType.F32) assertArrayEquals(expected, cpu, "cpu F32 -> I32");
                }
            }
        }
    }
}
