package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who a bad index_select index belongs to. An operator cannot throw, so each index_select task (outside
 * captures) gets an id and writes its first bad index into a slot of its own, {@code (stamp, index, size, dim)},
 * in a ring of {@link #SLOTS} slots in device memory. The stamp is id + 1 and is set with atomicMax, so a slot
 * never needs clearing: a stale stamp of an older id is smaller, and "this task faulted" is "the slot holds my
 * stamp". Buffers carry the ids of the index_selects their contents were computed from
 * ({@link GpuStorage#faultIds()}), so reading a tensor checks exactly its own ancestry: a bad index is thrown by
 * reads of what depends on it, on any thread, and by nothing else.
 *
 * <p>A slot is reused by id + SLOTS. Before that, ids are resolved half a ring at a time (one await and one
 * download per SLOTS / 2 index_selects, on the planning thread), so no result is lost; a read that needs an id
 * not yet resolved downloads its one slot (its task has completed: it is an ancestor of the buffer's writer,
 * which the read awaited).
 */
final class IndexFaults {
    static final int SLOTS = 1024;
    static final long SLOT_BYTES = 32;
    private static final int HALF = SLOTS / 2;

    private final GpuOS os;
    private final DeviceBlock slots;
    /** The seq after each slot's current task (0: not submitted; it never runs, so it cannot fault). */
    private final long[] taskEnd = new long[SLOTS];
    /** The id each slot was last resolved for (-1: none). */
    private final long[] resolvedId = new long[SLOTS];
    private final Map<Long, IndexOutOfBoundsException> failed = new ConcurrentHashMap<>();
    private long nextId;          // guarded by this
    private long resolvedBelow;   // every id below is resolved (guarded by this)

    IndexFaults(GpuOS os) {
        this.os = os;
        try (Arena a = Arena.ofConfined()) {
            this.slots = os.allocateCopy(a.allocate(SLOTS * SLOT_BYTES));  // zeroed: stamp 0 is nobody's
        }
        java.util.Arrays.fill(resolvedId, -1);
    }

    DeviceBlock block() { return slots; }

    /** Element offset (I64) of id's slot in {@link #block()}. */
    static long slotOffset(long id) { return (id % SLOTS) * (SLOT_BYTES / 8); }

    static long stamp(long id) { return id + 1; }

    /** A new id for an index_select task being planned; resolves the oldest half ring first if it is needed. */
    synchronized long assign() {
        long id = nextId;
        if (id - resolvedBelow >= SLOTS) resolveHalf();
        nextId++;
        taskEnd[(int) (id % SLOTS)] = 0;
        return id;
    }

    /** The task with {@code id} was submitted; it completes before {@code end}. */
    synchronized void submitted(long id, long end) {
        taskEnd[(int) (id % SLOTS)] = end;
    }

    /** Whether {@code id} is known not to have faulted (so a buffer's taint can drop it). */
    synchronized boolean knownGood(long id) {
        return resolved(id) && !failed.containsKey(id);
    }

    private boolean resolved(long id) {
        return id < resolvedBelow || resolvedId[(int) (id % SLOTS)] == id;
    }

    /** Resolves ids [resolvedBelow, resolvedBelow + HALF): one slot-aligned range of the ring. */
    private void resolveHalf() {
        long from = resolvedBelow;
        int first = (int) (from % SLOTS);
        long since = Long.MAX_VALUE, until = 0;
        for (int i = 0; i < HALF; i++) {
            long end = taskEnd[first + i];
            if (end > 0) {
                since = Math.min(since, end - 1);
                until = Math.max(until, end);
            }
        }
        if (until > 0) os.await(since, until);  // long submitted: normally complete already
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(HALF * SLOT_BYTES, 8);
            os.download(m, slots, first * SLOT_BYTES);
            for (int i = 0; i < HALF; i++) note(from + i, m.asSlice(i * SLOT_BYTES, SLOT_BYTES));
        }
        resolvedBelow = from + HALF;
    }

    private void note(long id, MemorySegment slot) {
        resolvedId[(int) (id % SLOTS)] = id;
        if (slot.getAtIndex(ValueLayout.JAVA_LONG, 0) != stamp(id)) return;
        long index = slot.getAtIndex(ValueLayout.JAVA_LONG, 1), size = slot.getAtIndex(ValueLayout.JAVA_LONG, 2);
        long dim = slot.getAtIndex(ValueLayout.JAVA_LONG, 3);
        failed.put(id, new IndexOutOfBoundsException("index_select: index " + index + " is out of range for dimension "
                + dim + " of size " + size));
    }

    /**
     * Throws if one of {@code ids} (a buffer's ancestry, its writer awaited) faulted. Called by reads, on any
     * thread.
     */
    void check(long[] ids) {
        if (ids == null) return;
        for (long id : ids) {
            IndexOutOfBoundsException f;
            synchronized (this) {
                if (!resolved(id)) {
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment m = a.allocate(SLOT_BYTES, 8);
                        os.download(m, slots, slotOffset(id) * 8);
                        note(id, m);
                    }
                }
                f = failed.get(id);
            }
            if (f != null) {
                throw new IllegalStateException("a recorded op this tensor was computed from failed when it ran on the"
                        + " gpu backend: " + f.getMessage(), f);
            }
        }
    }
}
