package dev.gpuos;

/** No usable GPU: no NVIDIA driver, no device, or the CUDA libraries could not be loaded. */
public final class GpuUnavailableException extends RuntimeException {
    public GpuUnavailableException(String reason) {
        super("no GPU: " + reason);
    }
}
