package dev.gpuos.cuda;

/**
 * A CUDA driver call returned an error. The message reads
 * {@code "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is invalid)"}, optionally
 * followed by call-specific detail.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String function;
    private final int code;
    private final String errorName;
    private final String description;

    /**
     * @param function    the driver function as the program called it, e.g. "cuModuleLoadData"
     * @param errorName   e.g. "CUDA_ERROR_INVALID_IMAGE" (cuGetErrorName)
     * @param description e.g. "device kernel image is invalid" (cuGetErrorString)
     * @param detail      call-specific context appended after the description, or null
     */
    public CudaException(String function, int code, String errorName, String description, String detail) {
        super(format(function, errorName, description, detail));
        this.function = function;
        this.code = code;
        this.errorName = errorName;
        this.description = description;
    }

    public CudaException(String function, int code, String errorName, String description) {
        this(function, code, errorName, description, null);
    }

    static String format(String function, String errorName, String description, String detail) {
        StringBuilder sb = new StringBuilder(function).append(" failed: ").append(errorName);
        if (description != null && !description.isEmpty()) {
            sb.append(" (").append(description).append(')');
        }
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }

    public String function() {
        return function;
    }

    /** The raw CUresult. */
    public int code() {
        return code;
    }

    public String errorName() {
        return errorName;
    }

    public String description() {
        return description;
    }

    /** True when the context is unusable after this error; see {@link CudaResult#isSticky(int)}. */
    public boolean isSticky() {
        return CudaResult.isSticky(code);
    }
}
