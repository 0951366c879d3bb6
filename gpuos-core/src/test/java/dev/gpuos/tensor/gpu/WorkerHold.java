package dev.gpuos.tensor.gpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a simulated worker's test operators waiting while a test submits, so no task completes before the test has
 * planned everything (no dependency may then be skipped as already complete). An operator calls {@link
 * #awaitRelease()} first; a test that never releases fails after 60 s instead of hanging.
 */
final class WorkerHold {
    private volatile boolean held;

    void set(boolean held) {
        this.held = held;
    }

    void awaitRelease() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (held) {
            if (System.nanoTime() - deadline > 0) throw new IllegalStateException("the test never let the worker run");
            LockSupport.parkNanos(100_000);
        }
    }
}
