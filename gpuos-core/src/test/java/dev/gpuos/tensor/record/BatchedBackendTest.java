package dev.gpuos.tensor.record;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lazy path of the API on the CPU backend's batched mode: ops record, sync points submit. */
class BatchedBackendTest {

    @Test
    void opsRecordUntilASyncPoint() {
        CpuBackend backend = CpuBackend.batched(1000, Duration.ofHours(1));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.arange(0, 6, 1).to(DType.F32).reshape(2, 3);
            Tensor y = x.mul(2.0).add(1.0).relu().sum(new int[]{1}, false);
            assertEquals(0, backend.executedCount());
            assertEquals(6, backend.pendingCount());
            assertArrayEquals(new float[]{9, 27}, y.toFloatArray());
            assertEquals(0, backend.pendingCount());
            assertEquals(1, backend.submissionCount());
            assertEquals(6, backend.executedCount());
        }
    }

    @Test
    void aSizeBoundSubmitsWithoutASyncPoint() {
        CpuBackend backend = CpuBackend.batched(4, Duration.ofHours(1));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.ones(DType.F32, 8);
            for (int i = 0; i < 9; i++) x = x.add(1.0);
            assertEquals(2, backend.submissionCount());
            assertEquals(2, backend.pendingCount());
            assertEquals(10.0, x.sum().item() / 8);
        }
    }

    @Test
    void aTimeBoundSubmitsEventually() throws InterruptedException {
        CpuBackend backend = CpuBackend.batched(1000, Duration.ofMillis(20));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.ones(DType.F32, 8).mul(3.0);
            // Wait for the timer thread, not for a deadline: the assertion is that it happens at all. The timer
            // empties the pending list before it runs the batch, so wait for the execution, not for the drain.
            for (int i = 0; i < 1000 && (backend.pendingCount() > 0 || backend.executedCount() < 2); i++) {
                Thread.sleep(10);
            }
            assertEquals(0, backend.pendingCount());
            assertEquals(2, backend.executedCount());
            assertEquals(24.0, x.sum().item());
        }
    }

    @Test
    void severalThreadsRecordAtOnce() throws Exception {
        CpuBackend backend = CpuBackend.batched(7, Duration.ofMillis(5));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                final float base = t;
                results.add(pool.submit(() -> {
                    try (TensorScope s = TensorScope.open(backend)) {
                        Tensor x = s.full(base, DType.F32, 16);
                        for (int i = 0; i < 50; i++) x = x.add(1.0).mul(1.0);
                        return x.sum(new int[]{0}, true).toFloatArray();
                    }
                }));
            }
            for (int t = 0; t < 4; t++) assertArrayEquals(new float[]{16 * (t + 50)}, results.get(t).get(1, java.util.concurrent.TimeUnit.MINUTES), "thread " + t);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void failuresFoundWhileRunningSurfaceWhereTheFailedResultIsRead() {
        CpuBackend backend = CpuBackend.batched(1000, Duration.ofHours(1));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor picked = s.ones(DType.F32, 3).indexSelect(0, s.tensor(new long[]{5}));
            s.sync();  // the failure is picked's, not the backend's
            IllegalStateException e = assertThrows(IllegalStateException.class, picked::toFloatArray);
            assertInstanceOf(IndexOutOfBoundsException.class, e.getCause());
            assertTrue(e.getMessage().contains("5"), e.getMessage());
        }
    }

    @Test
    void closingAScopeRunsPendingWorkBeforeFreeing() {
        CpuBackend backend = CpuBackend.batched(1000, Duration.ofHours(1));
        Tensor kept;
        try (TensorScope outer = TensorScope.open(backend)) {
            try (TensorScope inner = TensorScope.open(backend)) {
                Tensor tmp = inner.ones(DType.F32, 4).mul(5.0);
                kept = outer.zeros(DType.F32, 4);
                kept = tmp.add(kept).transferTo(outer);
                assertTrue(backend.pendingCount() > 0);
            }
            assertArrayEquals(new float[]{5, 5, 5, 5}, kept.toFloatArray());
        }
    }

    @Test
    void aNodeOnAReleasedBufferIsSkippedAndPoisonsOnlyWhatItWrites() {
        CpuBackend cpu = CpuBackend.batched(1024, Duration.ofHours(1));
        try (TensorScope live = TensorScope.open(cpu)) {
            Tensor out = live.zeros(dev.gpuos.tensor.DType.F32, 4), ok = live.zeros(dev.gpuos.tensor.DType.F32, 4);
            Tensor a = live.ones(dev.gpuos.tensor.DType.F32, 4);
            Tensor gone;
            try (TensorScope closing = TensorScope.open(cpu)) {
                gone = closing.ones(dev.gpuos.tensor.DType.F32, 4);
            }
            // What a racing thread can leave behind: a node that passed its open check, recorded after the close.
            cpu.submit(new dev.gpuos.tensor.op.ElementwiseNode(dev.gpuos.tensor.op.ElementwiseOp.ADD,
                    List.of(gone, gone), out, dev.gpuos.tensor.DType.F32, new double[0]));
            Tensor derived = out.add(1.0);   // reads the never-computed buffer: skipped too
            cpu.submit(new dev.gpuos.tensor.op.ElementwiseNode(dev.gpuos.tensor.op.ElementwiseOp.ADD,
                    List.of(a, a), ok, dev.gpuos.tensor.DType.F32, new double[0]));
            cpu.flush();                     // nothing failed that anyone else has to hear about
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[]{2, 2, 2, 2}, ok.toFloatArray());
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    out::toFloatArray);
            org.junit.jupiter.api.Assertions.assertInstanceOf(dev.gpuos.tensor.TensorClosedException.class, e.getCause());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, derived::toFloatArray);
        }
    }
}
