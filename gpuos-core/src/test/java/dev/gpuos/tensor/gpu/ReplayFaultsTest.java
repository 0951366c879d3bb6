package dev.gpuos.tensor.gpu;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host half of {@link ReplayFaults} without a GPU: reading a program's fault log (which run and task each
 * entry names, entries lost to the ring) and the run ranges taints name. GpuReplayFaultsTest runs it on the device.
 */
class ReplayFaultsTest {
    private static final int[] BATCH_INDEX = {3, 5};  // task j of the program is batch task 3 or 5 of each run

    /** An entry as index_select.cu appends it: stamp = the task's seq + 1 = run base + batch index + 1. */
    private static long[] entry(long runBase, int j, long index, long size) {
        return new long[]{runBase + BATCH_INDEX[j] + 1, j, index, size};
    }

    /** The device ring after appending {@code entries} in order (positions from {@code firstPosition}). */
    private static long[] ring(long firstPosition, List<long[]> entries) {
        long[] words = new long[ReplayFaults.LOG_ENTRIES * 4];
        for (int k = 0; k < entries.size(); k++) {
            int slot = (int) ((firstPosition + k) % ReplayFaults.LOG_ENTRIES);
            System.arraycopy(entries.get(k), 0, words, slot * 4, 4);
        }
        return words;
    }

    @Test
    void anEntryBelongsToItsRunAndTaskOnly() {
        ReplayFaults.Known known = new ReplayFaults.Known(BATCH_INDEX);
        known.absorb(1, ring(0, List.of(entry(200, 1, 42, 10))));
        long task1 = 1L << 1, task0 = 1L;
        long[] f = known.failure(task1, 200, 200);
        assertNotNull(f);
        assertEquals(200, known.baseOf(f));
        assertArrayEquals(new long[]{206, 1, 42, 10}, f);
        assertNotNull(known.failure(task1 | task0, 100, 300), "a range of runs holding the failing one");
        assertNull(known.failure(task0, 200, 200), "another index_select of the same run");
        assertNull(known.failure(task1, 100, 100), "an earlier run");
        assertNull(known.failure(task1, 210, 300), "later runs");
        assertFalse(known.unknownIn(0, Long.MAX_VALUE));
    }

    @Test
    void entriesOverwrittenUnreadMakeTheirRunsUnknownNotGood() {
        ReplayFaults.Known known = new ReplayFaults.Known(BATCH_INDEX);
        List<long[]> appended = new java.util.ArrayList<>();
        for (int p = 0; p < 5 + 300; p++) appended.add(entry(1000 + 10L * p, 0, p, 8));
        known.absorb(5, ring(0, appended.subList(0, 5)));  // runs 1000..1040 read
        int total = appended.size(), firstLeft = total - ReplayFaults.LOG_ENTRIES;
        known.absorb(total, ring(firstLeft, appended.subList(firstLeft, total)));
        assertNotNull(known.failure(1, 1000, 1000), "read before the ring wrapped");
        assertFalse(known.unknownIn(1000, 1030));
        assertNull(known.failure(1, 1050, 1050));
        assertTrue(known.unknownIn(1050, 1050), "its entry was overwritten unread");
        long oldestLeft = 1000 + 10L * firstLeft;
        assertNotNull(known.failure(1, oldestLeft, oldestLeft));
        assertNotNull(known.failure(1, 1000 + 10L * (total - 1), 1000 + 10L * (total - 1)), "the latest run");
        assertFalse(known.unknownIn(oldestLeft + 10, Long.MAX_VALUE));
    }

    @Test
    void failuresBeyondWhatTheHostKeepsBecomeUnknown() {
        ReplayFaults.Known known = new ReplayFaults.Known(BATCH_INDEX);
        long position = 0;
        for (int chunk = 0; chunk < ReplayFaults.KEPT / 100 + 2; chunk++) {
            List<long[]> entries = new java.util.ArrayList<>();
            for (int k = 0; k < 100; k++) entries.add(entry(10 * (position + k), 1, 7, 8));
            known.absorb(position + 100, ring(position, entries));
            position += 100;
        }
        assertNull(known.failure(2, 0, 0));
        assertTrue(known.unknownIn(0, 0), "dropped from the host's list: unknown, never good");
        assertNotNull(known.failure(2, 10 * (position - 1), 10 * (position - 1)));
    }

    @Test
    void taintsNameTheRunsTheyWereTakenFrom() {
        ReplayFaults owner = new ReplayFaults(null, List.of());
        ReplayFaults.Writes runs = owner.placed(List.of(), Map.of(), List.of());
        ReplayFaults.Taint live = new ReplayFaults.Taint(owner, 1, ReplayFaults.LATEST, ReplayFaults.LATEST);
        runs.noteRun(100, 110);
        ReplayFaults.Taint[] fromFirst = ReplayFaults.union(new ReplayFaults.Taint[]{live}, null);
        assertArrayEquals(new ReplayFaults.Taint[]{new ReplayFaults.Taint(owner, 1, 100, 100)}, fromFirst);
        runs.noteRun(200, 210);
        runs.noteRun(300, 310);
        // Runs 100 and 300, not 200 between them: two ranges.
        ReplayFaults.Taint[] apart = ReplayFaults.union(fromFirst, new ReplayFaults.Taint[]{live});
        assertArrayEquals(new ReplayFaults.Taint[]{new ReplayFaults.Taint(owner, 1, 100, 100),
                new ReplayFaults.Taint(owner, 1, 300, 300)}, apart);
        assertArrayEquals(apart, ReplayFaults.union(apart, apart), "no repeats");
        // Runs 100 to 300 and the next one: one range naming exactly those runs (a buffer kept across runs).
        runs.noteRun(400, 410);
        ReplayFaults.Taint[] kept = ReplayFaults.union(ReplayFaults.union(apart, new ReplayFaults.Taint[]{
                new ReplayFaults.Taint(owner, 1, 200, 200)}), new ReplayFaults.Taint[]{live});
        assertArrayEquals(new ReplayFaults.Taint[]{new ReplayFaults.Taint(owner, 1, 100, 400)}, kept);
        // Another mask stays apart.
        ReplayFaults.Taint[] masks = ReplayFaults.union(kept, new ReplayFaults.Taint[]{
                new ReplayFaults.Taint(owner, 2, 300, 300)});
        assertArrayEquals(new ReplayFaults.Taint[]{new ReplayFaults.Taint(owner, 1, 100, 400),
                new ReplayFaults.Taint(owner, 2, 300, 300)}, masks);
        ReplayFaults.check(masks);  // no log, nothing failed: no exception
    }
}
