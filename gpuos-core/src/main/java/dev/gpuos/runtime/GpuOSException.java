package dev.gpuos.runtime;

/** Base of the runtime's own failures (CUDA errors arrive as {@code dev.gpuos.cuda.CudaException}). */
public class GpuOSException extends RuntimeException {
    public GpuOSException(String message) {
        super(message);
    }

    public GpuOSException(String message, Throwable cause) {
        super(message, cause);
    }
}
