package dev.gpuos.runtime;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Completes submission futures in seq order from the agent's completion watermark, and is the watchdog: while
 * futures are pending and the watermark does not move, it asks the worker's liveness every
 * {@link TaskQueue#LIVENESS_PERIOD_NANOS}, so a dead worker fails every pending future well within a second.
 */
final class CompletionTracker implements Runnable {
    private record Pending(long from, long to, CompletableFuture<Void> future) {}

    private final TaskQueue queue;
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private final Thread thread;
    private volatile boolean stopping;

    CompletionTracker(TaskQueue queue) {
        this.queue = queue;
        this.thread = Thread.ofPlatform().daemon().name("gpuos-completion").unstarted(this);
        this.thread.start();
    }

    /** Called under the queue's submit lock, so ranges arrive in seq order. */
    void track(long from, long to, CompletableFuture<Void> future) {
        RuntimeException dead = queue.deathCause();
        synchronized (pending) {
            if (dead != null) {
                future.completeExceptionally(dead);
                return;
            }
            pending.addLast(new Pending(from, to, future));
        }
        LockSupport.unpark(thread);
    }

    int pending() {
        synchronized (pending) {
            return pending.size();
        }
    }

    void failAll(RuntimeException cause) {
        ArrayDeque<Pending> failed;
        synchronized (pending) {
            failed = new ArrayDeque<>(pending);
            pending.clear();
        }
        for (Pending p : failed) {
            p.future.completeExceptionally(cause);
        }
    }

    void shutdown(RuntimeException cause) {
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        completeReady();
        failAll(cause);
    }

    @Override
    public void run() {
        long lastProgress = System.nanoTime();
        long lastCompleted = -1;
        int spins = 0;
        while (!stopping) {
            boolean empty;
            synchronized (pending) {
                empty = pending.isEmpty();
            }
            if (empty) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                spins = 0;
                lastProgress = System.nanoTime();
                continue;
            }
            long completed = completeReady();
            long now = System.nanoTime();
            if (completed != lastCompleted) {
                lastCompleted = completed;
                lastProgress = now;
                spins = 0;
            } else if (now - lastProgress > TaskQueue.LIVENESS_PERIOD_NANOS) {
                lastProgress = now;
                try {
                    queue.checkAlive();
                } catch (RuntimeException e) {
                    queue.fail(e);
                }
            } else {
                spins = TaskQueue.backoff(spins);
            }
        }
    }

    /** Completes every future whose range is below the watermark; returns the watermark seen. */
    private long completeReady() {
        long completed = queue.completed();
        FaultLog faults = queue.faults();
        faults.poll();
        while (true) {
            Pending p;
            synchronized (pending) {
                p = pending.peekFirst();
                if (p == null || p.to > completed) {
                    return completed;
                }
                pending.pollFirst();
            }
            TaskFaultException f = faults.firstIn(p.from, p.to);
            if (f != null) {
                p.future.completeExceptionally(f);
            } else {
                p.future.complete(null);
            }
        }
    }
}
