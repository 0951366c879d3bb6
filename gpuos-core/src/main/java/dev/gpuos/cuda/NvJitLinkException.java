package dev.gpuos.cuda;

/**
 * nvJitLink failed. Both logs go into the message: the error log says what failed (an undefined symbol, an arch
 * mismatch) and the info log often says which input it came from.
 */
public class NvJitLinkException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String step;
    private final int result;
    private final String resultName;
    private final String errorLog;
    private final String infoLog;

    public NvJitLinkException(String step, int result, String errorLog, String infoLog) {
        super(format(step, result, errorLog, infoLog));
        this.step = step;
        this.result = result;
        this.resultName = name(result);
        this.errorLog = errorLog == null ? "" : errorLog;
        this.infoLog = infoLog == null ? "" : infoLog;
    }

    private static String format(String step, int result, String errorLog, String infoLog) {
        StringBuilder sb = new StringBuilder(step).append(" failed: ").append(name(result));
        sb.append("\nerror log: ").append(errorLog == null || errorLog.isBlank() ? "(empty)" : errorLog.strip());
        sb.append("\ninfo log: ").append(infoLog == null || infoLog.isBlank() ? "(empty)" : infoLog.strip());
        return sb.toString();
    }

    /** The nvJitLink function that failed, e.g. "nvJitLinkComplete". */
    public String step() {
        return step;
    }

    public int result() {
        return result;
    }

    public String resultName() {
        return resultName;
    }

    public String errorLog() {
        return errorLog;
    }

    public String infoLog() {
        return infoLog;
    }

    /** nvJitLinkResult names (nvJitLink.h, CUDA 13.0); nvJitLink has no error-string function of its own. */
    static String name(int result) {
        return switch (result) {
            case 0 -> "NVJITLINK_SUCCESS";
            case 1 -> "NVJITLINK_ERROR_UNRECOGNIZED_OPTION";
            case 2 -> "NVJITLINK_ERROR_MISSING_ARCH";
            case 3 -> "NVJITLINK_ERROR_INVALID_INPUT";
            case 4 -> "NVJITLINK_ERROR_PTX_COMPILE";
            case 5 -> "NVJITLINK_ERROR_NVVM_COMPILE";
            case 6 -> "NVJITLINK_ERROR_INTERNAL";
            case 7 -> "NVJITLINK_ERROR_THREADPOOL";
            case 8 -> "NVJITLINK_ERROR_UNRECOGNIZED_INPUT";
            case 9 -> "NVJITLINK_ERROR_FINALIZE";
            case 10 -> "NVJITLINK_ERROR_NULL_INPUT";
            case 11 -> "NVJITLINK_ERROR_INCOMPATIBLE_OPTIONS";
            case 12 -> "NVJITLINK_ERROR_INCORRECT_INPUT_TYPE";
            case 13 -> "NVJITLINK_ERROR_ARCH_MISMATCH";
            case 14 -> "NVJITLINK_ERROR_OUTDATED_LIBRARY";
            case 15 -> "NVJITLINK_ERROR_MISSING_FATBIN";
            case 16 -> "NVJITLINK_ERROR_UNRECOGNIZED_ARCH";
            case 17 -> "NVJITLINK_ERROR_UNSUPPORTED_ARCH";
            case 18 -> "NVJITLINK_ERROR_LTO_NOT_ENABLED";
            default -> "nvJitLinkResult(" + result + ")";
        };
    }
}
