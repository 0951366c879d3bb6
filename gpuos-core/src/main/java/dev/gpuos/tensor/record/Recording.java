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
    private List<OpNode> pending = new ArrayList<>();
    private long generation;
    private long nextSequence;

    public Recording(int maxNodes, Duration maxAge, Consumer<Submission> sink) {
        if (maxNodes < 1) throw new IllegalArgumentException("maxNodes must be >= 1, got " + maxNodes);
        if (maxAge.isNegative() || maxAge.isZero()) throw new IllegalArgumentException("maxAge must be positive, got " + maxAge);
        this.maxNodes = maxNodes;
        this.maxAge = maxAge;
        this.sink = sink;
    }

    public void record(OpNode node) {
        boolean full;
        synchronized (this) {
            pending.add(node);
            if (pending.size() == 1) {
                long scheduledGeneration = generation;
                TIMER.schedule(() -> submitIfStill(scheduledGeneration), maxAge.toNanos(), TimeUnit.NANOSECONDS);
            }
            full = pending.size() >= maxNodes;
        }
        if (full) submit();
    }

    public synchronized int pendingCount() {
        return pending.size();
    }

    /** Hands everything pending to the sink (on this thread); returns false if nothing was pending. */
    public boolean submit() {
        synchronized (submitLock) {
            Submission s = drain();
            if (s == null) return false;
            sink.accept(s);
            return true;
        }
    }

    private void submitIfStill(long scheduledGeneration) {
        synchronized (this) {
            if (generation != scheduledGeneration || pending.isEmpty()) return;
        }
        submit();
    }

    private synchronized Submission drain() {
        if (pending.isEmpty()) return null;
        List<OpNode> nodes = pending;
        pending = new ArrayList<>();
        generation++;
        return Submission.of(nextSequence++, nodes);
    }
}
