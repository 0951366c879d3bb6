package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.layout.TaskSeal;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The seal of a submission's first descriptor (issue 13: one PCIe read per new submission): the host seals
 * exactly the first task of every submission, and an idle agent takes a sealed task from its slot before the
 * doorbell, but never a slot whose seal does not match what it read.
 */
class SealedSlotTest {
    private static final long SEC = TimeUnit.SECONDS.toNanos(1);
    private static final int SEQ_WORD = (int) (TaskFields.SEQ >>> 3), TILE_BASE_WORD = (int) (TaskFields.TILE_BASE >>> 3);

    private static long sealWord(MemorySegment hostRing, long slot) {
        return hostRing.get(ValueLayout.JAVA_LONG, slot * TaskFields.TASK_BYTES + 8L * TaskSeal.SEAL_WORD);
    }

    private static long[] slotWords(MemorySegment hostRing, long slot) {
        return hostRing.asSlice(slot * TaskFields.TASK_BYTES, TaskFields.TASK_BYTES).toArray(ValueLayout.JAVA_LONG);
    }

    private static long expectedSeal(long salt, long[] w) {
        int flags = Short.toUnsignedInt((short) (w[(int) (TaskFields.FLAGS >>> 3)] >>> (TaskFields.FLAGS & 7) * 8));
        int nrefs = (int) (w[(int) (TaskFields.NREFS >>> 3)] >>> (TaskFields.NREFS & 7) * 8) & 0xFF;
        return TaskSeal.of(salt, w, 0, w, TaskSeal.HEADER_WORDS, TaskSeal.sealedWords(flags, nrefs) - TaskSeal.HEADER_WORDS);
    }

    @Test
    void onlyTheFirstTaskOfASubmissionIsSealed() {
        try (var rig = new SimRig(64, 256, 100, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(8 * 8);
            var batch = new TaskBatch();
            for (int i = 0; i < 3; i++) {
                batch.add(SimRig.FILL, 1, 1).arg(0, i).arg(1, 10 + i).arg(2, 0).refContiguous(0, out, 8L * i, DTypeCode.I64, 1);
            }
            long end = rig.queue.submit(batch, SlotResolver.IDENTITY, SEC);
            rig.queue.await(0, end, 10 * SEC);
            MemorySegment ring = rig.device.hostRing();
            long salt = rig.device.control().sealSalt();
            assertEquals(expectedSeal(salt, slotWords(ring, 0)), sealWord(ring, 0), "first task sealed");
            assertEquals(0, sealWord(ring, 1));
            assertEquals(0, sealWord(ring, 2));
            // Another salt gives another seal: a slot left by another queue never passes.
            assertNotEquals(expectedSeal(salt + 1, slotWords(ring, 0)), sealWord(ring, 0));
            for (int i = 0; i < 3; i++) assertEquals(10 + i, out.segment().get(ValueLayout.JAVA_LONG, 8L * i));
        }
    }

    @Test
    void anIdleAgentTakesASealedTaskBeforeItsDoorbellButNeverABadSeal() throws Exception {
        try (var rig = new SimRig(64, 256, 100, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(8 * 8);
            var batch = new TaskBatch();
            batch.add(SimRig.FILL, 1, 1).arg(0, 0).arg(1, 5).arg(2, 0).refContiguous(0, out, 0, DTypeCode.I64, 1);
            long end = rig.queue.submit(batch, SlotResolver.IDENTITY, SEC);
            rig.queue.await(0, end, 10 * SEC);
            MemorySegment ring = rig.device.hostRing();
            long salt = rig.device.control().sealSalt();

            // Task 1, written as the queue would write the first task of a submission, doorbell withheld.
            long[] w = descriptor(out, 1, 1, 41);
            w[TaskSeal.SEAL_WORD] = expectedSeal(salt, w);
            MemorySegment.copy(w, 0, ring, ValueLayout.JAVA_LONG, TaskFields.TASK_BYTES, w.length);
            awaitCompleted(rig, 2);
            assertEquals(41, out.segment().get(ValueLayout.JAVA_LONG, 8));

            // Task 2 with a seal that does not match one word (a torn read looks like this): never taken...
            long[] bad = descriptor(out, 2, 2, 42);
            bad[TaskSeal.SEAL_WORD] = expectedSeal(salt, bad);
            bad[(int) (TaskFields.ARGS >>> 3) + 1] = 43;
            MemorySegment.copy(bad, 0, ring, ValueLayout.JAVA_LONG, 2 * TaskFields.TASK_BYTES, bad.length);
            Thread.sleep(300);
            assertEquals(2, rig.device.control().completed(), "a slot whose seal does not match was staged");
            // ... until the doorbell says it is there (the doorbell path needs no seal).
            rig.device.control().publishSubmitted(3);
            awaitCompleted(rig, 3);
            assertEquals(43, out.segment().get(ValueLayout.JAVA_LONG, 16));
        }
    }

    /** A FILL task (out[id] = value) with seq and tile base in place, seal zero. */
    private static long[] descriptor(SimBuffer out, long seq, int id, long value) {
        var b = new TaskBatch();
        b.add(SimRig.FILL, 1, 1).arg(0, id).arg(1, value).arg(2, 0).refContiguous(0, out, 8L * id, DTypeCode.I64, 1);
        long[] w = java.util.Arrays.copyOf(b.words(), TaskBatch.TASK_WORDS);
        w[SEQ_WORD] = seq;
        w[TILE_BASE_WORD] = seq; // every task here has one tile
        w[TaskSeal.SEAL_WORD] = 0;
        return w;
    }

    private static void awaitCompleted(SimRig rig, long seq) throws InterruptedException {
        long deadline = System.nanoTime() + 10 * SEC;
        while (rig.device.control().completed() < seq) {
            assertTrue(System.nanoTime() < deadline, "task " + (seq - 1) + " not completed; completed up to "
                    + rig.device.control().completed());
            Thread.sleep(1);
        }
    }
}
