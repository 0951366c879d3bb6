package dev.gpuos.runtime;

/**
 * The worker kernel is gone (a task faulted and the CUDA context holds a sticky error, or the worker exited
 * without being asked to). Every pending task fails with this; the runtime must be closed and started again.
 */
public final class WorkerDeadException extends GpuOSException {
    public WorkerDeadException(String message, Throwable cause) {
        super(message, cause);
    }
}
