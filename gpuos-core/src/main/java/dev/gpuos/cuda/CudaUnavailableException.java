package dev.gpuos.cuda;

/**
 * A CUDA library (driver, NVRTC or nvJitLink) could not be loaded, or lacks a symbol this binding needs. The
 * message names the library and every place that was searched, so the fix (install, or point the
 * {@code gpuos.*.library} property at the file) is visible without a debugger.
 */
public class CudaUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String library;
    private final String reason;

    public CudaUnavailableException(String library, String reason) {
        super(library + " is unavailable: " + reason);
        this.library = library;
        this.reason = reason;
    }

    /** Display name such as "CUDA driver (libcuda)". */
    public String library() {
        return library;
    }

    public String reason() {
        return reason;
    }
}
