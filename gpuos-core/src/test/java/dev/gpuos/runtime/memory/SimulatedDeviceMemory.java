package dev.gpuos.runtime.memory;

import java.util.Map;
import java.util.TreeMap;

/**
 * A device for CPU tests: hands out address ranges from a fake address space with a byte budget, and refuses
 * to free while a (pretend) worker kernel runs, as the real driver would hang.
 *
 * <p>Allocations are 512-byte aligned and deliberately not aligned to their size, so an arena that assumed
 * size-aligned slabs would break here.
 */
public final class SimulatedDeviceMemory implements DeviceMemory {

    private static final long BASE = 0x7f00_0000_0000L;
    private static final long ALIGNMENT = 512;

    private final long totalBytes;
    private final TreeMap<Long, Long> live = new TreeMap<>();
    private long nextAddress = BASE + ALIGNMENT;
    private long usedBytes;
    private long allocateCalls;
    private long freeCalls;
    private volatile boolean workerRunning;

    public SimulatedDeviceMemory(long totalBytes) {
        this.totalBytes = totalBytes;
    }

    /** Pretend a worker kernel starts (true) or parks (false). */
    public void setWorkerRunning(boolean running) {
        workerRunning = running;
    }

    @Override
    public synchronized long allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        if (bytes > totalBytes - usedBytes) {
            throw new DeviceOutOfMemoryException(bytes, totalBytes - usedBytes, "simulated device out of memory: "
                    + bytes + " bytes requested, " + (totalBytes - usedBytes) + " free");
        }
        long address = nextAddress;
        // Leave a gap so that adjacent allocations are never contiguous: overruns show up as out-of-range.
        nextAddress += (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT + ALIGNMENT;
        live.put(address, bytes);
        usedBytes += bytes;
        allocateCalls++;
        return address;
    }

    @Override
    public synchronized void free(long address) {
        if (workerRunning) {
            throw new IllegalStateException("simulated cuMemFree while the worker runs: would block forever");
        }
        Long bytes = live.remove(address);
        if (bytes == null) {
            throw new IllegalArgumentException("free of unknown device address 0x" + Long.toHexString(address));
        }
        usedBytes -= bytes;
        freeCalls++;
    }

    @Override
    public synchronized long freeBytes() {
        return totalBytes - usedBytes;
    }

    @Override
    public long totalBytes() {
        return totalBytes;
    }

    @Override
    public boolean freeAllowed() {
        return !workerRunning;
    }

    /** True if [address, address + bytes) lies inside one live allocation. */
    public synchronized boolean contains(long address, long bytes) {
        Map.Entry<Long, Long> e = live.floorEntry(address);
        return e != null && address + bytes <= e.getKey() + e.getValue();
    }

    public synchronized int liveAllocations() {
        return live.size();
    }

    public synchronized long usedBytes() {
        return usedBytes;
    }

    public synchronized long allocateCalls() {
        return allocateCalls;
    }

    public synchronized long freeCalls() {
        return freeCalls;
    }
}
