package dev.gpuos.tensor.record;

import dev.gpuos.tensor.op.OpNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Collects op nodes from any number of threads and hands them to a sink as {@link Submission}s: when
 * {@link #submit()} is called (a sync point, an explicit flush), when {@code maxNodes} were recorded, or
 * {@code maxAge} after the first node recorded since the last submission (or since the time bound last looked and
 * left an open tail, see below). Submissions reach the sink one at a time, in
 * sequence order, so recording order is execution order.
 *
 * <p>Where a submission ends decides what the device can fuse (nothing fuses across two submissions), so a cut that
 * no program point asked for must not depend on host timing, or a program plans operators it never planned before
 * (a compile and a generation swap mid-run) whenever its host is slower or faster than last time. With
 * {@link Cuts}: the time bound and memory pressure ({@link #submitIfFree}) submit only the prefix that the cuts
 * say is planned the same whatever follows, and keep the open tail pending; the size bound cuts every
 * {@code maxNodes} nodes counted from the last program point (a sync, flush, capture, release), whether stable
 * cuts took some of them before or not. Every cut is then either a program point, a count from one, or a cut that
 * changes nothing, so what a program plans does not depend on timing. An open tail waits for the next stable
 * cut, the size bound or a program point (the deterministic rule that bounds it: at most {@code maxNodes}
 * nodes). Without cuts (null), every time-bound or pressure flush submits everything pending, as before.
 *
 * <p>A submission due to the size bound is handed to the sink on the thread whose node reached the bound. A
 * planner thread that built it while recording went on (issue 12, item 4) was 1.3-2.5x slower on the H100 for
 * W1 at every size (GPU check host-3-1: the host time per op doubled) and was removed. Every submission waits
 * for the one in progress, so whoever calls the sink, it sees submissions in order.
 */
public final class Recording {
    /** Where a flush that no program point asked for may end. */
    @FunctionalInterface
    public interface Cuts {
        /**
         * How many of {@code pending}'s first nodes can be submitted now without changing what the device plans
         * for them and for the nodes after them, whatever those are (0: none). {@code pending} starts where the
         * last submission ended; called while no submission is being made (it must not record or submit).
         */
        int stablePrefix(List<OpNode> pending);
    }

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "gpuos-recording-timer");
        t.setDaemon(true);
        return t;
    });

    private final int maxNodes;
    private final Duration maxAge;
    private final Consumer<Submission> sink;
    private final Cuts cuts;  // null: time and pressure flushes submit everything pending
    private final Object submitLock = new Object();
    private List<OpNode> pending;
    /**
     * Nodes recorded since the last program point or size cut, those stable cuts submitted included (guarded by
     * this): the size bound counts these, so where it cuts does not depend on when the timer fired.
     */
    private int sinceBound;
    /** Whether a timer is scheduled for the current generation (guarded by this). */
    private boolean armed;
    private Thread holder;  // the capturing thread, or null (guarded by this)
    private long generation;
    private long nextSequence;

    public Recording(int maxNodes, Duration maxAge, Consumer<Submission> sink) {
        this(maxNodes, maxAge, sink, null);
    }

    /** @param cuts where time-bound and pressure flushes may end (null: anywhere, everything pending) */
    public Recording(int maxNodes, Duration maxAge, Consumer<Submission> sink, Cuts cuts) {
        if (maxNodes < 1) throw new IllegalArgumentException("maxNodes must be >= 1, got " + maxNodes);
        if (maxAge.isNegative() || maxAge.isZero()) throw new IllegalArgumentException("maxAge must be positive, got " + maxAge);
        this.maxNodes = maxNodes;
        this.maxAge = maxAge;
        this.sink = sink;
        this.cuts = cuts;
        this.pending = fresh();
    }

    /**
     * Sized like the last submission (streams of 1024-node submissions stay that size): growing the list node
     * by node cost more allocation than the nodes themselves.
     */
    private List<OpNode> fresh() {
        return new ArrayList<>(Math.max(10, Math.min(lastSize, maxNodes)));
    }

    private int lastSize;

    public void record(OpNode node) {
        boolean full;
        synchronized (this) {
            if (holder != null && holder != Thread.currentThread()) {
                throw new IllegalStateException("this backend is capturing a program on thread '" + holder.getName()
                        + "'; record from that thread only until the capture ends");
            }
            pending.add(node);
            if (holder != null) return;  // a capture takes everything as one submission at its end
            if (!armed) arm();
            full = ++sinceBound >= maxNodes;
        }
        if (full) submitFull();
    }

    /**
     * Hands over the submissions the size bound cut while {@code maxNodes} nodes were recorded since the last one
     * (the size bound's part: sizes do not depend on which thread got there first); the rest waits for the next
     * bound or sync. Nodes a stable cut submitted already count, so a submission here may be shorter.
     */
    private boolean submitFull() {
        synchronized (submitLock) {
            boolean any = false;
            while (true) {
                Submission s;
                synchronized (this) {
                    if (holder != null || sinceBound < maxNodes) return any;
                    int beyond = sinceBound - maxNodes;  // recorded after the bound: they stay
                    sinceBound = beyond;
                    int n = pending.size() - beyond;
                    if (n <= 0) continue;  // a stable cut took everything up to the bound already
                    s = take(n, false);
                    if (!pending.isEmpty()) arm();  // the nodes left behind get a time bound of their own
                }
                sink.accept(s);
                any = true;
            }
        }
    }

    /**
     * Starts a capture on the calling thread: from now on nothing is submitted by the size or time bound, and
     * other threads may not record, until {@link #endCapture} hands every node recorded since as one
     * submission. Whatever was pending before is submitted first.
     */
    public void beginCapture() {
        synchronized (submitLock) {
            submit();
            synchronized (this) {
                if (holder != null) throw new IllegalStateException("a capture is already running on thread '"
                        + holder.getName() + "'");
                holder = Thread.currentThread();
                generation++;  // a timer scheduled before the capture finds nothing of its own
                armed = false;
            }
        }
    }

    /** Ends the capture begun on this thread; returns its nodes as one submission (not handed to the sink). */
    public Submission endCapture() {
        synchronized (submitLock) {
            synchronized (this) {
                if (holder != Thread.currentThread()) throw new IllegalStateException("no capture on this thread");
                holder = null;
            }
            Submission s = drain();
            return s == null ? Submission.of(nextSequence++, List.of()) : s;
        }
    }

    /**
     * Submits whatever is pending (waiting for a submission another thread, e.g. the timer, is building), then
     * runs {@code action} before the next submission starts: how a backend releases a buffer that pending or
     * in-flight nodes may still use.
     */
    public void submitThen(Runnable action) {
        synchronized (submitLock) {
            submit();
            action.run();
        }
    }

    /** Runs {@code action} between submissions: no submission is being built while it runs. */
    public void betweenSubmissions(Runnable action) {
        synchronized (submitLock) {
            action.run();
        }
    }

    public synchronized int pendingCount() {
        return pending.size();
    }

    /** Hands everything pending to the sink (on this thread); returns false if nothing was pending. */
    public boolean submit() {
        synchronized (submitLock) {
            synchronized (this) {
                if (holder == Thread.currentThread()) {
                    throw new IllegalStateException("a sync point (reading data, flush, sync, freeing a tensor) inside a"
                            + " captured program: a capture records ops only; read results after running it");
                }
                if (holder != null) return false;  // the capture's nodes go as one submission at its end
            }
            // Full submissions first, as the size bound would have cut them: where a submission ends does not
            // depend on whether the recording thread that reached the bound got to it before this sync point.
            boolean any = submitFull();
            Submission s = drain();
            if (s == null) return any;
            sink.accept(s);
            return true;
        }
    }

    /**
     * What the time bound and memory pressure submit: the submissions the size bound cut, then the prefix of what
     * is left that {@link #cuts} can give (everything, without cuts). Returns whether anything was submitted.
     */
    private boolean submitStable() {
        if (cuts == null) return submit();
        synchronized (submitLock) {
            boolean any = submitFull();
            List<OpNode> looked;
            synchronized (this) {
                if (holder != null || pending.isEmpty()) return any;
                looked = List.copyOf(pending);
            }
            // Outside this lock, so recording goes on meanwhile (the analysis is a fusion pass over what is pending,
            // ~50 ns a node): only holders of submitLock take nodes, so pending still starts with these.
            int n = cuts.stablePrefix(looked);
            if (n < 0 || n > looked.size()) {
                throw new IllegalStateException("a stable prefix of " + n + " nodes out of " + looked.size() + " pending");
            }
            Submission s;
            synchronized (this) {
                if (holder != null) return any;
                // Never past a size bound reached since submitFull looked (another thread recorded meanwhile):
                // that cut is the size bound's to make.
                n = Math.min(n, pending.size() - Math.max(0, sinceBound - maxNodes));
                if (n <= 0) return any;
                s = take(n, false);
            }
            sink.accept(s);
            return true;
        }
    }

    /**
     * {@link #submit()}, unless the calling thread is inside a submission or a {@link #betweenSubmissions} action
     * (a nested submission would break what those promise) or a capture is running (its nodes go as one
     * submission at its end): memory pressure's way to let the buffers that only pending nodes reference become
     * unreachable. Returns whether anything was submitted.
     */
    public boolean submitIfFree() {
        if (Thread.holdsLock(submitLock)) return false;
        synchronized (this) {
            if (holder != null || pending.isEmpty()) return false;
        }
        return submitStable();
    }

    /** Schedules the time bound for the current generation (under this). */
    private void arm() {
        long scheduledGeneration = generation;
        armed = true;
        TIMER.schedule(() -> submitIfStill(scheduledGeneration), maxAge.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void submitIfStill(long scheduledGeneration) {
        synchronized (this) {
            if (generation != scheduledGeneration) return;
            // Whatever this finds, the next node recorded arms the bound again: an open tail left pending is looked
            // at again only once something new may have closed it.
            armed = false;
            if (pending.isEmpty() || holder != null) return;
        }
        submitStable();
    }

    /**
     * The first {@code n} pending nodes as a submission (0 < n <= pending); {@code programPoint}: everything
     * pending goes, and the size bound counts from here.
     */
    private synchronized Submission take(int n, boolean programPoint) {
        generation++;  // a timer scheduled before finds nothing of its own
        armed = false;
        if (programPoint) sinceBound = 0;
        List<OpNode> nodes = pending;
        lastSize = n;
        if (pending.size() == n) {
            pending = fresh();
            return Submission.of(nextSequence++, nodes);
        }
        // Only the nodes left behind move (under this lock, which record() waits for).
        List<OpNode> rest = fresh();
        List<OpNode> tail = nodes.subList(n, nodes.size());
        rest.addAll(tail);
        tail.clear();
        pending = rest;
        return Submission.of(nextSequence++, nodes);
    }

    private synchronized Submission drain() {
        if (pending.isEmpty()) {
            sinceBound = 0;  // a program point with nothing pending: stable cuts took it all
            return null;
        }
        return take(pending.size(), true);
    }
}
