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
 * {@link #submit()} is called (a sync point, an explicit flush), when {@code maxNodes} are pending, or
 * {@code maxAge} after the first pending node was recorded. Submissions reach the sink one at a time, in
 * sequence order, so recording order is execution order.
 *
 * <p>A submission due to the size bound is handed to the sink on the thread whose node reached the bound. A
 * planner thread that built it while recording went on (issue 12, item 4) was 1.3-2.5x slower on the H100 for
 * W1 at every size (GPU check host-3-1: the host time per op doubled) and was removed. Every submission waits
 * for the one in progress, so whoever calls the sink, it sees submissions in order.
 */
public final class Recording {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "gpuos-recording-timer");
        t.setDaemon(true);
        return t;
    });

    private final int maxNodes;
    private final Duration maxAge;
    private final Consumer<Submission> sink;
    private final Object submitLock = new Object();
    private List<OpNode> pending;
    private Thread holder;  // the capturing thread, or null (guarded by this)
    private long generation;
    private long nextSequence;

    public Recording(int maxNodes, Duration maxAge, Consumer<Submission> sink) {
        if (maxNodes < 1) throw new IllegalArgumentException("maxNodes must be >= 1, got " + maxNodes);
        if (maxAge.isNegative() || maxAge.isZero()) throw new IllegalArgumentException("maxAge must be positive, got " + maxAge);
        this.maxNodes = maxNodes;
        this.maxAge = maxAge;
        this.sink = sink;
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
            if (pending.size() == 1) {
                long scheduledGeneration = generation;
                TIMER.schedule(() -> submitIfStill(scheduledGeneration), maxAge.toNanos(), TimeUnit.NANOSECONDS);
            }
            full = pending.size() >= maxNodes;
        }
        if (full) submitFull();
    }

    /**
     * Hands over submissions of exactly {@code maxNodes} nodes while that many are pending (the size bound's
     * part: sizes do not depend on which thread got there first); the rest waits for the next bound or sync.
     */
    private boolean submitFull() {
        synchronized (submitLock) {
            for (boolean any = false; ; any = true) {
                Submission s;
                synchronized (this) {
                    if (holder != null || pending.size() < maxNodes) return any;
                    s = drainFirst(maxNodes);
                }
                sink.accept(s);
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
        return submit();
    }

    private void submitIfStill(long scheduledGeneration) {
        synchronized (this) {
            if (generation != scheduledGeneration || pending.isEmpty() || holder != null) return;
        }
        submit();
    }

    /** The first {@code n} pending nodes as a submission (n <= pending). */
    private synchronized Submission drainFirst(int n) {
        if (pending.size() == n) return drain();
        // Only the few nodes recorded past the bound move (under this lock, which record() waits for).
        List<OpNode> nodes = pending;
        List<OpNode> rest = fresh();
        List<OpNode> tail = nodes.subList(n, nodes.size());
        rest.addAll(tail);
        tail.clear();
        lastSize = n;
        pending = rest;
        long next = ++generation;
        // The nodes left behind were recorded after the timer's node: they get a time bound of their own.
        TIMER.schedule(() -> submitIfStill(next), maxAge.toNanos(), TimeUnit.NANOSECONDS);
        return Submission.of(nextSequence++, nodes);
    }

    private synchronized Submission drain() {
        if (pending.isEmpty()) return null;
        List<OpNode> nodes = pending;
        lastSize = nodes.size();
        pending = fresh();
        generation++;
        return Submission.of(nextSequence++, nodes);
    }
}
