package dev.gpuos.runtime.memory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Reuses pinned host buffers that stage uploads and downloads, by power-of-two size class (from 4 KiB).
 *
 * <p>Pinning is expensive (a driver call that locks pages, often milliseconds) and, like device memory, pinned
 * memory is only handed back while freeing cannot block on the worker, so buffers are kept and reused; they go
 * back to the host only in {@link #trim()} and {@link #close()}.
 *
 * <p>Contract: {@link #release(MemorySegment)} means the buffer is reusable now. A caller that staged an
 * asynchronous copy must release only after that copy completed (stream synchronised or its event passed).
 *
 * <p>Thread-safe; one lock guards the bookkeeping.
 */
public final class PinnedStagingPool implements AutoCloseable {

    /** Smallest buffer handed to {@link HostMemory#allocate}: one page. */
    public static final long MIN_BUFFER_BYTES = 4096;

    private final HostMemory host;
    private final Object lock = new Object();
    // Guarded by lock.
    /** Idle buffers by class order: class bytes = MIN_BUFFER_BYTES << order. */
    private final Map<Integer, ArrayDeque<MemorySegment>> idleByOrder = new HashMap<>();
    /** Buffers handed out, by address of their first byte (what acquire returned starts there too). */
    private final Map<Long, MemorySegment> lent = new HashMap<>();
    /** Every buffer the pool holds (lent or idle), by address: tells a double release from a foreign one. */
    private final Map<Long, MemorySegment> owned = new HashMap<>();
    private long bytesLent;
    private long bytesIdle;
    private boolean closed;

    public PinnedStagingPool(HostMemory host) {
        this.host = Objects.requireNonNull(host, "host");
    }

    /** The buffer size a request of {@code bytes} is rounded up to. */
    static long sizeClassOf(long bytes) {
        return MIN_BUFFER_BYTES << orderOf(bytes);
    }

    private static int orderOf(long bytes) {
        if (bytes <= MIN_BUFFER_BYTES) {
            return 0;
        }
        return 64 - Long.numberOfLeadingZeros(bytes - 1) - Long.numberOfTrailingZeros(MIN_BUFFER_BYTES);
    }

    /** A pinned segment of exactly {@code bytes} (a prefix of a pooled buffer of its size class). */
    public MemorySegment acquire(long bytes) {
        if (bytes <= 0 || bytes > (1L << 62)) {
            throw new IllegalArgumentException("bytes must be in [1, 2^62], got " + bytes);
        }
        int order = orderOf(bytes);
        long classBytes = MIN_BUFFER_BYTES << order;
        synchronized (lock) {
            requireOpen();
            ArrayDeque<MemorySegment> idle = idleByOrder.get(order);
            MemorySegment buffer = idle == null ? null : idle.poll();
            if (buffer != null) {
                bytesIdle -= classBytes;
            } else {
                buffer = host.allocate(classBytes);
                if (buffer.byteSize() < classBytes) {
                    throw new IllegalStateException("host memory returned " + buffer.byteSize()
                            + " bytes for a request of " + classBytes);
                }
                buffer = buffer.asSlice(0, classBytes);
                owned.put(buffer.address(), buffer);
            }
            lent.put(buffer.address(), buffer);
            bytesLent += classBytes;
            return bytes == classBytes ? buffer : buffer.asSlice(0, bytes);
        }
    }

    /**
     * Makes a segment returned by {@link #acquire} reusable.
     *
     * @throws IllegalStateException    if it was already released
     * @throws IllegalArgumentException if this pool did not hand it out
     */
    public void release(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        synchronized (lock) {
            requireOpen();
            MemorySegment buffer = lent.remove(segment.address());
            if (buffer == null) {
                if (owned.containsKey(segment.address())) {
                    throw new IllegalStateException("double release of staging buffer at 0x"
                            + Long.toHexString(segment.address()));
                }
                throw new IllegalArgumentException("segment at 0x" + Long.toHexString(segment.address())
                        + " was not acquired from this pool");
            }
            long classBytes = buffer.byteSize();
            bytesLent -= classBytes;
            bytesIdle += classBytes;
            idleByOrder.computeIfAbsent(orderOf(classBytes), k -> new ArrayDeque<>()).push(buffer);
        }
    }

    /**
     * Returns idle buffers to the host.
     *
     * @return bytes freed
     * @throws IllegalStateException while {@link HostMemory#freeAllowed()} is false
     */
    public long trim() {
        synchronized (lock) {
            if (closed) {
                return 0;
            }
            requireFreeAllowed("trim");
            long freed = 0;
            for (ArrayDeque<MemorySegment> idle : idleByOrder.values()) {
                while (!idle.isEmpty()) {
                    MemorySegment buffer = idle.peek();
                    host.free(buffer);
                    idle.pop();
                    owned.remove(buffer.address());
                    bytesIdle -= buffer.byteSize();
                    freed += buffer.byteSize();
                }
            }
            return freed;
        }
    }

    /** Frees every buffer, lent ones included (their segments must not be used afterwards). Idempotent. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            requireFreeAllowed("close");
            trim();
            for (MemorySegment buffer : lent.values()) {
                host.free(buffer);
                owned.remove(buffer.address());
            }
            lent.clear();
            bytesLent = 0;
            closed = true;
        }
    }

    /** Bytes of buffers currently acquired (whole size classes). */
    public long bytesLent() {
        synchronized (lock) {
            return bytesLent;
        }
    }

    /** Bytes of pooled buffers waiting for reuse. */
    public long bytesIdle() {
        synchronized (lock) {
            return bytesIdle;
        }
    }

    private void requireFreeAllowed(String action) {
        if (!host.freeAllowed()) {
            throw new IllegalStateException("cannot " + action + " pinned staging buffers while freeing host "
                    + "memory could block on the running worker kernel; park the worker first");
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("staging pool is closed");
        }
    }
}
