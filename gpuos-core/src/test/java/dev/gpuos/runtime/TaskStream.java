package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.sim.SimBuffer;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One submitting thread's random task graph and its host-side model. Task k (global id {@code idBase + k})
 * writes its own output region and reads the outputs of earlier tasks it depends on, so the expected value of
 * every element is known on the host and any dependency violation shows up as a wrong value.
 */
final class TaskStream {
    static final int MAX_ELEMS = 8 * 4;
    static final long TIMEOUT = TimeUnit.SECONDS.toNanos(20);

    private final SimRig rig;
    private final long seed;
    private final SplittableRandom rnd;
    private final int idBase;
    private final int count;
    private final int maxBatch;
    private final SimBuffer out;
    private final long[] seqOf;
    private final int[] numel;
    private final int[] ntiles;
    private final long[][] expected;
    private final long[][] deps;
    private final List<CompletableFuture<Void>> futures = new ArrayList<>();
    private int made;
    private long maxEnd;

    TaskStream(SimRig rig, long seed, int idBase, int count, int maxBatch) {
        this.rig = rig;
        this.seed = seed;
        this.rnd = new SplittableRandom(seed);
        this.idBase = idBase;
        this.count = count;
        this.maxBatch = maxBatch;
        this.out = rig.device.allocate((long) count * MAX_ELEMS * 8);
        this.seqOf = new long[count];
        this.numel = new int[count];
        this.ntiles = new int[count];
        this.expected = new long[count][];
        this.deps = new long[count][];
    }

    boolean finished() {
        return made == count;
    }

    /** Builds and submits the next batch (submit or submitAsync, sometimes awaiting it and checking a task). */
    void step(TaskBatch batch) {
        int first = made;
        int n = Math.min(count - made, 1 + rnd.nextInt(maxBatch));
        batch.clear();
        // The queue reports one noteUse per distinct slot, with the seq of that slot's LAST task in the batch;
        // the batch's seqs are contiguous, so each report pins them all: seq of task i = reported - last + i.
        int[] lastIndexOfSlot = {-1, -1, -1};
        for (int i = 0; i < n; i++) {
            lastIndexOfSlot[add(batch, first, made++)] = i;
        }
        long[] noted = {-1, -1, -1};
        int[] notes = new int[3];
        SlotResolver recordSeqs = new SlotResolver() {
            @Override
            public int slotFor(int logicalOp) {
                return logicalOp;
            }

            @Override
            public void noteUse(int slot, long seq) {
                // No assertions here: this runs inside the queue's finally block.
                notes[slot]++;
                noted[slot] = seq;
            }
        };
        long end = -1;
        if (rnd.nextBoolean()) {
            futures.add(rig.queue.submitAsync(batch, recordSeqs, TIMEOUT));
        } else {
            end = rig.queue.submit(batch, recordSeqs, TIMEOUT);
        }
        long base = -1;
        for (int slot = 0; slot < 3; slot++) {
            String where = "seed " + seed + ": batch of tasks [" + first + ", " + (first + n) + "), slot " + slot;
            if (lastIndexOfSlot[slot] < 0) {
                assertEquals(0, notes[slot], where + " is unused but was noted");
                continue;
            }
            assertEquals(1, notes[slot], where + ": noteUse calls");
            long slotBase = noted[slot] - lastIndexOfSlot[slot];
            if (base >= 0) {
                assertEquals(base, slotBase, where + ": noted seq " + noted[slot] + " is not the seq of its last task "
                        + lastIndexOfSlot[slot] + " (batch starts at seq " + base + " per another slot)");
            }
            base = slotBase;
        }
        for (int i = 0; i < n; i++) {
            seqOf[first + i] = base + i;
        }
        if (end >= 0) {
            assertEquals(base + n, end, "seed " + seed + ": submit returned " + end + ", noteUse says the batch started at " + base);
            if (rnd.nextInt(8) == 0) {
                rig.queue.await(end - n, end, TIMEOUT);
                verify(first + rnd.nextInt(n));
            }
        }
        maxEnd = Math.max(maxEnd, base + n);
    }

