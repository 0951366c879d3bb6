package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceArena;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.runtime.memory.SimulatedDeviceMemory;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue #5 at the queue, on the simulated device: many threads at once with every result checked, closing
 * while threads submit, and the API refusing tasks that would carry a null or freed pointer.
 */
class QueueLifecycleTest {
    private static final long SEC = TimeUnit.SECONDS.toNanos(1);
    private static final Duration THREAD_BOUND = Duration.ofMinutes(2);

    /**
     * 16 threads x 62,500 tasks (1M), 8 writing disjoint parts of one shared buffer and 8 their own buffers,
     * mixing submit+await and submitAsync through a 256-task ring: every element checked, nothing lost, no deadlock.
     */
    @Test
    void sixteenThreadsOnSharedAndSeparateBuffersLoseNothing() throws Exception {
        final int threads = 16;
        final int perThread = 62_500; // 1M tasks in all
        final int batchSize = 50;
        try (var rig = new SimRig(256, 1024, 1, SimulatedWorker.Config.DEFAULT)) {
            rig.ops.set(SimRig.FILL, (task, tile) -> {
                long numel = task.refNumel(0);
                for (long j = task.tileBegin(tile, numel); j < task.tileEnd(tile, numel); j++) {
                    task.memory(0).set(ValueLayout.JAVA_LONG, task.byteOffset(0, j), task.arg(1) + j * task.arg(2));
                }
            });
            rig.device.relaunch(rig.ops, rig.config);
            SimBuffer shared = rig.device.allocate(8L * 2 * perThread * (threads / 2));
            List<SimBuffer> own = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                own.add(t < threads / 2 ? shared : rig.device.allocate(8L * 2 * perThread));
            }
            List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers.add(Thread.ofPlatform().daemon().name("submit-" + t).start(() -> {
                    try {
                        SimBuffer out = own.get(id);
                        long base = id < threads / 2 ? 2L * perThread * id : 0;
                        var batch = new TaskBatch();
                        var futures = new ArrayList<CompletableFuture<Void>>();
                        for (int k = 0; k < perThread; k += batchSize) {
                            batch.clear();
                            for (int i = k; i < k + batchSize; i++) {
                                batch.add(SimRig.FILL, 2, 1).arg(1, 1_000_000L * id + i).arg(2, 7)
                                        .refContiguous(0, out, 8 * (base + 2L * i), DTypeCode.I64, 2);
                            }
                            if ((k / batchSize) % 4 == 0) {
                                long end = rig.queue.submit(batch, SlotResolver.IDENTITY, 30 * SEC);
                                rig.queue.await(end - batchSize, end, 30 * SEC);
                            } else {
                                futures.add(rig.queue.submitAsync(batch, SlotResolver.IDENTITY, 30 * SEC));
                            }
                        }
                        for (var f : futures) {
                            f.get(30, TimeUnit.SECONDS);
                        }
                        for (int i = 0; i < perThread; i++) {
                            for (int j = 0; j < 2; j++) {
                                long got = out.segment().get(ValueLayout.JAVA_LONG, 8 * (base + 2L * i + j));
                                assertEquals(1_000_000L * id + i + 7L * j, got, "thread " + id + " task " + i);
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            joinAll(workers);
            if (!failures.isEmpty()) {
                throw new AssertionError(failures.size() + " threads failed", failures.getFirst());
            }
            assertEquals((long) threads * perThread, rig.queue.completed());
            assertEquals(0, rig.queue.pendingFutures());
        }
    }

    /**
     * Closing while 8 threads submit: from {@link TaskQueue#stopAccepting} on, every submit fails with a clear
     * IllegalStateException and writes nothing; every future handed out before completes normally (close
     * drains), and the device completes exactly what was accepted.
     */
    @Test
    void stopAcceptingWhileThreadsSubmitDrainsEverythingAccepted() throws Exception {
        final int threads = 8;
        try (var rig = new SimRig(64, 256, 1, SimulatedWorker.Config.DEFAULT)) {
            rig.ops.set(SimRig.FILL, (task, tile) -> task.memory(0).set(ValueLayout.JAVA_LONG,
                    task.byteOffset(0, 0), task.arg(1)));
            rig.device.relaunch(rig.ops, rig.config);
            final int maxPerThread = 1_000_000;
            SimBuffer out = rig.device.allocate(8L * threads * 4096);
            List<List<CompletableFuture<Void>>> futures = new ArrayList<>();
            List<String> refusals = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
            CountDownLatch streaming = new CountDownLatch(threads);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                List<CompletableFuture<Void>> mine = new ArrayList<>();
                futures.add(mine);
                workers.add(Thread.ofPlatform().daemon().name("submit-" + t).start(() -> {
                    var batch = new TaskBatch();
                    try {
                        for (int k = 0; k < maxPerThread; k++) {
                            batch.clear().add(SimRig.FILL, 1, 1).arg(1, k + 1)
                                    .refContiguous(0, out, 8L * (id * 4096 + k % 4096), DTypeCode.I64, 1);
                            mine.add(rig.queue.submitAsync(batch, SlotResolver.IDENTITY, 30 * SEC));
                            if (k == 100) {
                                streaming.countDown();
                            }
                        }
                        failures.add(new AssertionError("thread " + id + " was never refused"));
                    } catch (IllegalStateException refused) {
                        refusals.add(refused.getMessage());
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            assertTrue(streaming.await(60, TimeUnit.SECONDS), "threads did not start streaming");
            assertTrue(rig.queue.stopAccepting(10 * SEC), "a submission held the queue for 10 s");
            long accepted = rig.queue.submitted();
            joinAll(workers);
            if (!failures.isEmpty()) {
                throw new AssertionError("a submitting thread failed", failures.getFirst());
            }
            assertEquals(threads, refusals.size());
            assertTrue(refusals.getFirst().contains("closed"), refusals.getFirst());
            assertEquals(accepted, rig.queue.submitted(), "a submission got through after stopAccepting");
            rig.queue.await(0, accepted, 30 * SEC);
            long handedOut = 0;
            for (var mine : futures) {
                for (var f : mine) {
                    f.get(10, TimeUnit.SECONDS); // completes normally: accepted work is drained, not cancelled
                }
                handedOut += mine.size();
            }
            assertEquals(accepted, handedOut, "every accepted task has a future and nothing else was accepted");
        }
    }

    /** A null buffer, a null device address or a released buffer never reach a descriptor. */
    @Test
    void taskWithNullOrReleasedBufferCannotBeBuilt() {
        var batch = new TaskBatch();
        var w = batch.add(0, 1, 1);
        assertThrows(NullPointerException.class, () -> w.refContiguous(0, null, 0, DTypeCode.F32, 1));
        DeviceBuffer forged = new DeviceBuffer() {
            @Override
            public long address() {
                return 0;
            }

            @Override
            public long byteSize() {
                return 1 << 20;
            }

            @Override
            public boolean isLive() {
                return true;
            }
        };
        var nullAddress = assertThrows(IllegalArgumentException.class,
                () -> w.refContiguous(0, forged, 0, DTypeCode.F32, 1));
        assertTrue(nullAddress.getMessage().contains("null device address"), nullAddress.getMessage());

        var memory = new SimulatedDeviceMemory(1 << 20);
        try (var arena = new DeviceArena(memory, 1 << 16, 1 << 15)) {
            DeviceBlock block = arena.allocate(1024);
            arena.release(block, -1);
            var released = assertThrows(IllegalStateException.class,
                    () -> w.refContiguous(0, block, 0, DTypeCode.F32, 1));
            assertTrue(released.getMessage().contains("released"), released.getMessage());
            assertThrows(IllegalStateException.class, () -> w.ref(0, block, 0, DTypeCode.F32, new long[] {2},
                    new long[] {1}));
            DeviceBlock live = arena.allocate(1024);
            assertThrows(IndexOutOfBoundsException.class, () -> w.refContiguous(0, live, 0, DTypeCode.F32, 257));
            assertThrows(IndexOutOfBoundsException.class, () -> w.refContiguous(0, live, -4, DTypeCode.F32, 1));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> w.ref(0, live, 0, DTypeCode.F32, new long[] {2}, new long[] {-1}));
        }
    }

    /** A buffer released between recording a task and submitting it: the whole batch is refused, nothing written. */
    @Test
    void bufferReleasedAfterRecordingIsRefusedAtSubmit() throws Exception {
        try (var rig = new SimRig(64, 256, 10, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer a = rig.device.allocate(64);
            SimBuffer b = rig.device.allocate(64);
            var batch = new TaskBatch();
            batch.add(SimRig.FILL, 1, 1).arg(0, 0).arg(1, 5).refContiguous(0, a, 0, DTypeCode.I64, 1);
            batch.add(SimRig.FILL, 1, 1).arg(0, 1).arg(1, 6).refContiguous(0, b, 0, DTypeCode.I64, 1);
            rig.device.release(b);
            var e = assertThrows(IllegalStateException.class,
                    () -> rig.queue.submit(batch, SlotResolver.IDENTITY, SEC));
            assertTrue(e.getMessage().contains("task 1 operand 0") && e.getMessage().contains("released"),
                    e.getMessage());
            assertEquals(0, rig.queue.submitted());
            assertEquals(0, a.segment().get(ValueLayout.JAVA_LONG, 0));
            // The queue is fine afterwards.
            batch.clear().add(SimRig.FILL, 1, 1).arg(0, 2).arg(1, 9).refContiguous(0, a, 0, DTypeCode.I64, 1);
            long end = rig.queue.submit(batch, SlotResolver.IDENTITY, SEC);
            rig.queue.await(0, end, 10 * SEC);
            assertEquals(9, a.segment().get(ValueLayout.JAVA_LONG, 0));
        }
    }

    /** Operands must be set densely from 0: an unset one below the highest would carry a stale pointer. */
    @Test
    void skippedOperandIsRefusedAtSubmit() {
        try (var rig = new SimRig(64, 256, 10, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer a = rig.device.allocate(64);
            var batch = new TaskBatch();
            batch.add(SimRig.FILL, 1, 1).refContiguous(1, a, 0, DTypeCode.I64, 1);
            var e = assertThrows(IllegalStateException.class,
                    () -> rig.queue.submit(batch, SlotResolver.IDENTITY, SEC));
            assertTrue(e.getMessage().contains("operand 0 was never set"), e.getMessage());
            assertFalse(rig.queue.submitted() > 0);
        }
    }

    private static void joinAll(List<Thread> threads) throws InterruptedException {
        long deadline = System.nanoTime() + THREAD_BOUND.toNanos();
        for (Thread t : threads) {
            if (!t.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
                var e = new AssertionError(t.getName() + " still running after " + THREAD_BOUND + "; stuck at:");
                e.setStackTrace(t.getStackTrace());
                throw e;
            }
        }
    }
}
