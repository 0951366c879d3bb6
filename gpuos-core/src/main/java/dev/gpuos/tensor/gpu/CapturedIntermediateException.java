package dev.gpuos.tensor.gpu;

/**
 * A tensor that a program captured with {@link GpuBackend#captureReturning} created and did not return was used
 * after the capture: read, or named by a later op. Its replays may keep it in registers only, so its buffer holds
 * nothing meaningful; the program must return it (or copy it into a tensor made before the capture) to use it.
 * Thrown at the call site; the buffer is also marked never computed
 * ({@link dev.gpuos.tensor.Storage#neverComputed()}), so no path reads it as data.
 */
public final class CapturedIntermediateException extends IllegalStateException {
    CapturedIntermediateException(String message) {
        super(message);
    }
}
