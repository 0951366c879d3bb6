package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorScopeTest {

    @Test
    void closingFreesEveryTensorAndIsIdempotent() {
        TensorScope s = TensorScope.open();
        Tensor a = s.ones(DType.F32, 4);
        Tensor b = a.mul(3.0);
        Tensor view = b.reshape(2, 2);
        s.close();
        s.close();
        assertTrue(a.isClosed() && b.isClosed() && view.isClosed());
        assertThrows(TensorClosedException.class, () -> b.add(1.0));
        assertThrows(TensorClosedException.class, view::toFloatArray);
        assertThrows(TensorClosedException.class, () -> s.zeros(DType.F32, 1));
    }

    @Test
    void resultsBelongToTheInnermostScopeAndCanBeTransferred() {
        try (TensorScope outer = TensorScope.open()) {
            Tensor w = outer.ones(DType.F32, 3);
            Tensor kept, dropped;
            try (TensorScope inner = TensorScope.open()) {
                dropped = w.add(1.0);
                kept = w.mul(2.0).transferTo(outer);
                assertSame(inner, TensorScope.current().orElseThrow());
            }
            assertTrue(dropped.isClosed());
            assertFalse(kept.isClosed());
            assertFalse(w.isClosed());
            assertArrayEquals(new float[]{2, 2, 2}, kept.toFloatArray());
            assertSame(outer, TensorScope.current().orElseThrow());
        }
    }

    @Test
    void onAThreadWithoutScopeResultsJoinTheFirstOperandsScope() throws Exception {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.ones(DType.F32, 2);
            AtomicReference<Tensor> result = new AtomicReference<>();
            Thread t = new Thread(() -> result.set(x.add(x)));
            t.start();
            assertTrue(t.join(java.time.Duration.ofMinutes(1)), "the adding thread did not finish within 1 min");
            assertSame(s, result.get().scope());
            assertArrayEquals(new float[]{2, 2}, result.get().toFloatArray());
        }
    }

    @Test
    void aLeakedScopeIsReleasedByTheCleaner() throws InterruptedException {
        Storage leaked = leakOne();
        for (int i = 0; i < 500 && !leaked.isReleased(); i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertTrue(leaked.isReleased(), "the Cleaner did not release the storage of an unreachable, unclosed scope");
    }

    private static Storage leakOne() {
        TensorScope s = TensorScope.open(CpuBackend.eager());
        return s.ones(DType.F32, 16).storage();
    }
}
