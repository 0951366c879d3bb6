package dev.gpuos.cuda;

/**
 * CUDA_ERROR_OUT_OF_MEMORY. When the failing call was an allocation, the requested size and the device's
 * free/total memory at the time of failure are recorded (-1 when not known), because "out of memory" alone
 * does not tell a fragmentation problem from a leak from a request that could never fit.
 */
public class CudaOutOfMemoryException extends CudaException {
    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long freeBytes;
    private final long totalBytes;

    public CudaOutOfMemoryException(String function, String errorName, String description, long requestedBytes,
                                    long freeBytes, long totalBytes) {
        super(function, CudaResult.ERROR_OUT_OF_MEMORY, errorName, description,
                detail(requestedBytes, freeBytes, totalBytes));
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
        this.totalBytes = totalBytes;
    }

    private static String detail(long requested, long free, long total) {
        StringBuilder sb = new StringBuilder();
        if (requested >= 0) {
            sb.append("requested ").append(requested).append(" bytes");
        }
        if (free >= 0 && total >= 0) {
            sb.append(sb.isEmpty() ? "" : ", ").append("device has ").append(free).append(" bytes free of ")
                    .append(total).append(" total");
        }
        return sb.toString();
    }

    public long requestedBytes() {
        return requestedBytes;
    }

    public long freeBytes() {
        return freeBytes;
    }

    public long totalBytes() {
        return totalBytes;
    }
}
