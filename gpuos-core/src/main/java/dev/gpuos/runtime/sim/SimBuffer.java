package dev.gpuos.runtime.sim;

import dev.gpuos.runtime.DeviceBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * "Device" memory of the simulated device: a native segment whose address plays the device address, so task
 * descriptors carry the same kind of pointer the CUDA runtime writes. Each buffer has its own arena so that
 * releasing it really unmaps it (a simulated operator touching it afterwards fails, as it would on a GPU).
 */
public final class SimBuffer implements DeviceBuffer {
    private final Arena arena;
    private final MemorySegment segment;
    private volatile boolean live = true;

    SimBuffer(long byteSize) {
        if (byteSize < 1) {
            throw new IllegalArgumentException("buffer size must be >= 1 byte, was " + byteSize);
        }
        this.arena = Arena.ofShared();
        this.segment = arena.allocate(byteSize, 256);
    }

    @Override
    public long address() {
        return segment.address();
    }

    @Override
    public long byteSize() {
        return segment.byteSize();
    }

    @Override
    public boolean isLive() {
        return live;
    }

    /** The buffer's bytes, for the host side of tests (uploading inputs, checking outputs). */
    public MemorySegment segment() {
        if (!live) {
            throw new IllegalStateException("buffer at 0x" + Long.toHexString(address()) + " was released");
        }
        return segment;
    }

    void release() {
        live = false;
        arena.close();
    }
}
