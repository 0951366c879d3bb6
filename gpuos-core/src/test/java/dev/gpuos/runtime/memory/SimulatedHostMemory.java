package dev.gpuos.runtime.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/** Page-aligned host memory from one shared {@link Arena} per buffer, standing in for pinned memory. */
public final class SimulatedHostMemory implements HostMemory {

    private final Map<Long, Arena> live = new HashMap<>();
    private volatile boolean workerRunning;
    private long allocateCalls;

    public void setWorkerRunning(boolean running) {
        workerRunning = running;
    }

    @Override
    public synchronized MemorySegment allocate(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment segment = arena.allocate(bytes, 4096);
        live.put(segment.address(), arena);
        allocateCalls++;
        return segment;
    }

    @Override
    public synchronized void free(MemorySegment segment) {
        if (workerRunning) {
            throw new IllegalStateException("simulated cuMemFreeHost while the worker runs");
        }
        Arena arena = live.remove(segment.address());
        if (arena == null) {
            throw new IllegalArgumentException("free of unknown host segment 0x" + Long.toHexString(segment.address()));
        }
        arena.close();
    }

    @Override
    public boolean freeAllowed() {
        return !workerRunning;
    }

    public synchronized int liveBuffers() {
        return live.size();
    }

    public synchronized long allocateCalls() {
        return allocateCalls;
    }
}
