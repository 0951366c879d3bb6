package dev.gpuos.runtime;

import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.layout.TaskSeal;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The host side of the task ring: writes descriptors into pinned host memory, rings the doorbell, applies
 * backpressure, and tells callers when their tasks are complete.
 *
 * <p>Single writer: all ring writes happen under {@link #submitLock}, in seq order, so the ring is a plain
 * array indexed by {@code seq & (capacity - 1)} and the doorbell is one release store. Slot {@code s} is
 * rewritten only after task {@code s - capacity} completed (the agent's watermark passed it), which is what
 * lets the device keep per-slot state without ever seeing two live tasks in one slot.
 *
 * <p>Nothing here makes a driver call: submitting is memory writes; waiting is polling the completion word
 * the agent writes into the same pinned page. Liveness checks (which do call the driver) run at most every
 * {@link #LIVENESS_PERIOD_NANOS} from a waiting thread or the tracker.
 */
public final class TaskQueue implements AutoCloseable {
    /** How often a waiter without progress asks whether the worker is still alive. */
    static final long LIVENESS_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** Throws {@link WorkerDeadException} when the worker is gone. */
    public interface Liveness {
        void check();
    }

    private final MemorySegment hostRing;
    private final long capacity;
    private final long mask;
    private final HostControl control;
    private final Liveness liveness;
    private final FaultLog faults;
    /**
     * Submitters take the lock in arrival order. An unfair lock ({@code -Dgpuos.queue.fairSubmit=false}) lets a
     * thread that submits in a tight loop take it again before a waiting thread has woken up: on the H100 machine
     * a new expression's submission then waited 1.35 ms (median) behind another thread's stream of small
     * batches, against 0.06 ms with the fair lock (interp benchmark, timeline phase).
     */
    static final boolean FAIR_SUBMIT = Boolean.parseBoolean(System.getProperty("gpuos.queue.fairSubmit", "true"));
    private final ReentrantLock submitLock = new ReentrantLock(FAIR_SUBMIT);
    private final CompletionTracker tracker;

    // Guarded by submitLock.
    private long nextSeq;
    private long nextTile;
    private int[] slots = new int[64];
    /** One descriptor being patched on its way into the ring (under the submit lock). */
    private final long[] scratch = new long[TaskBatch.TASK_WORDS];
    // Word positions of the fields the queue patches (offsets are naturally aligned, see Layouts).
    private static final int OP_WORD = (int) (TaskFields.OP >>> 3), SEQ_WORD = (int) (TaskFields.SEQ >>> 3);
    private static final int TILE_BASE_WORD = (int) (TaskFields.TILE_BASE >>> 3), DEPS_WORD = (int) (TaskFields.DEPS >>> 3);
    /** Words before the operand records: everything submit patches (op, seq, tile base, deps) lies below it. */
    private static final int REFS_WORD = (int) (TaskFields.REFS >>> 3);

    static {
        if (DEPS_WORD + dev.gpuos.runtime.layout.Layouts.MAX_DEPS > REFS_WORD || OP_WORD >= REFS_WORD
                || SEQ_WORD >= REFS_WORD || TILE_BASE_WORD >= REFS_WORD) {
            throw new ExceptionInInitializerError("submit patches only the descriptor header; a patched field moved"
                    + " past the operand records");
        }
    }
    private static final int FLAGS_WORD = (int) (TaskFields.FLAGS >>> 3), FLAGS_SHIFT = (int) (TaskFields.FLAGS & 7) * 8;
    private static final int NREFS_SHIFT = (int) (TaskFields.NREFS & 7) * 8;
    private static final java.lang.invoke.VarHandle SEAL_HANDLE = ValueLayout.JAVA_LONG.varHandle();
    private static final int OP_SHIFT = (int) (TaskFields.OP & 7) * 8;
    private static final long OP_MASK = 0xFFFF_FFFFL << OP_SHIFT;
    private long batchFirst;
    private long[] seen = new long[1024]; // seen[slot] == stamp: slot already noted for this batch
    private long stamp; // long: an int would wrap to 0, the value of never-seen slots, after 2^32 batches

    private volatile RuntimeException dead;
    /** Set first by close: submissions that have not taken the submit lock yet are refused. */
    private volatile boolean closing;
    private volatile boolean closed;

    public TaskQueue(MemorySegment hostRing, long capacity, HostControl control, Liveness liveness,
                     FaultLog.OperatorNames names) {
        if (Long.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two: " + capacity);
        }
        if (hostRing.byteSize() < capacity * TaskFields.TASK_BYTES) {
            throw new IllegalArgumentException("host ring of " + hostRing.byteSize() + " bytes cannot hold "
                    + capacity + " descriptors");
        }
        this.hostRing = hostRing;
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.control = control;
        this.liveness = liveness;
        this.faults = new FaultLog(control, names);
        this.tracker = new CompletionTracker(this);
    }

    public long capacity() {
        return capacity;
    }

    /** Every task with seq below this is complete. */
    public long completed() {
        return control.completed();
    }

    /** Seqs below this were handed to the device. */
    public long submitted() {
        return control.submitted();
    }

    public HostControl control() {
        return control;
    }

    /**
     * Writes the batch into the ring and rings the doorbell. Blocks (up to {@code timeoutNanos}) while the
     * ring is full. Returns the seq after the batch's last task: the batch holds seqs
     * {@code [result - batch.size(), result)}.
     */
    public long submit(TaskBatch batch, SlotResolver resolver, long timeoutNanos) {
        int n = batch.size();
        if (n == 0) {
            return control.submitted();
        }
        long deadline = System.nanoTime() + timeoutNanos;
        submitLock.lock();
        try {
            checkUsable();
            long first = nextSeq;
            batchFirst = first;
            resolveAndValidate(batch, resolver, first);
            long completedSeen = control.completed();
            long[] words = batch.words();
            for (int i = 0; i < n; i++) {
                long seq = first + i;
                if (seq - completedSeen >= capacity) {
                    control.publishSubmitted(seq);
                    completedSeen = awaitRoom(seq, deadline, first, n);
                }
                // Patch a copy of the header (the batch may be submitted again); the operand records go straight
                // from the batch into the ring, copied once.
                int usedWords = (int) (batch.usedBytes(i) / 8);
                int headerWords = Math.min(usedWords, REFS_WORD);
                System.arraycopy(words, i * TaskBatch.TASK_WORDS, scratch, 0, headerWords);
                int ntiles = batch.ntiles(i);
                scratch[OP_WORD] = (scratch[OP_WORD] & ~OP_MASK) | ((slots[i] & 0xFFFF_FFFFL) << OP_SHIFT);
                scratch[SEQ_WORD] = seq;
                scratch[TILE_BASE_WORD] = nextTile;
                int ndeps = batch.ndeps(i);
                for (int d = 0; d < ndeps; d++) {
                    long word = scratch[DEPS_WORD + d];
                    if ((word & TaskBatch.BATCH_DEP) != 0) {
                        scratch[DEPS_WORD + d] = first + (word & ~TaskBatch.BATCH_DEP);
                    }
                }
                long dst = (seq & mask) * TaskFields.TASK_BYTES;
                scratch[TaskSeal.SEAL_WORD] = 0;
                MemorySegment.copy(scratch, 0, hostRing, ValueLayout.JAVA_LONG_UNALIGNED, dst, headerWords);
                if (usedWords > headerWords) {
                    MemorySegment.copy(words, i * TaskBatch.TASK_WORDS + headerWords, hostRing,
                            ValueLayout.JAVA_LONG_UNALIGNED, dst + (long) headerWords * 8, usedWords - headerWords);
                }
                if (i == 0) {
                    seal(dst, words, i * TaskBatch.TASK_WORDS + headerWords);
                }
                nextTile += ntiles;
                nextSeq = seq + 1;
                if ((i & 1023) == 1023) {
                    control.publishSubmitted(nextSeq); // let the agent start on a long batch early
                }
            }
            control.publishSubmitted(nextSeq);
            return nextSeq;
        } finally {
            noteUses(resolver);
            submitLock.unlock();
        }
    }

    /**
     * Submits a template's tasks with ONE header in the host ring ({@link Layouts#OP_EXPAND}): the agent copies
     * the descriptors from the template's image in device memory. Waits (up to {@code timeoutNanos}) until the
     * ring has room for every task of it, since the agent may stage them all at once; then writes the header and
     * rings the doorbell. Returns the seq after its last task. On a timeout nothing was submitted.
     */
    public long submit(TaskTemplate template, SlotResolver resolver, long timeoutNanos) {
        int n = template.size();
        if (n > capacity) {
            throw new IllegalArgumentException("a template of " + n + " tasks does not fit a ring of " + capacity);
        }
        long deadline = System.nanoTime() + timeoutNanos;
        submitLock.lock();
        try {
            checkUsable();
            long first = nextSeq, end = first + n;
            int[] resolved = template.resolve(resolver);
            template.checkLive();
            long address = template.imageFor(resolved);
            long completedSeen = control.completed();
            if (end - 1 - completedSeen >= capacity) {
                try {
                    awaitRoom(end - 1, deadline, first, n);
                } catch (QueueTimeoutException e) {
                    throw new QueueTimeoutException("task ring full (" + capacity + " tasks in flight) for longer than"
                            + " the submit timeout; nothing of the template's " + n + " tasks was submitted");
                }
            }
            long dst = (first & mask) * TaskFields.TASK_BYTES;
            java.util.Arrays.fill(scratch, 0, REFS_WORD, 0L);
            scratch[OP_WORD] = (Layouts.OP_EXPAND & 0xFFFF_FFFFL) << OP_SHIFT | 1L << (int) (TaskFields.NTILES & 7) * 8;
            scratch[SEQ_WORD] = first;
            scratch[TILE_BASE_WORD] = nextTile;
            scratch[(int) (TaskFields.REFS_AT >>> 3)] = address;
            scratch[(int) (TaskFields.ARGS >>> 3)] = n;
            scratch[(int) (TaskFields.ARGS >>> 3) + 1] = template.tiles();
            MemorySegment.copy(scratch, 0, hostRing, ValueLayout.JAVA_LONG_UNALIGNED, dst, REFS_WORD);
            seal(dst, scratch, REFS_WORD);
            nextTile += template.tiles();
            nextSeq = end;
            batchFirst = end;  // the per-task note of uses below is the template's own
            control.publishSubmitted(end);
            template.noteUses(resolver, resolved, first);
            return end;
        } finally {
            submitLock.unlock();
        }
    }

    /**
     * Seals the descriptor just written at {@code dst} (its header is in {@link #scratch}, with a zero seal word;
     * its operand records at {@code refs[refsAt...]}): the first task of every submission carries a {@link
     * TaskSeal}, so an idle agent that polls the next slot can take it from that one read, before the doorbell.
     * The seal goes last, with release: an agent that sees it sees everything written before it.
     */
    private void seal(long dst, long[] refs, int refsAt) {
        long flagsWord = scratch[FLAGS_WORD];
        int flags = (int) (flagsWord >>> FLAGS_SHIFT) & 0xFFFF;
        int nrefs = (int) (flagsWord >>> NREFS_SHIFT) & 0xFF;
        int refWords = TaskSeal.sealedWords(flags, nrefs) - TaskSeal.HEADER_WORDS;
        long seal = TaskSeal.of(control.sealSalt(), scratch, 0, refs, refsAt, refWords);
        SEAL_HANDLE.setRelease(hostRing, dst + (long) TaskSeal.SEAL_WORD * 8, seal);
    }

    /**
     * Tells the resolver the last seq each slot was written with, once per distinct slot of the batch (seqs only
     * grow, so a slot's last task in the batch carries its highest seq). Under the submit lock, like the writes.
     */
    private void noteUses(SlotResolver resolver) {
        long written = nextSeq - batchFirst;
        stamp++;
        for (long i = written - 1; i >= 0; i--) {
            int slot = slots[(int) i];
            if (slot >= seen.length) {
                seen = java.util.Arrays.copyOf(seen, Math.max(slot + 1, seen.length * 2));
            }
            if (seen[slot] != stamp) {
                seen[slot] = stamp;
                resolver.noteUse(slot, batchFirst + i);
            }
        }
        batchFirst = nextSeq;
    }

    /** Like {@link #submit}, returning a future completed when every task of the batch is complete. */
    public CompletableFuture<Void> submitAsync(TaskBatch batch, SlotResolver resolver, long timeoutNanos) {
        var future = new CompletableFuture<Void>();
        submitLock.lock();
        try {
            long end = submit(batch, resolver, timeoutNanos);
            tracker.track(end - batch.size(), end, future);
        } finally {
            submitLock.unlock();
        }
        return future;
    }

    /** Runs {@code action} while no submission is in progress (used to flip operator aliases atomically). */
    public void underSubmitLock(Runnable action) {
        submitLock.lock();
        try {
            action.run();
        } finally {
            submitLock.unlock();
        }
    }

    private void resolveAndValidate(TaskBatch batch, SlotResolver resolver, long first) {
        int n = batch.size();
        if (slots.length < n) {
            slots = new int[Math.max(n, slots.length * 2)];
        }
        for (int i = 0; i < n; i++) {
            slots[i] = resolver.slotFor(batch.logicalOp(i));
            batch.checkOperandsLive(i);
            int ndeps = batch.ndeps(i);
            for (int d = 0; d < ndeps; d++) {
                long word = batch.dep(i, d);
                if ((word & TaskBatch.BATCH_DEP) == 0 && word >= first) {
                    throw new IllegalArgumentException("task " + i + " depends on seq " + word
                            + ", which was not submitted before this batch (next seq is " + first + ")");
                }
            }
        }
    }

    private long awaitRoom(long seq, long deadline, long first, int n) {
        long lastCheck = System.nanoTime();
        int spins = 0;
        while (true) {
            long done = control.completed();
            if (seq - done < capacity) {
                return done;
            }
            long now = System.nanoTime();
            if (now - deadline > 0) {
                throw new QueueTimeoutException("task ring full (" + capacity + " tasks in flight) for longer than the"
                        + " submit timeout; tasks [" + first + ", " + seq + ") of this batch were submitted, the other "
                        + (n - (seq - first)) + " were not");
            }
            if (now - lastCheck > LIVENESS_PERIOD_NANOS) {
                checkAlive();
                lastCheck = now;
            }
            spins = backoff(spins);
        }
    }

    /**
     * Waits until every task with seq in {@code [from, to)} is complete; throws the first fault reported for
     * one of them, {@link QueueTimeoutException} after the timeout, {@link WorkerDeadException} if the worker
     * died.
     */
    public void await(long from, long to, long timeoutNanos) {
        boolean interrupted = false;
        try {
            interrupted = awaitUninterruptibly(from, to, timeoutNanos);
        } finally {
            // The wait is not interruptible (the tasks run anyway); the caller keeps its interrupt status.
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** {@link #await}'s loop; returns whether the thread was interrupted meanwhile (its status cleared). */
    private boolean awaitUninterruptibly(long from, long to, long timeoutNanos) {
        boolean interrupted = false;
        long lostBefore = faults.lost();
        long start = System.nanoTime();
        long lastCheck = start;
        long seenCompleted = -1;
        int spins = 0;
        while (control.completed() < to) {
            // A park returns at once while the status is set: without clearing it the wait would spin a core.
            if (Thread.interrupted()) interrupted = true;
            RuntimeException d = dead;
            if (d != null) {
                throw new WorkerDeadException("worker died while waiting for tasks [" + from + ", " + to + ")", d);
            }
            long now = System.nanoTime();
            if (now - start > timeoutNanos) {
                throw new QueueTimeoutException("tasks [" + from + ", " + to + ") not complete after "
                        + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms (completed up to " + control.completed()
                        + ", submitted up to " + control.submitted() + ")");
            }
            long c = control.completed();
            if (c != seenCompleted) {
                seenCompleted = c;
                lastCheck = now;
            } else if (now - lastCheck > LIVENESS_PERIOD_NANOS) {
                checkAlive();
                lastCheck = now;
            }
            spins = awaitBackoff(spins, now - start);
        }
        faults.poll();
        TaskFaultException f = faults.firstIn(from, to);
        if (f != null) {
            throw f;
        }
        long lost = faults.lost() - lostBefore;
        if (lost > 0) {
            throw new GpuOSException(lost + " fault records were overwritten before the host read them (more than "
                    + dev.gpuos.runtime.layout.Layouts.FAULT_LOG + " faults at once); tasks [" + from + ", " + to
                    + ") may include faulted ones");
        }
        return interrupted;
    }

    /**
     * How long {@link #await} spins before it yields and then parks: most waits for a batch end within it. On a
     * machine of one or two CPUs a spinning waiter would take a core from whoever it waits for (a simulated
     * worker, the JIT), so it spins only briefly there.
     */
    static final long AWAIT_SPIN_NANOS = Runtime.getRuntime().availableProcessors() > 2
            ? TimeUnit.MILLISECONDS.toNanos(2) : TimeUnit.MICROSECONDS.toNanos(100);

    /**
     * The waiting policy of {@link #await}, by time waited rather than by count: a park sleeps at least the
     * kernel's timer slack (about 50 us on Linux), which would add up to that much to every sync of a
     * millisecond-scale batch, so the caller spins for its first {@link #AWAIT_SPIN_NANOS}, yields for as long
     * again, and only then parks in growing steps.
     */
    static int awaitBackoff(int spins, long waitedNanos) {
        if (waitedNanos < AWAIT_SPIN_NANOS) {
            Thread.onSpinWait();
            return spins;
        }
        if (waitedNanos < 2 * AWAIT_SPIN_NANOS) {
            Thread.yield();
            return spins;
        }
        LockSupport.parkNanos(Math.min(50_000L, 1_000L << Math.min(6, spins / 64)));
        return spins + 1;
    }

    /** Spin briefly (microsecond latency matters), then yield the core in growing steps. */
    static int backoff(int spins) {
        if (spins < 2000) {
            Thread.onSpinWait();
        } else if (spins < 2100) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(Math.min(50_000L, 1_000L << Math.min(6, (spins - 2100) / 64)));
        }
        return spins + 1;
    }

    void checkAlive() {
        RuntimeException d = dead;
        if (d != null) {
            throw d;
        }
        try {
            liveness.check();
        } catch (RuntimeException e) {
            fail(e);
            throw e;
        }
    }

    FaultLog faults() {
        return faults;
    }

    /** Marks the worker dead: every pending and future wait fails with {@code cause}. */
    public void fail(RuntimeException cause) {
        if (dead == null) {
            dead = cause;
        }
        tracker.failAll(dead);
    }

    public RuntimeException deathCause() {
        return dead;
    }

    private void checkUsable() {
        if (closing || closed) {
            throw new IllegalStateException("task queue is closed (the runtime was closed); nothing of this batch "
                    + "was submitted");
        }
        RuntimeException d = dead;
        if (d != null) {
            throw new WorkerDeadException("worker is dead; no task can be submitted", d);
        }
    }

    /** Number of futures not yet completed. */
    public int pendingFutures() {
        return tracker.pending();
    }

    /**
     * Refuses every submission from now on and waits, up to {@code timeoutNanos}, for the one in progress to
     * finish writing its batch. Afterwards {@link #submitted()} is final: a drain up to it drains everything.
     *
     * @return false if a submission still held the queue at the timeout
     */
    public boolean stopAccepting(long timeoutNanos) {
        closing = true;
        try {
            if (submitLock.tryLock(timeoutNanos, TimeUnit.NANOSECONDS)) {
                submitLock.unlock();
                return true;
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Stops accepting work; pending futures fail with {@code cause} if not complete. */
    public void close(RuntimeException cause) {
        closed = true;
        tracker.shutdown(cause);
    }

    @Override
    public void close() {
        close(new IllegalStateException("runtime closed before the task completed"));
    }

    // Visible to the tracker.
    boolean isClosed() {
        return closed;
    }
}
