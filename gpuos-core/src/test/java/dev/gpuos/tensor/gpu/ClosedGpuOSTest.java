package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A GpuOS closed under a backend still in use (scopes declared outside the GpuOS's try, or another thread's): what
 * was pending says why it never ran, new work says the GpuOS is closed, and closing the scopes afterwards is quiet
 * (it threw "GpuOS is closed" from close(), and a pending op's read said only "Already closed").
 */
class ClosedGpuOSTest {
    @Test
    void pendingWorkNewWorkAndScopeClosesAfterTheGpuOSClosed() {
        GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1));
        GpuBackend backend = new GpuBackend(os, 1024, Duration.ofHours(1), null);   // nothing flushes on its own
        TensorScope scope = TensorScope.open(backend);
        Tensor a = scope.ones(DType.F32, 8);
        Tensor pending = a.add(1.0);
        os.close();
        var e = assertThrows(IllegalStateException.class, pending::toFloatArray);
        assertTrue(e.getMessage().contains("still pending when its GpuOS closed"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> a.mul(2.0));
        assertTrue(e.getMessage().contains("GpuOS is closed"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> TensorScope.open(backend).ones(DType.F32, 2));
        assertTrue(e.getMessage().contains("GpuOS is closed"), e.getMessage());
        assertDoesNotThrow(scope::close);
        assertDoesNotThrow(scope::close);
    }
}
