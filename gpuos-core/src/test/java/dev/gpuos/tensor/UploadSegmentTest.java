package dev.gpuos.tensor;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tensor(MemorySegment, ...) on batching backends, whose flush may run on another thread after the call returned:
 * a confined segment is taken as any other (it was read on a timer thread, which threw "Attempted access outside
 * owning thread" into the tensor); a shared one closed before the upload ran is an error that says so, once, on
 * the tensor made from it and nowhere else.
 */
class UploadSegmentTest {
    private static final String PREFIX = "this tensor's data was never computed: ";

    private static void confinedAndClosed(Backend backend, boolean computes) throws InterruptedException {
        try (TensorScope s = TensorScope.open(backend); Arena confined = Arena.ofConfined()) {
            MemorySegment m = confined.allocate(16);
            for (int i = 0; i < 4; i++) m.setAtIndex(ValueLayout.JAVA_FLOAT, i, i + 0.5f);
            Tensor t = s.tensor(m, DType.F32, 4).add(1.0);
            Thread.sleep(30);   // the 1 ms batch age passes: the timer flushes on its own thread
            float[] v = t.toFloatArray();
            if (computes) assertArrayEquals(new float[]{1.5f, 2.5f, 3.5f, 4.5f}, v);
        }
        try (TensorScope s = TensorScope.open(backend)) {
            Arena shared = Arena.ofShared();
            MemorySegment m = shared.allocate(16);
            Tensor t = s.tensor(m, DType.F32, 4);
            Tensor u = t.mul(2.0);
            shared.close();
            Tensor other = s.ones(DType.F32, 2);
            var e = assertThrows(IllegalStateException.class, u::toFloatArray);
            String msg = e.getMessage();
            assertTrue(msg.contains("was closed before the upload read it") && msg.contains("tensor(data, F32, [4])"), msg);
            assertEquals(msg.indexOf(PREFIX), msg.lastIndexOf(PREFIX), "the reason is said once: " + msg);
            float[] ones = other.toFloatArray();   // the other tensors of the flush are not its business
            if (computes) assertArrayEquals(new float[]{1, 1}, ones);
        }
    }

    @Test
    void batchedCpuBackend() throws InterruptedException {
        confinedAndClosed(CpuBackend.batched(10_000, Duration.ofMillis(1)), true);
    }

    @Test
    void gpuBackendOnTheSimulatedDevice() throws InterruptedException {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1))) {
            confinedAndClosed(new GpuBackend(os, 16, Duration.ofMillis(1), null), false);   // operators do not compute
        }
    }

    @Test
    void eagerBackend() throws InterruptedException {
        try (TensorScope s = TensorScope.open(CpuBackend.eager()); Arena confined = Arena.ofConfined()) {
            MemorySegment m = confined.allocate(8);
            m.setAtIndex(ValueLayout.JAVA_FLOAT, 1, 2f);
            assertArrayEquals(new float[]{0, 2}, s.tensor(m, DType.F32, 2).toFloatArray());
        }
    }
}
