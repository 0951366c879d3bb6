package dev.gpuos.runtime;

/** A bounded wait ran out: the queue stayed full, or tasks did not complete in time. Nothing was lost. */
public final class QueueTimeoutException extends GpuOSException {
    public QueueTimeoutException(String message) {
        super(message);
    }
}