    private int pickEarlier(int k) {
        return rnd.nextInt(10) == 0 ? rnd.nextInt(k) : k - 1 - rnd.nextInt(Math.min(k, 100));
    }

    /** Adds task {@code k} to the batch and its model; returns its operator slot. */
    private int add(TaskBatch batch, int batchFirst, int k) {
        int op = k == 0 ? SimRig.FILL : rnd.nextInt(3);
        int nt = 1 + rnd.nextInt(8);
        int tileSize = 1 + rnd.nextInt(4);
        int ne = (nt - 1) * tileSize + 1 + rnd.nextInt(tileSize);
        long c1 = rnd.nextLong();
        long c2 = rnd.nextLong();
        int id = idBase + k;
        var w = batch.add(op, nt, tileSize).arg(0, id).arg(1, c1).arg(2, c2);
        w.refContiguous(0, out, region(k), DTypeCode.I64, ne);
        long[] e = new long[ne];
        var myDeps = new ArrayList<Integer>();
        if (op == SimRig.FILL) {
            for (int j = 0; j < ne; j++) {
                e[j] = c1 + j * c2;
            }
        } else {
            int a = pickEarlier(k);
            int b = pickEarlier(k);
            w.refContiguous(1, out, region(a), DTypeCode.I64, numel[a]);
            myDeps.add(a);
            if (op == SimRig.ADD) {
                w.refContiguous(2, out, region(b), DTypeCode.I64, numel[b]);
                myDeps.add(b);
            }
            for (int j = 0; j < ne; j++) {
                e[j] = op == SimRig.ADD
                        ? expected[a][j % numel[a]] + expected[b][j % numel[b]] + c1
                        : expected[a][j % numel[a]] * c1 + c2;
            }
        }
        for (int extra = rnd.nextInt(3); extra > 0 && k > 0; extra--) {
            myDeps.add(pickEarlier(k)); // ordering only
        }
        long[] d = new long[myDeps.size()];
        for (int i = 0; i < d.length; i++) {
            int dep = myDeps.get(i);
            if (dep >= batchFirst) {
                w.dependsOn(dep - batchFirst);
            } else {
                w.dependsOnSeq(seqOf[dep]);
            }
            d[i] = dep;
        }
        numel[k] = ne;
        ntiles[k] = nt;
        expected[k] = e;
        deps[k] = d;
        return op;
    }

    private static long region(int k) {
        return (long) k * MAX_ELEMS * 8;
    }

    /** Waits for everything this stream submitted. */
    void awaitAll() throws Exception {
        for (var f : futures) {
            f.get(20, TimeUnit.SECONDS);
        }
        rig.queue.await(0, maxEnd, TIMEOUT);
    }

    void verify(int k) {
        for (int j = 0; j < numel[k]; j++) {
            long got = out.segment().get(ValueLayout.JAVA_LONG, region(k) + 8L * j);
            if (got != expected[k][j]) {
                assertEquals(expected[k][j], got, "seed " + seed + ": task " + k + " (seq " + seqOf[k] + ") element " + j);
            }
        }
    }

    /** Every output element, every tile run exactly once, every task started after its deps finished. */
    void verifyAll() {
        for (int k = 0; k < made; k++) {
            verify(k);
            int id = idBase + k;
            assertEquals(ntiles[k], rig.tilesRun.get(id), "seed " + seed + ": tiles run of task " + k);
            assertNotEquals(Long.MAX_VALUE, rig.start.get(id), "seed " + seed + ": task " + k + " never ran");
            for (long dep : deps[k]) {
                long depFinish = rig.finish.get(idBase + (int) dep);
                assertTrue(rig.start.get(id) > depFinish, "seed " + seed + ": task " + k + " (seq " + seqOf[k]
                        + ") started at " + rig.start.get(id) + ", before its dependency " + dep + " (seq "
                        + seqOf[(int) dep] + ") finished at " + depFinish);
            }
        }
    }
}
