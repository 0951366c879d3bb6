package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.BufferLease;
import dev.gpuos.tensor.BufferLedger;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.TensorClosedException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;

/**
 * Host memory for the CPU backend, on the Java heap (a {@code long[]}, so every element type up to 8 bytes is
 * aligned). Not an {@code Arena.ofShared()} per buffer, as before: closing a shared arena makes the JVM wait
 * for every thread to leave code that might access it (a handshake), about 35 us a buffer and serialised
 * across threads (8 threads closing 160,000 buffers spent 120 s). Heap memory needs no such wait:
 * {@link #release} only drops this storage's reference to the array; a reader that fetched the segment just
 * before keeps its array alive until it is done, so a race with a close reads stale values at worst and never
 * touches freed memory, and every later access throws {@link TensorClosedException}. The GC frees the array,
 * and sees it, so an unreachable storage needs no help from the {@link BufferLedger} beyond the accounting.
 * Buffers too large for one array (over 16 GiB) are native, in an automatic arena, freed by the GC as well.
 */
public final class HostStorage implements Storage {
    /** The largest {@code long[]} HotSpot allocates, in bytes. */
    private static final long MAX_HEAP_BYTES = (Integer.MAX_VALUE - 8L) * 8;

    private final CpuBackend backend;
    private final long byteSize;
    private final Lease lease;
    private volatile MemorySegment segment;  // null once released

    /** Accounting only: the memory belongs to the storage, so the lease must not hold it (see the class comment). */
    private static final class Lease extends BufferLease {
        private final WeakReference<HostStorage> storage;
        private final long bytes;

        Lease(HostStorage storage, BufferLedger ledger, long bytes) {
            super(storage, ledger, bytes);
            this.storage = new WeakReference<>(storage);
            this.bytes = bytes;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        protected void free(boolean unreachable) {
            HostStorage s = storage.get();
            if (s != null) s.segment = null;  // an explicit release: the array goes as soon as no reader holds it
        }
    }

    HostStorage(CpuBackend backend, BufferLedger ledger, long byteSize) {
        this.backend = backend;
        this.byteSize = byteSize;
        // Zeroed either way (Java arrays, and Arena's contract).
        this.segment = byteSize <= MAX_HEAP_BYTES
                ? MemorySegment.ofArray(new long[(int) Math.ceilDiv(byteSize, 8)]).asSlice(0, byteSize)
                : Arena.ofAuto().allocate(byteSize, 64);
        this.lease = new Lease(this, ledger, byteSize);
    }

    @Override
    public Backend backend() { return backend; }

    @Override
    public long byteSize() { return byteSize; }

    @Override
    public boolean isReleased() { return lease.isReleased(); }

    @Override
    public BufferLease lease() { return lease; }

    /** Set when a recorded node writing this buffer could not run (see Skipped): its contents were never computed. */
    private volatile RuntimeException failure;

    @Override
    public void markNeverComputed(RuntimeException cause) {
        failure = cause;
    }

    @Override
    public RuntimeException neverComputed() {
        return failure;
    }

    /** The memory; throws {@link TensorClosedException} once released. */
    public MemorySegment segment() {
        MemorySegment s = segment;
        if (s == null || lease.isReleased()) {
            throw new TensorClosedException("host buffer of " + byteSize + " bytes on " + backend.name() + " was released");
        }
        return s;
    }

    /**
     * Frees the buffer after pending recorded nodes that touch it ran (batched mode): no submission runs while it
     * is marked released, and one that comes later skips the nodes that use it.
     */
    @Override
    public void release() {
        lease.release();
    }
}
