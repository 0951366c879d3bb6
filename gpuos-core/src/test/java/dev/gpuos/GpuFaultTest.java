package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A task that faults on the GPU leaves a sticky CUDA error that no later CUDA call in the process survives, so
 * this class runs in a JVM of its own (tag gpu-fault; scripts/gpu-check.sh runs it last).
 */
@Tag("gpu")
@Tag("gpu-fault")
class GpuFaultTest {

    @BeforeEach
    void gpu() {
        assumeGpu();
    }

    /**
     * An operator that writes far out of bounds kills the kernel (sticky CUDA error): every pending future fails
     * with the CUDA error, nothing hangs, close works, and a new instance in the same JVM is refused with the reason
     * (CUDA refuses all work in a process after a sticky error). Runs last: nothing can use the GPU after it.
     */
    @Test
    void faultingOperatorFailsPendingWorkAndTheNextStartIsRefusedClearly() throws Exception {
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            OperatorRef oob = os.register("oob_f32", op("oob_f32"));
            DeviceBlock buf = os.allocate(4096);
            TaskBatch batch = os.newBatch();
            batch.add(oob, 1, 1).refContiguous(0, buf, 0, DTypeCode.F32, 1024);
            CompletableFuture<Void> bad = os.submitAsync(batch);
            batch.clear();
            List<CompletableFuture<Void>> after = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                batch.add(fill, 4, 256).argDouble(0, 1).argDouble(1, 0).refContiguous(0, buf, 0, DTypeCode.F32, 1024);
                after.add(os.submitAsync(batch));
                batch.clear();
            }
            long t0 = System.nanoTime();
            ExecutionException failure = assertThrows(ExecutionException.class, () -> bad.get(30, TimeUnit.SECONDS));
            long detectMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertInstanceOf(WorkerDeadException.class, failure.getCause());
            assertTrue(String.valueOf(failure.getCause().getMessage()).contains("CUDA_ERROR"),
                    failure.getCause().getMessage());
            for (var f : after) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                assertInstanceOf(WorkerDeadException.class, e.getCause());
            }
            batch.add(fill, 1, 1).argDouble(0, 0).argDouble(1, 0).refContiguous(0, buf, 0, DTypeCode.F32, 1);
            assertThrows(WorkerDeadException.class, () -> os.submit(batch));
            System.out.println("fault detected after " + detectMillis + " ms: " + failure.getCause().getMessage());
        }
        // CUDA keeps a sticky error for the life of the process: a new instance must say so, not hang or crash.
        GpuUnavailableException again = assertThrows(GpuUnavailableException.class, () -> GpuOS.start(options()));
        assertTrue(again.getMessage().contains("new process"), again.getMessage());
    }

}
