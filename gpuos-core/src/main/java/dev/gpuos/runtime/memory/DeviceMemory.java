package dev.gpuos.runtime.memory;

/**
 * What {@link DeviceArena} needs from a GPU: raw allocations straight from the driver.
 *
 * <p>The production implementation wraps {@code cuMemAlloc}/{@code cuMemFree}; tests use a simulated device.
 * Calls may come from several threads, but the arena serialises its own calls under its lock.
 */
public interface DeviceMemory {

    /**
     * Allocates {@code bytes} of device memory, aligned to at least 256 bytes.
     *
     * @return the device address, never 0
     * @throws DeviceOutOfMemoryException naming the requested and the free bytes when the device is full
     */
    long allocate(long bytes);

    /**
     * Returns an allocation made by {@link #allocate}. Only legal while {@link #freeAllowed()} is true: the
     * driver's free waits for the context to go idle, which never happens while a worker kernel runs.
     */
    void free(long address);

    /** Device bytes the driver could still hand out. */
    long freeBytes();

    /** Total device bytes. */
    long totalBytes();

    /** False while a worker kernel runs, i.e. while {@link #free} would block forever. */
    boolean freeAllowed();
}
