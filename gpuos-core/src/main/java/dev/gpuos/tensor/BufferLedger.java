package dev.gpuos.tensor;

import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * One backend's buffers: how many are live and how many bytes they hold, and the reclamation of those whose
 * {@link Storage} became unreachable without its scope being closed (PyTorch frees a tensor on its last
 * reference; in Java the GC finds it, and a {@link BufferLease} tells this ledger).
 *
 * <p>The GC sees the Java objects, not the device memory behind them: a loop of small tensor objects over big
 * device buffers can fill the device long before the heap asks for a collection. So this does what the JDK does
 * for direct buffers ({@code java.nio.Bits.reserveMemory}): {@link #reserve} before each allocation compares the
 * bytes in use with a soft limit and, above it, asks for a collection ({@code System.gc()}) and waits, with
 * bounded retries, for the references it discovers to be processed, before letting the allocation go on. After
 * such a round the limit that triggers the next one is at least twice what is still live, so a program that
 * truly holds more than the soft limit pays O(log) rounds, not one per allocation. An allocation the backend
 * still cannot satisfy calls {@link #relieve} the same way before failing.
 *
 * <p>When memory is given back is the backend's business ({@link Hooks}): a buffer released explicitly may still
 * be used by recorded ops (they run first); one found unreachable is used by no recorded op (they reference
 * it), but a GPU task already submitted may still touch it, which the device arena's seq-gated reuse covers.
 */
public final class BufferLedger {
    /** Where the backend lets memory be given back. */
    public interface Hooks {
        /** Runs {@code action} after every recorded op that may touch the buffers has run or been submitted. */
        void afterPendingWork(Runnable action);

        /** Runs {@code action} where no submission is being built (the buffers are unreachable: nothing records them). */
        void betweenSubmissions(Runnable action);

        /**
         * Gives back the memory of {@code leases}, each released exactly once (called from the actions above). A
         * backend whose memory has a lock of its own overrides this to take it once for all of them: a scope's
         * close hands over every buffer it owns at once.
         */
        default void free(List<BufferLease> leases, boolean unreachable) {
            for (int i = 0; i < leases.size(); i++) leases.get(i).free(unreachable);
        }

        /**
         * Hands recorded work not yet submitted to the device, where the backend can do so from the calling thread
         * (not inside a submission or a capture): until then its nodes reference every buffer they use, so the
         * results a loop already dropped cannot become unreachable. Called before a relief asks for a collection.
         */
        default void submitPending() {}
    }

    /** Waits of {@link #relieve}: 1, 2, 4, ... 256 ms while no reference arrives, as Bits.reserveMemory does. */
    private static final int MAX_SLEEPS = 9;

    final ReferenceQueue<Storage> queue = new ReferenceQueue<>();
    private final String name;
    private final Hooks hooks;
    private final LongAdder liveBuffers = new LongAdder(), liveBytes = new LongAdder();
    private final LongAdder reclaimed = new LongAdder(), collections = new LongAdder(), shortReliefs = new LongAdder();
    private final Object pressure = new Object();
    private volatile long softLimit;
    /** {@link #reserve} relieves above this: max(softLimit, 2 x bytes live after the last relief). */
    private volatile long trigger;

    /** Accounting and reclamation of {@code name}'s buffers; a soft limit of Long.MAX_VALUE never asks for a GC. */
    public BufferLedger(String name, long softLimitBytes, Hooks hooks) {
        this.name = Objects.requireNonNull(name, "name");
        this.hooks = Objects.requireNonNull(hooks, "hooks");
        softLimit(softLimitBytes);
    }

    /** Bytes in use above which an allocation first reclaims unreachable buffers (asking the GC for them). */
    public void softLimit(long bytes) {
        if (bytes < 1) throw new IllegalArgumentException("the soft limit must be positive, got " + bytes + " bytes");
        softLimit = bytes;
        trigger = bytes;
    }

    public long softLimit() { return softLimit; }

    /** Buffers allocated and not yet given back. */
    public long liveBuffers() { return liveBuffers.sum(); }

    /** Bytes of those buffers. */
    public long liveBytes() { return liveBytes.sum(); }

    /** Buffers given back because they became unreachable (not by a scope). */
    public long reclaimedCount() { return reclaimed.sum(); }

    /** Collections asked for under memory pressure. */
    public long collectionsRequested() { return collections.sum(); }

    /**
     * Reliefs that ended with the request still above the soft limit, each after waiting out its retries (about
     * half a second): the program holds that much, or what it dropped was not yet unreachable.
     */
    public long reliefsShort() { return shortReliefs.sum(); }

    void opened(long bytes) {
        liveBuffers.increment();
        liveBytes.add(bytes);
    }

    /**
     * Before allocating {@code bytes}: gives back what the GC already found unreachable, and above the soft limit
     * asks for more (see the class comment). The allocation goes on either way: the limit is soft.
     */
    public void reserve(long bytes) {
        reclaimQueued();
        long t = trigger;
        if (t != Long.MAX_VALUE && liveBytes.sum() + bytes > t) relieve(bytes);
    }

    /**
     * Memory pressure: asks the GC for unreachable buffers and waits until enough came back for {@code bytes} more
     * to fit under the soft limit, or the bounded retries ran out. One thread at a time collects; the others wait
     * for it and then find the memory it freed. Returns whether {@code bytes} fit now.
     */
    public boolean relieve(long bytes) {
        // Outside the pressure lock: a submission may allocate (and so reserve) on another thread meanwhile.
        hooks.submitPending();
        synchronized (pressure) {
            if (reclaimQueued() > 0 && fits(bytes)) return true;
            collections.increment();
            System.gc();
            try {
                long sleep = 1;
                for (int sleeps = 0; sleeps < MAX_SLEEPS && !fits(bytes); ) {
                    Reference<? extends Storage> first = queue.remove(sleep);
                    if (first == null) {
                        sleeps++;
                        sleep <<= 1;
                    } else {
                        reclaim(first);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            boolean fits = fits(bytes);
            if (!fits) shortReliefs.increment();
            // What is still live after a collection is what the program holds: relieve again only once that
            // doubled, so holding more than the soft limit costs O(log) collections, not one per allocation.
            trigger = fits ? softLimit : Math.max(softLimit, Math.min(Long.MAX_VALUE / 2, liveBytes.sum()) * 2);
            return fits;
        }
    }

    private boolean fits(long bytes) {
        return liveBytes.sum() + bytes <= softLimit;
    }

    /** Gives back every buffer the GC has reported unreachable so far; cheap when there is none. Returns how many. */
    public int reclaimQueued() {
        Reference<? extends Storage> first = queue.poll();
        return first == null ? 0 : reclaim(first);
    }

    private int reclaim(Reference<? extends Storage> first) {
        List<BufferLease> dead = new ArrayList<>();
        for (Reference<? extends Storage> r = first; r != null; r = queue.poll()) {
            BufferLease lease = (BufferLease) r;
            if (lease.markReleased()) dead.add(lease);
        }
        if (dead.isEmpty()) return 0;
        for (BufferLease lease : dead) {
            BufferLease.Holder h = lease.holder;
            if (h != null) h.forget(lease);
            closed(lease.bytes());
        }
        reclaimed.add(dead.size());
        hooks.betweenSubmissions(() -> hooks.free(dead, true));
        return dead.size();
    }

    /**
     * Releases {@code leases} (of this ledger) explicitly, all at once: one wait for pending work, not one per
     * buffer (a scope closing 20,000 buffers takes the backend's submission lock once).
     */
    void release(List<BufferLease> leases) {
        hooks.afterPendingWork(() -> {
            List<BufferLease> mine = leases;
            long bytes = 0;
            for (int i = 0; i < leases.size(); i++) {
                BufferLease lease = leases.get(i);
                if (lease.markReleased()) {
                    bytes += lease.bytes();
                    if (mine != leases) mine.add(lease);
                } else if (mine == leases) {
                    // Someone released this one first (the GC path, or an explicit release): the rest go without it.
                    mine = new ArrayList<>(leases.subList(0, i));
                }
            }
            liveBuffers.add(-mine.size());  // once per release, not per buffer
            liveBytes.add(-bytes);
            hooks.free(mine, false);
        });
    }

    private void closed(long bytes) {
        liveBuffers.decrement();
        liveBytes.add(-bytes);
    }

    @Override
    public String toString() {
        return "BufferLedger[" + name + ": " + liveBuffers() + " buffers, " + liveBytes() + " bytes live, soft limit "
                + softLimit + "]";
    }
}
