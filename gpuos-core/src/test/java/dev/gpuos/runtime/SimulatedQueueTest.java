package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** TaskQueue end to end on the simulated device: ring and tile-map wraparound, dependencies, faults, swaps. */
class SimulatedQueueTest {
    private static final long SEC = TimeUnit.SECONDS.toNanos(1);

    /** Longest a test waits for its own threads; every wait on the queue inside them is shorter. */
    private static final Duration THREAD_BOUND = Duration.ofMinutes(3);

    private static void runConcurrently(List<TaskStream> streams) throws Exception {
        var failures = new ArrayList<Throwable>();
        var threads = new ArrayList<Thread>();
        for (TaskStream s : streams) {
            threads.add(Thread.ofPlatform().daemon().name("stream-" + threads.size()).start(() -> {
                try {
                    var batch = new TaskBatch();
                    while (!s.finished()) {
                        s.step(batch);
                    }
                    s.awaitAll();
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            }));
        }
        long deadline = System.nanoTime() + THREAD_BOUND.toNanos();
        for (Thread t : threads) {
            joinBy(t, deadline);
        }
        if (!failures.isEmpty()) {
            var e = new AssertionError("a submitting thread failed", failures.getFirst());
            failures.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
    }

    /** Joins {@code t} by {@code deadline} (System.nanoTime), or fails showing where it is stuck. */
    private static void joinBy(Thread t, long deadline) throws InterruptedException {
        if (!t.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
            var e = new AssertionError(t.getName() + " still running after " + THREAD_BOUND + "; stuck at:");
            e.setStackTrace(t.getStackTrace());
            throw e;
        }
    }

    @Test
    void hundredThousandRandomTasksFromFourThreadsThroughASmallRing() throws Exception {
        long seed = 0x5EED_0001L;
        int perThread = 25_000;
        try (var rig = new SimRig(64, 256, 4 * perThread, SimulatedWorker.Config.DEFAULT)) {
            var streams = new ArrayList<TaskStream>();
            for (int t = 0; t < 4; t++) {
                streams.add(new TaskStream(rig, seed + t, t * perThread, perThread, 40));
            }
            runConcurrently(streams);
            streams.forEach(TaskStream::verifyAll);
            assertEquals(4L * perThread, rig.queue.completed());
            // The ring wrapped ~1500 times, the tile map far more; the device state agrees with the host.
            assertEquals(rig.queue.submitted(), rig.device.pubSeq());
            assertEquals(rig.queue.submitted(), rig.device.watermark());
            assertEquals(0, rig.queue.pendingFutures());
        }
    }

    @Test
    void generationSwapsWhileTwoThreadsStreamLoseNothingAndKeepOrder() throws Exception {
        long seed = 0x5EED_0002L;
        int perThread = 6_000;
        try (var rig = new SimRig(64, 256, 2 * perThread, SimulatedWorker.Config.DEFAULT)) {
            var streams = List.of(new TaskStream(rig, seed, 0, perThread, 20),
                    new TaskStream(rig, seed + 1, perThread, perThread, 20));
            var swapFailure = new AtomicReference<Throwable>();
            var streamsStopped = new AtomicBoolean();
            // Swap i happens once i/21 of the tasks were submitted, so every swap parks a busy generation. The
            // streams may stop early (a failure); then the count is never reached and the swapper must give up.
            var swapper = Thread.ofPlatform().daemon().name("swapper").start(() -> {
                try {
                    for (int i = 1; i <= 20; i++) {
                        long due = 2L * perThread * i / 21;
                        long deadline = System.nanoTime() + THREAD_BOUND.toNanos();
                        while (rig.queue.submitted() < due) {
                            if (streamsStopped.get() && rig.queue.submitted() < due) {
                                throw new AssertionError("swap " + i + " waits for " + due + " submitted tasks, but the"
                                        + " streams stopped at " + rig.queue.submitted());
                            }
                            if (System.nanoTime() > deadline) {
                                throw new AssertionError("swap " + i + ": still " + rig.queue.submitted() + " of " + due
                                        + " tasks submitted after " + THREAD_BOUND);
                            }
                            Pause.micros(100);
                        }
                        rig.swap();
                    }
                } catch (Throwable t) {
                    swapFailure.set(t);
                }
            });
            try {
                runConcurrently(streams);
            } finally {
                streamsStopped.set(true);
                joinBy(swapper, System.nanoTime() + THREAD_BOUND.toNanos());
            }
            if (swapFailure.get() != null) {
                throw new AssertionError("swap failed", swapFailure.get());
            }
            streams.forEach(TaskStream::verifyAll);
            assertEquals(21, rig.device.current().generation());
        }
    }

    @Test
    void fullRingWithParkedWorkerTimesOutAndOverwritesNothing() throws Exception {
        try (var rig = new SimRig(64, 256, 200, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(100 * 8);
            rig.device.park();
            var batch = new TaskBatch();
            for (int i = 0; i < 100; i++) {
                batch.add(SimRig.FILL, 1, 1).arg(0, i).arg(1, 1000 + i).arg(2, 0)
                        .refContiguous(0, out, 8L * i, DTypeCode.I64, 1);
            }
            var e = assertThrows(QueueTimeoutException.class,
                    () -> rig.queue.submit(batch, SlotResolver.IDENTITY, TimeUnit.MILLISECONDS.toNanos(200)));
            assertTrue(e.getMessage().contains("tasks [0, 64) of this batch were submitted, the other 36 were not"),
                    e.getMessage());
            assertEquals(64, rig.queue.submitted());
            for (int slot = 0; slot < 64; slot++) {
                assertEquals(slot, rig.device.hostRing().get(ValueLayout.JAVA_LONG,
                        slot * Layouts.TASK.size() + Layouts.TASK.offset("seq")), "host ring slot " + slot);
            }
            assertEquals(0, rig.queue.completed());

            rig.device.launch(rig.ops, rig.config);
            rig.queue.await(0, 64, 10 * SEC);
            for (int i = 0; i < 100; i++) {
                assertEquals(i < 64 ? 1000 + i : 0, out.segment().get(ValueLayout.JAVA_LONG, 8L * i), "element " + i);
            }
            // The queue is usable for the rest.
            var rest = new TaskBatch();
            for (int i = 64; i < 100; i++) {
                rest.add(SimRig.FILL, 1, 1).arg(0, i).arg(1, 1000 + i).arg(2, 0)
                        .refContiguous(0, out, 8L * i, DTypeCode.I64, 1);
            }
            long end = rig.queue.submit(rest, SlotResolver.IDENTITY, 10 * SEC);
            rig.queue.await(64, end, 10 * SEC);
            for (int i = 64; i < 100; i++) {
                assertEquals(1000 + i, out.segment().get(ValueLayout.JAVA_LONG, 8L * i), "element " + i);
            }
        }
    }

    @Test
    void badOperatorSlotFailsExactlyThatTask() throws Exception {
        try (var rig = new SimRig(64, 256, 100, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(10 * 8);
            var futures = new ArrayList<CompletableFuture<Void>>();
            var batch = new TaskBatch();
            for (int i = 0; i < 10; i++) {
                batch.clear().add(i == 5 ? 9 : SimRig.FILL, 2, 1).arg(0, i).arg(1, 7 * i).arg(2, 0)
                        .refContiguous(0, out, 8L * i, DTypeCode.I64, 1);
                futures.add(rig.queue.submitAsync(batch, SlotResolver.IDENTITY, SEC));
            }
            for (int i = 0; i < 10; i++) {
                if (i == 5) {
                    var e = assertThrows(ExecutionException.class, futures.get(i)::get);
                    var f = assertInstanceOf(TaskFaultException.class, e.getCause());
                    assertEquals(5, f.seq());
                    assertEquals(Layouts.FAULT_BAD_OP, f.code());
                    assertEquals(9, f.opSlot());
                    assertTrue(f.getMessage().contains("slot 9 (op9)"), f.getMessage());
                } else {
                    futures.get(i).get(10, TimeUnit.SECONDS);
                    assertEquals(7 * i, out.segment().get(ValueLayout.JAVA_LONG, 8L * i));
                }
            }
            var f = assertThrows(TaskFaultException.class, () -> rig.queue.await(0, 10, SEC));
            assertEquals(5, f.seq());
            rig.queue.await(6, 10, SEC); // ranges without the faulty task are fine
            // The runtime keeps working.
            batch.clear().add(SimRig.FILL, 1, 1).arg(0, 20).arg(1, 99).arg(2, 0)
                    .refContiguous(0, out, 0, DTypeCode.I64, 1);
            long end = rig.queue.submit(batch, SlotResolver.IDENTITY, SEC);
            rig.queue.await(end - 1, end, 10 * SEC);
            assertEquals(99, out.segment().get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Test
    void killedWorkerFailsEveryPendingFutureAndWaiter() throws Exception {
        try (var rig = new SimRig(64, 256, 100, SimulatedWorker.Config.DEFAULT)) {
            rig.ops.set(SimRig.FILL, (task, tile) -> Pause.micros(2000));
            rig.device.relaunch(rig.ops, rig.config);
            SimBuffer out = rig.device.allocate(8);
            var futures = new ArrayList<CompletableFuture<Void>>();
            var batch = new TaskBatch();
            for (int i = 0; i < 40; i++) {
                var w = batch.clear().add(SimRig.FILL, 1, 1).refContiguous(0, out, 0, DTypeCode.I64, 1);
                if (i > 0) {
                    w.dependsOnSeq(i - 1); // a chain, so the tasks stay pending for a while
                }
                futures.add(rig.queue.submitAsync(batch, SlotResolver.IDENTITY, SEC));
            }
            var waiter = CompletableFuture.runAsync(() -> rig.queue.await(0, 40, 60 * SEC));
            rig.device.current().kill();
            long killedAt = System.nanoTime();
            int failed = 0;
            for (var f : futures) {
                try {
                    f.get(1, TimeUnit.SECONDS); // the tracker's watchdog has a 50 ms period
                } catch (ExecutionException e) {
                    assertInstanceOf(WorkerDeadException.class, e.getCause());
                    assertTrue(e.getCause().getMessage().contains("killed"), e.getCause().getMessage());
                    failed++;
                }
            }
            assertTrue(failed > 0, "every task finished before the kill; the test proves nothing");
            var e = assertThrows(ExecutionException.class, () -> waiter.get(1, TimeUnit.SECONDS));
            assertInstanceOf(WorkerDeadException.class, e.getCause());
            assertTrue(System.nanoTime() - killedAt < 2 * SEC, "failing the waiters took over 2 s");
            assertThrows(WorkerDeadException.class, () -> rig.queue.submit(batch, SlotResolver.IDENTITY, SEC));
        }
    }

    @Test
    void operatorCrashKillsTheWorkerWithTheCause() {
        try (var rig = new SimRig(64, 256, 100, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(8);
            var batch = new TaskBatch();
            batch.add(SimRig.FILL, 1, 1).refContiguous(0, out, 0, DTypeCode.I64, 1);
            // The API refuses a task whose buffer is gone at submit, so free it behind the queue's back: submitted
            // to a parked worker, the task points at freed memory (an illegal address) when the worker returns.
            rig.device.park();
            long end = rig.queue.submit(batch, SlotResolver.IDENTITY, SEC);
            rig.device.release(out);
            rig.device.launch(rig.ops, rig.config);
            var e = assertThrows(WorkerDeadException.class, () -> rig.queue.await(0, end, 10 * SEC));
            assertTrue(String.valueOf(e.getCause()).contains("no live device buffer"), String.valueOf(e.getCause()));
            assertFalse(rig.device.current().crash() == null);
        }
    }

    /**
     * A batch submitted again and again with its operand records in device memory (what a GpuReplay does): the
     * agent takes the records from there, not from the ring. To tell the two apart, the batch's own records
     * (which the host still writes into the ring) point at decoy buffers, and the device copy at the real ones.
     */
    @Test
    void replayedBatchWithOperandRecordsInDeviceMemoryRunsExactly() {
        int tasks = 100, n = 8;
        try (var rig = new SimRig(32, 1024, tasks, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer a = rig.device.allocate(8L * n * tasks), b = rig.device.allocate(8L * n * tasks);
            SimBuffer out = rig.device.allocate(8L * n * tasks), decoyOut = rig.device.allocate(8L * n * tasks);
            SimBuffer decoyIn = rig.device.allocate(8L * n * tasks);
            for (int i = 0; i < n * tasks; i++) {
                a.segment().setAtIndex(ValueLayout.JAVA_LONG, i, i);
                b.segment().setAtIndex(ValueLayout.JAVA_LONG, i, 1000L * i);
            }
            TaskBatch real = adds(tasks, n, out, a, b), batch = adds(tasks, n, decoyOut, decoyIn, decoyIn);
            long recordWords = 0;
            for (int t = 0; t < tasks; t++) recordWords += real.operandRecordWords(t).length;
            SimBuffer records = rig.device.allocate(8 * recordWords);
            long at = 0;
            for (int t = 0; t < tasks; t++) {
                long[] w = real.operandRecordWords(t);
                java.lang.foreign.MemorySegment.copy(w, 0, records.segment(), ValueLayout.JAVA_LONG_UNALIGNED, at * 8, w.length);
                batch.refsInDevice(t, records.address() + at * 8);
                at += w.length;
            }
            for (int run = 0; run < 3; run++) {  // 100 tasks through a 32-slot ring: it wraps every run
                out.segment().fill((byte) 0);
                long end = rig.queue.submit(batch, SlotResolver.IDENTITY, 10 * SEC);
                rig.queue.await(end - tasks, end, 10 * SEC);
                for (int i = 0; i < n * tasks; i++) {
                    assertEquals(i + 1000L * i + 7, out.segment().getAtIndex(ValueLayout.JAVA_LONG, i),
                            "run " + run + ", element " + i);
                    assertEquals(0, decoyOut.segment().getAtIndex(ValueLayout.JAVA_LONG, i), "decoy element " + i);
                }
            }
        }
    }

    /**
     * Runs: a chain of single-tile tasks, each reading the one before (out[k] = out[k - 1] + 1), in batches through
     * a ring that wraps; each task after the first of a staging round is run by the block that ran the one before
     * it, and marked done by the block holding its ticket. Every value, the order, and that runs happened.
     */
    @Test
    void chainsOfSingleTileTasksRunAsRunsInOrder() {
        int tasks = 600;
        var members = new java.util.concurrent.atomic.AtomicInteger();
        var probe = new SimulatedWorker.Probe() {
            @Override
            public void workerRunsMember(long seq) {
                members.incrementAndGet();
            }
        };
        try (var rig = new SimRig(64, 256, tasks, SimulatedWorker.Config.DEFAULT.withWorkers(6).withProbe(probe))) {
            SimBuffer out = rig.device.allocate(8L * tasks);
            var batch = new TaskBatch();
            long end = 0;
            for (int first = 0; first < tasks; first += 50) {
                batch.clear();
                for (int k = first; k < first + 50; k++) {
                    var w = k == 0 ? batch.add(SimRig.FILL, 1, 1).arg(0, k).arg(1, 0).arg(2, 0)
                            : batch.add(SimRig.SCALE, 1, 1).arg(0, k).arg(1, 1).arg(2, 1)
                                    .refContiguous(1, out, 8L * (k - 1), DTypeCode.I64, 1);
                    w.refContiguous(0, out, 8L * k, DTypeCode.I64, 1);
                    if (k > first) {
                        w.dependsOn(k - 1 - first);
                    } else if (k > 0) {
                        w.dependsOnSeq(end - 1);  // the last task of the previous batch
                    }
                }
                end = rig.queue.submit(batch, SlotResolver.IDENTITY, 10 * SEC);
            }
            rig.queue.await(end - tasks, end, 20 * SEC);
            for (int k = 0; k < tasks; k++) {
                assertEquals(k, out.segment().getAtIndex(ValueLayout.JAVA_LONG, k), "task " + k);
                assertEquals(1, rig.tilesRun.get(k), "tiles of task " + k);
                if (k > 0) assertTrue(rig.start.get(k) > rig.finish.get(k - 1), "task " + k + " started before " + (k - 1) + " finished");
            }
            assertTrue(members.get() > 0, "no task ran as a run member: the test proves nothing");
        }
    }

    /** {@code tasks} adds of {@code n} longs: out = x + y + 7, task t on elements [t*n, (t+1)*n). */
    private static TaskBatch adds(int tasks, int n, SimBuffer out, SimBuffer x, SimBuffer y) {
        TaskBatch batch = new TaskBatch();
        for (int t = 0; t < tasks; t++) {
            long off = 8L * n * t;
            batch.add(SimRig.ADD, 1, n).arg(0, t).arg(1, 7).refContiguous(0, out, off, DTypeCode.I64, n)
                    .refContiguous(1, x, off, DTypeCode.I64, n).refContiguous(2, y, off, DTypeCode.I64, n);
        }
        return batch;
    }
}
