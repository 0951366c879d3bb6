package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedDevice;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Interleavings of worker.cu that real hardware produces rarely, forced with {@link SimulatedWorker.Probe}
 * hooks and operators that block. Each test names the protocol rule it pins down.
 */
class ProtocolRaceTest {
    private static final long SEC = TimeUnit.SECONDS.toNanos(1);

    /** Records (tile, count) of every run; slot 0 blocks on {@code gate} while arg 1 is non-zero. */
    private static final class Recorder {
        final AtomicIntegerArray runs = new AtomicIntegerArray(1024);
        final AtomicIntegerArray badTiles = new AtomicIntegerArray(1024);
        final CountDownLatch gateEntered = new CountDownLatch(1);
        final CountDownLatch gate = new CountDownLatch(1);

        SimOp op() {
            return (task, tile) -> {
                int id = (int) task.arg(0);
                if (task.arg(1) != 0) {
                    gateEntered.countDown();
                    awaitLatch(gate);
                }
                if (tile < 0 || tile >= task.ntiles()) {
                    badTiles.incrementAndGet(id);
                }
                runs.incrementAndGet(id);
            };
        }
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("latch not released within 30 s");
            }
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void waitUntil(BooleanSupplier condition, String what) {
        long end = System.nanoTime() + 10 * SEC;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static TaskQueue queueOn(SimulatedDevice device) {
        return new TaskQueue(device.hostRing(), device.capacity(), device.control(), device.liveness(), s -> "op" + s);
    }

    private static long submit(TaskQueue queue, TaskBatch batch) {
        return queue.submit(batch, SlotResolver.IDENTITY, 5 * SEC);
    }

    /** Submits {@code n} one-tile tasks of operator slot 5, which the launched device lacks: every one faults. */
    private static long submitFaulting(TaskQueue queue, int n) {
        var batch = new TaskBatch();
        for (int i = 0; i < n; i++) {
            batch.add(5, 1, 1);
        }
        return submit(queue, batch);
    }

    /**
     * Tile-map entries may be written only for tasks that are being published: the agent stages more tasks
     * than fit, and entries of the unpublished ones wrap onto tickets that are published but not yet taken.
     */
    @Test
    void stagedButUnpublishedTasksDoNotOverwriteLiveTileMapEntries() {
        var rec = new Recorder();
        try (var device = new SimulatedDevice(64, 16); var queue = queueOn(device)) {
            device.launch(List.of(rec.op()), SimulatedWorker.Config.DEFAULT.withWorkers(2));
            var batch = new TaskBatch();
            batch.add(0, 1, 1).arg(0, 0).arg(1, 1);                  // ticket 0: blocks worker 1
            batch.add(0, 1, 1).arg(0, 1).dependsOn(0);                // ticket 1: worker 2 waits on it
            for (int i = 2; i < 16; i++) {
                batch.add(0, 1, 1).arg(0, i);                         // tickets 2..15: published, not taken
            }
            submit(queue, batch);
            awaitLatch(rec.gateEntered);
            waitUntil(() -> device.pubTiles() == 16 && device.tileCursor() == 2, "both workers hold tickets");
            batch.clear();
            for (int i = 16; i < 20; i++) {
                batch.add(0, 1, 1).arg(0, i);                         // tickets 16..19: do not fit yet
            }
            submit(queue, batch);
            long beat = device.control().heartbeat();
            waitUntil(() -> device.control().heartbeat() > beat + 3, "the agent staged the overflow");
            rec.gate.countDown();
            queue.await(0, 20, 10 * SEC);
            for (int i = 0; i < 20; i++) {
                assertEquals(1, rec.runs.get(i), "runs of task " + i);
                assertEquals(0, rec.badTiles.get(i), "out-of-range tiles of task " + i);
            }
        }
    }

    /**
     * A worker that counted a non-final tile must not look at the descriptor again: the task may complete,
     * its slot be reused, and the new occupant's ntiles equal the stale count, which would store an old
     * done value over the new task's (and deadlock whoever depends on it).
     */
    @Test
    void workerDoesNotReadTheDescriptorAfterCountingItsTile() {
        var rec = new Recorder();
        var hold = new CountDownLatch(1);
        var held = new CountDownLatch(1);
        var once = new AtomicBoolean();
        var probe = new SimulatedWorker.Probe() {
            @Override
            public void workerCountedTile(long seq, int tile, int finished) {
                if (seq == 0 && finished == 1 && once.compareAndSet(false, true)) {
                    held.countDown();
                    awaitLatch(hold);
                }
            }
        };
        try (var device = new SimulatedDevice(4, 64); var queue = queueOn(device)) {
            device.launch(List.of(rec.op()), SimulatedWorker.Config.DEFAULT.withWorkers(3).withProbe(probe));
            var batch = new TaskBatch();
            batch.add(0, 2, 1).arg(0, 0);
            submit(queue, batch);
            awaitLatch(held);
            queue.await(0, 1, 10 * SEC);                              // the other tile finished task 0
            batch.clear();
            for (int i = 1; i <= 4; i++) {
                batch.add(0, 1, 1).arg(0, i);                         // task 4 reuses slot 0, one tile
            }
            submit(queue, batch);
            queue.await(1, 5, 10 * SEC);
            long cursor = device.tileCursor();
            hold.countDown();
            waitUntil(() -> device.tileCursor() > cursor, "the held worker took its next ticket");
            batch.clear();
            batch.add(0, 1, 1).arg(0, 5).dependsOnSeq(4);
            long end = submit(queue, batch);
            queue.await(5, end, 10 * SEC);
            assertEquals(1, rec.runs.get(5));
        }
    }

    /** A task's fault must be visible on the host no later than its completion. */
    @Test
    void faultIsMirroredBeforeCompletionIsPublished() {
        var hold = new CountDownLatch(1);
        var held = new CountDownLatch(1);
        var once = new AtomicBoolean();
        var probe = new SimulatedWorker.Probe() {
            @Override
            public void agentPublishedCompletion(long completedSeq) {
                if (completedSeq >= 1 && once.compareAndSet(false, true)) {
                    held.countDown();
                    awaitLatch(hold);
                }
            }
        };
        try (var device = new SimulatedDevice(64, 256); var queue = queueOn(device)) {
            device.launch(List.of((t, tile) -> {}), SimulatedWorker.Config.DEFAULT.withProbe(probe));
            var batch = new TaskBatch();
            batch.add(7, 1, 1);                                       // slot 7 is not in the table
            submit(queue, batch);
            awaitLatch(held);
            try {
                var f = assertThrows(TaskFaultException.class, () -> queue.await(0, 1, 10 * SEC));
                assertEquals(0, f.seq());
                assertEquals(Layouts.FAULT_BAD_OP, f.code());
            } finally {
                hold.countDown();
            }
        }
    }

    /**
     * When more faults arrive than the device log holds before the agent copies them, the oldest are lost,
     * but mirroring must go on: later faults still reach the host.
     */
    @Test
    void faultMirroringSurvivesAnOverflowingDeviceLog() {
        var once = new AtomicBoolean();
        var deviceRef = new SimulatedDevice[1];
        var probe = new SimulatedWorker.Probe() {
            @Override
            public void agentPublished(long pubSeq, long pubTiles) {
                if (pubSeq >= 100 && once.compareAndSet(false, true)) {
                    waitUntil(() -> deviceRef[0].deviceFaultCount() >= 100, "100 faults were reported");
                }
            }
        };
        try (var device = new SimulatedDevice(128, 256); var queue = queueOn(device)) {
            deviceRef[0] = device;
            device.launch(List.of((t, tile) -> {}), SimulatedWorker.Config.DEFAULT.withProbe(probe));
            submitFaulting(queue, 100);
            var burst = assertThrows(TaskFaultException.class, () -> queue.await(0, 100, 10 * SEC));
            assertTrue(burst.seq() >= 0 && burst.seq() < 100, "fault of seq " + burst.seq());
            var batch = new TaskBatch();
            batch.add(6, 1, 1);
            long end = submit(queue, batch);
            var f = assertThrows(TaskFaultException.class, () -> queue.await(end - 1, end, 10 * SEC));
            assertEquals(100, f.seq());
            assertEquals(6, f.opSlot());
            // The oldest 36 records were overwritten on the device before the agent could copy them.
            assertEquals(100 - Layouts.FAULT_LOG, queue.faults().lost());
            assertEquals(101, queue.faults().total());
        }
    }

    /**
     * The log laps a delayed writer: the worker that reserved record 0 stores it only after record FAULT_LOG (its
     * entry's next owner) is in. It must drop record 0, not store its older tag over the newer record (the agent
     * then waited for a tag that never came: CI saw this as a 10 s timeout under load) nor its fields under the
     * newer tag (another task's fault).
     */
    @Test
    void aWriterTheFaultLogLappedDropsItsRecord() {
        var deviceRef = new SimulatedDevice[1];
        var probe = new SimulatedWorker.Probe() {
            @Override
            public void workerReservedFault(long index) {
                if (index == 0) {
                    waitUntil(() -> deviceRef[0].deviceFaultSeq(Layouts.FAULT_LOG) >= 0, "record FAULT_LOG was written");
                }
            }
        };
        try (var device = new SimulatedDevice(128, 256); var queue = queueOn(device)) {
            deviceRef[0] = device;
            device.launch(List.of((t, tile) -> {}), SimulatedWorker.Config.DEFAULT.withProbe(probe));
            long end = submitFaulting(queue, 100);
            var f = assertThrows(TaskFaultException.class, () -> queue.await(0, end, 10 * SEC));
            assertTrue(f.seq() >= 0 && f.seq() < 100, "fault of seq " + f.seq());
            assertEquals(100, device.deviceFaultCount());
            assertTrue(device.deviceFaultSeq(0) < 0, "record 0 was dropped, not stored over record FAULT_LOG");
            // Every record mirrored names the task it was reported for (the records' seqs are distinct tasks).
            var seen = new java.util.HashSet<Long>();
            long mirrored = device.control().faultCount();
            for (long i = Math.max(0, mirrored - Layouts.FAULT_LOG); i < mirrored; i++) {
                long seq = device.control().faultSeq(i);
                if (seq >= 0) {
                    assertTrue(seq < 100 && seen.add(seq), "record " + i + " names task " + seq);
                }
            }
            assertTrue(queue.faults().lost() >= 100 - Layouts.FAULT_LOG, "lost " + queue.faults().lost());
        }
    }

    /** Writes a one-tile descriptor straight into the host ring, as corrupted memory would. */
    private static void forge(SimulatedDevice device, long slotSeq, long seqField, long tileBase) {
        var ring = device.hostRing();
        long at = (slotSeq & (device.capacity() - 1)) * Layouts.TASK.size();
        ring.asSlice(at, Layouts.TASK.size()).fill((byte) 0);
        ring.set(java.lang.foreign.ValueLayout.JAVA_INT, at + Layouts.TASK.offset("ntiles"), 1);
        ring.set(java.lang.foreign.ValueLayout.JAVA_INT, at + Layouts.TASK.offset("tileSize"), 1);
        ring.set(java.lang.foreign.ValueLayout.JAVA_LONG, at + Layouts.TASK.offset("seq"), seqField);
        ring.set(java.lang.foreign.ValueLayout.JAVA_LONG, at + Layouts.TASK.offset("tileBase"), tileBase);
    }

    private static void assertAbortedFor(SimulatedDevice device, TaskQueue queue, long badSeq) {
        var e = assertThrows(WorkerDeadException.class, () -> queue.await(2, 4, 10 * SEC));
        assertTrue(e.getMessage().contains("exited without being asked to park"), e.getMessage());
        assertEquals(Layouts.AGENT_ABORTED, device.control().agentState());
        // The host learns why: the BAD_DESCRIPTOR record reaches the host page before the agent leaves.
        assertEquals(1, device.control().faultCount(), "faults mirrored to the host");
        assertEquals(badSeq, device.control().faultSeq(0));
        assertEquals(Layouts.FAULT_BAD_DESCRIPTOR, device.control().faultCode(0));
    }

    @Test
    void descriptorWithWrongSeqAbortsTheWorkerAndIsReported() {
        try (var device = new SimulatedDevice(64, 256); var queue = queueOn(device)) {
            device.launch(List.of((t, tile) -> {}));
            var batch = new TaskBatch();
            batch.add(0, 1, 1);
            batch.add(0, 1, 1);
            queue.await(0, submit(queue, batch), 10 * SEC);
            forge(device, 2, 2, 2);
            forge(device, 3, 99, 3);                                  // seq field lies
            device.control().publishSubmitted(4);
            assertAbortedFor(device, queue, 3);
        }
    }

    @Test
    void gapInTileBasesWithinAChunkAbortsTheWorkerAndIsReported() {
        try (var device = new SimulatedDevice(64, 256); var queue = queueOn(device)) {
            device.launch(List.of((t, tile) -> {}));
            var batch = new TaskBatch();
            batch.add(0, 1, 1);
            batch.add(0, 1, 1);
            queue.await(0, submit(queue, batch), 10 * SEC);
            forge(device, 2, 2, 2);
            forge(device, 3, 3, 7);                                   // should be 3
            device.control().publishSubmitted(4);
            assertAbortedFor(device, queue, 3);
        }
    }

    @Test
    void parkedGenerationLeavesOnlyUnpublishedTicketsBehind() {
        var rec = new Recorder();
        try (var device = new SimulatedDevice(64, 256); var queue = queueOn(device)) {
            var ops = new ArrayList<SimOp>(List.of(rec.op()));
            device.launch(ops);
            var batch = new TaskBatch();
            for (int round = 0; round < 30; round++) {
                batch.clear();
                for (int i = 0; i < 10; i++) {
                    batch.add(0, 1 + (i % 3), 1).arg(0, round * 10 + i);
                }
                long end = submit(queue, batch);
                device.park();
                assertEquals(device.pubTiles(), device.tileCursor(), "cursor restarts at pubTiles");
                assertEquals(device.pubSeq(), device.watermark(), "a parked generation finished what it published");
                device.launch(ops, SimulatedWorker.Config.DEFAULT.withWorkers(1 + round % 4));
                queue.await(end - 10, end, 10 * SEC);
            }
            for (int i = 0; i < 300; i++) {
                assertEquals(1 + (i % 10 % 3), rec.runs.get(i), "tiles run of task " + i);
            }
        }
    }
}
