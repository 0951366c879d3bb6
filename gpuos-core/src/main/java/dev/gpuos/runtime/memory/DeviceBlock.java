package dev.gpuos.runtime.memory;

/**
 * A piece of device memory handed out by a {@link DeviceArena}: 256-byte aligned, {@link #capacity()} bytes
 * long, of which the caller asked for {@link #size()}.
 *
 * <p>A block is released exactly once, through {@link DeviceArena#release(DeviceBlock, long)}; the arena keeps
 * the bookkeeping fields below and mutates them only under its lock.
 */
public final class DeviceBlock implements dev.gpuos.runtime.DeviceBuffer {

    private final long address;
    private final long size;
    private final long capacity;
    final DeviceArena arena;
    /** The slab this block was carved from, or null for a dedicated allocation or a reserved extent. */
    final DeviceArena.Slab slab;
    /** The reserved region this block is an extent of, or null. */
    final ReservedRegion region;
    /** Buddy order within the slab (capacity = 256 << order); -1 for dedicated blocks. */
    final int order;
    /** Written under the arena lock; volatile so {@link #isReleased()} is meaningful from any thread. */
    private volatile boolean released;
    /** The block may be reused once completedSeq > lastUseSeq; set under the arena lock at release. */
    long lastUseSeq;

    DeviceBlock(DeviceArena arena, DeviceArena.Slab slab, int order, long address, long size, long capacity) {
        this(arena, slab, null, order, address, size, capacity);
    }

    DeviceBlock(DeviceArena arena, DeviceArena.Slab slab, ReservedRegion region, int order, long address, long size,
                long capacity) {
        this.arena = arena;
        this.slab = slab;
        this.region = region;
        this.order = order;
        this.address = address;
        this.size = size;
        this.capacity = capacity;
    }

    /** Device address of the first byte; a multiple of 256. */
    @Override
    public long address() {
        return address;
    }

    /** Bytes the caller asked for. */
    public long size() {
        return size;
    }

    /** Bytes actually reserved: the size class, or the dedicated allocation's size. */
    public long capacity() {
        return capacity;
    }

    /** True for a large request that got its own device allocation instead of a piece of a slab. */
    public boolean isDedicated() {
        return slab == null && region == null;
    }

    /** True for an extent of memory reserved ahead ({@link DeviceArena#reserve}). */
    public boolean isReserved() {
        return region != null;
    }

    public boolean isReleased() {
        return released;
    }

    /** Usable bytes: the size asked for (tasks are bounds-checked against this). */
    @Override
    public long byteSize() {
        return size;
    }

    @Override
    public boolean isLive() {
        return !released;
    }

    void markReleased() {
        released = true;
    }

    @Override
    public String toString() {
        return "DeviceBlock[address=0x" + Long.toHexString(address) + ", size=" + size + ", capacity=" + capacity
                + (region != null ? ", reserved" : slab == null ? ", dedicated" : "") + (released ? ", released" : "") + "]";
    }
}
