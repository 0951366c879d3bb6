package dev.gpuos.runtime.memory;

import java.util.Map;
import java.util.TreeMap;

/**
 * One device allocation taken ahead of need ({@link DeviceArena#reserve}) and cut into exact, 256-byte aligned
 * extents, first fit by address; a returned extent merges with its free neighbours. Why: the driver's
 * {@code cuMemAlloc} costs about 10 ms a call while the persistent worker runs (models-3-1: 98 fresh blocks of a
 * 1B model's weights took 1,049 ms of a 1,388 ms first load), so a model load takes its memory in one call. Exact
 * extents also spare the weights the buddy classes' rounding (a 12.6 MB q/k/v weight would take a 16 MB class).
 * Guarded by the arena's lock.
 */
final class ReservedRegion {
    final long base;
    final long bytes;
    /** Free extents: address to length, none adjacent to another (merged on return). */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private long freeBytes;

    ReservedRegion(long base, long bytes) {
        this.base = base;
        this.bytes = bytes;
        free.put(base, bytes);
        freeBytes = bytes;
    }

    long freeBytes() {
        return freeBytes;
    }

    boolean isWhollyFree() {
        return freeBytes == bytes;
    }

    /** The lowest free extent of at least {@code length} bytes (a multiple of 256), taken; -1 if none is long enough. */
    long take(long length) {
        if (length > freeBytes) return -1;
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long at = e.getKey(), len = e.getValue();
            if (len < length) continue;
            free.remove(at);
            if (len > length) free.put(at + length, len - length);
            freeBytes -= length;
            return at;
        }
        return -1;
    }

    /** Gives back an extent {@link #take} handed out, merging it with the free extents on either side. */
    void giveBack(long at, long length) {
        if (at < base || at + length > base + bytes) {
            throw new IllegalArgumentException("extent 0x" + Long.toHexString(at) + "+" + length
                    + " is outside the reserved region 0x" + Long.toHexString(base) + "+" + bytes);
        }
        long start = at, len = length;
        Map.Entry<Long, Long> below = free.floorEntry(at);
        if (below != null && below.getKey() + below.getValue() > at) {
            throw new IllegalStateException("extent 0x" + Long.toHexString(at) + " is already free");
        }
        if (below != null && below.getKey() + below.getValue() == at) {
            start = below.getKey();
            len += below.getValue();
            free.remove(start);
        }
        Long next = free.get(at + length);
        if (next != null) {
            free.remove(at + length);
            len += next;
        }
        free.put(start, len);
        freeBytes += length;
    }

    boolean contains(long address) {
        return address >= base && address < base + bytes;
    }
}
