package dev.gpuos.runtime.memory;

/** The device could not supply memory. Nothing was leaked; the caller may release blocks and try again. */
public final class DeviceOutOfMemoryException extends RuntimeException {

    private final long requestedBytes;
    private final long freeBytes;

    public DeviceOutOfMemoryException(long requestedBytes, long freeBytes, String message) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
    }

    public DeviceOutOfMemoryException(long requestedBytes, long freeBytes, String message, Throwable cause) {
        super(message, cause);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
    }

    /** Bytes the failed request asked for (what the caller asked for, not the slab the arena wanted). */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Bytes the device reported free when the request failed. */
    public long freeBytes() {
        return freeBytes;
    }
}
