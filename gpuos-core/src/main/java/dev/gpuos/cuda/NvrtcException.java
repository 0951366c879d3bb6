package dev.gpuos.cuda;

/** NVRTC rejected a program. The message carries the whole compiler log, which is where the line numbers are. */
public class NvrtcException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String programName;
    private final int result;
    private final String resultName;
    private final String log;

    public NvrtcException(String programName, String step, int result, String resultName, String log) {
        super("NVRTC " + step + " failed for program '" + programName + "': " + resultName
                + (log == null || log.isBlank() ? " (no compiler log)" : "\n" + log.strip()));
        this.programName = programName;
        this.result = result;
        this.resultName = resultName;
        this.log = log == null ? "" : log;
    }

    public String programName() {
        return programName;
    }

    /** The raw nvrtcResult. */
    public int result() {
        return result;
    }

    public String resultName() {
        return resultName;
    }

    public String log() {
        return log;
    }

    /** Names of nvrtcResult values (nvrtc.h, CUDA 13.0) for when nvrtcGetErrorString is not reachable. */
    static String name(int result) {
        return switch (result) {
            case 0 -> "NVRTC_SUCCESS";
            case 1 -> "NVRTC_ERROR_OUT_OF_MEMORY";
            case 2 -> "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
            case 3 -> "NVRTC_ERROR_INVALID_INPUT";
            case 4 -> "NVRTC_ERROR_INVALID_PROGRAM";
            case 5 -> "NVRTC_ERROR_INVALID_OPTION";
            case 6 -> "NVRTC_ERROR_COMPILATION";
            case 7 -> "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
            case 8 -> "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION";
            case 9 -> "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION";
            case 10 -> "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID";
            case 11 -> "NVRTC_ERROR_INTERNAL_ERROR";
            case 12 -> "NVRTC_ERROR_TIME_FILE_WRITE_FAILED";
            case 13 -> "NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED";
            case 14 -> "NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED";
            case 15 -> "NVRTC_ERROR_PCH_CREATE";
            case 16 -> "NVRTC_ERROR_CANCELLED";
            case 17 -> "NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED";
            default -> "nvrtcResult(" + result + ")";
        };
    }
}
