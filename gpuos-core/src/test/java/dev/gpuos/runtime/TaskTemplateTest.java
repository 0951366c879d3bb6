package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Templates on the simulated device, whose agent is worker.cu's line by line: the agent expands one header into
 * the template's tasks, from device memory, through ring wraparound, small stage chunks and a small tile map,
 * across generation swaps that park it mid-expansion, and with a new image when an operator's slot changes.
 * The host ring slots of an expansion's tasks are filled with garbage before each run: an agent that read them
 * would fail validation and abort.
 */
class TaskTemplateTest {
    private static final long SEC = TimeUnit.SECONDS.toNanos(1);
    private static final int N = 8;  // elements per task

    /** Images in simulated device memory, counted. */
    private static final class SimMemory implements TaskTemplate.Memory {
        final SimRig rig;
        int placed, released;

        SimMemory(SimRig rig) {
            this.rig = rig;
        }

        @Override
        public TaskTemplate.Placed place(MemorySegment image) {
            SimBuffer b = rig.device.allocate(image.byteSize());
            MemorySegment.copy(image, 0, b.segment(), 0, image.byteSize());
            placed++;
            return new TaskTemplate.Placed(b.address(), () -> {
                released++;
                rig.device.release(b);
            });
        }
    }

    /**
     * A chain-shaped batch over {@code tasks} rows of {@code N} longs in {@code out}: task 0 fills row 0; task i
     * scales row i-1 into row i (a dependency), and every fifth task adds rows i-1 and i-2 instead (two).
     * Task i has i % 3 + 1 tiles. Task ids (arg 0) start at {@code idBase}.
     */
    private static TaskBatch chain(int tasks, SimBuffer out, int idBase, int scaleOp) {
        TaskBatch b = new TaskBatch();
        for (int i = 0; i < tasks; i++) {
            int ntiles = i % 3 + 1;
            long row = 8L * N * i;
            if (i == 0) {
                b.add(SimRig.FILL, 1, N).arg(0, idBase).arg(1, 3).arg(2, 2).refContiguous(0, out, row, DTypeCode.I64, N);
            } else if (i % 5 == 0 && i >= 2) {
                b.add(SimRig.ADD, ntiles, (N + ntiles - 1) / ntiles).arg(0, idBase + i).arg(1, 1)
                        .refContiguous(0, out, row, DTypeCode.I64, N).refContiguous(1, out, row - 8L * N, DTypeCode.I64, N)
                        .refContiguous(2, out, row - 16L * N, DTypeCode.I64, N).dependsOn(i - 1).dependsOn(i - 2);
            } else {
                b.add(scaleOp, ntiles, (N + ntiles - 1) / ntiles).arg(0, idBase + i).arg(1, 3).arg(2, -5)
                        .refContiguous(0, out, row, DTypeCode.I64, N).refContiguous(1, out, row - 8L * N, DTypeCode.I64, N)
                        .dependsOn(i - 1);
            }
        }
        return b;
    }

    /** What {@link #chain} computes, with SCALE as its scale op. */
    private static long[] expected(int tasks) {
        long[] v = new long[tasks * N];
        for (int i = 0; i < tasks; i++) {
            for (int j = 0; j < N; j++) {
                int at = i * N + j;
                if (i == 0) v[at] = 3 + 2L * j;
                else if (i % 5 == 0) v[at] = v[at - N] + v[at - 2 * N] + 1;
                else v[at] = v[at - N] * 3 - 5;
            }
        }
        return v;
    }

    /** Garbage in every host ring slot (seq fields that match nothing): only valid if nobody reads them. */
    private static void scribbleHostRing(SimRig rig, SplittableRandom r) {
        MemorySegment ring = rig.device.hostRing();
        for (long off = 0; off < ring.byteSize(); off += 8) ring.set(ValueLayout.JAVA_LONG_UNALIGNED, off, r.nextLong() | 1L << 62);
    }

    private static void run(SimulatedWorker.Config config, long capacity, long tileCapacity, int tasks, int runs, boolean swapMidway) throws Exception {
        SplittableRandom r = new SplittableRandom(tasks * 31L + capacity);
        try (var rig = new SimRig(capacity, tileCapacity, tasks + 1, config)) {
            SimBuffer out = rig.device.allocate(8L * N * tasks);
            SimMemory memory = new SimMemory(rig);
            TaskTemplate template = TaskTemplate.of(chain(tasks, out, 0, SimRig.SCALE), memory);
            long[] want = expected(tasks);
            SimBuffer filler = rig.device.allocate(8L * N);
            AtomicReference<Throwable> swapFailure = new AtomicReference<>();
            for (int run = 0; run < runs; run++) {
                // A few plain tasks first, so each expansion starts at another ring offset.
                TaskBatch plain = new TaskBatch();
                for (int k = 0; k < run % 4 + 1; k++) {
                    plain.add(SimRig.FILL, 1, N).arg(0, tasks).arg(1, k).arg(2, 0).refContiguous(0, filler, 0, DTypeCode.I64, N);
                }
                long pe = rig.queue.submit(plain, SlotResolver.IDENTITY, 10 * SEC);
                rig.queue.await(pe - plain.size(), pe, 10 * SEC);
                out.segment().fill((byte) 0);
                scribbleHostRing(rig, r);
                Thread swapper = null;
                if (swapMidway) {
                    swapper = Thread.ofPlatform().daemon().start(() -> {
                        try {
                            rig.swap();
                        } catch (Throwable t) {
                            swapFailure.set(t);
                        }
                    });
                }
                long end = rig.queue.submit(template, SlotResolver.IDENTITY, 10 * SEC);
                if (swapper != null) swapper.join(TimeUnit.MINUTES.toMillis(1));
                rig.queue.await(end - tasks, end, 30 * SEC);
                if (swapFailure.get() != null) throw new AssertionError("swap failed", swapFailure.get());
                for (int i = 0; i < tasks * N; i++) {
                    assertEquals(want[i], out.segment().getAtIndex(ValueLayout.JAVA_LONG, i), "run " + run + ", element " + i);
                }
                for (int i = 0; i < tasks; i++) {
                    assertEquals((long) (run + 1) * (i == 0 ? 1 : i % 3 + 1), rig.tilesRun.get(i), "tiles of task " + i);
                }
            }
            assertEquals(1, memory.placed, "one image for every run");
            template.release();
            assertEquals(1, memory.released);
        }
    }

    @Test
    void expansionRunsTheBatchExactlyThroughRingWraparound() throws Exception {
        run(SimulatedWorker.Config.DEFAULT, 64, 1024, 60, 6, false);  // 60 of 64 slots: every run wraps
    }

    @Test
    void expansionStagedInSmallChunksThroughASmallTileMap() throws Exception {
        run(SimulatedWorker.Config.DEFAULT.withStageChunk(7), 256, 16, 200, 3, false);
    }

    @Test
    void generationSwapsParkTheAgentMidExpansionAndTheNextGenerationGoesOn() throws Exception {
        run(SimulatedWorker.Config.DEFAULT.withStageChunk(5), 512, 32, 400, 8, true);
    }

    /** Dependencies hold across the expansion: no task started before each of its dependencies finished. */
    @Test
    void dependenciesInsideTheTemplateAreMadeAbsolute() throws Exception {
        int tasks = 120;
        try (var rig = new SimRig(128, 64, 2 * tasks, SimulatedWorker.Config.DEFAULT.withStageChunk(9))) {
            SimBuffer out = rig.device.allocate(8L * N * tasks), filler = rig.device.allocate(8L * N);
            TaskBatch plain = new TaskBatch();
            for (int k = 0; k < 37; k++) plain.add(SimRig.FILL, 1, N).arg(0, tasks).arg(1, 1).arg(2, 0).refContiguous(0, filler, 0, DTypeCode.I64, N);
            long pe = rig.queue.submit(plain, SlotResolver.IDENTITY, 10 * SEC);
            rig.queue.await(pe - plain.size(), pe, 10 * SEC);
            TaskTemplate template = TaskTemplate.of(chain(tasks, out, 0, SimRig.SCALE), new SimMemory(rig));
            long end = rig.queue.submit(template, SlotResolver.IDENTITY, 10 * SEC);
            assertEquals(pe + tasks, end);
            rig.queue.await(end - tasks, end, 30 * SEC);
            for (int i = 1; i < tasks; i++) {
                assertTrue(rig.start.get(i) > rig.finish.get(i - 1), "task " + i + " started before task " + (i - 1) + " finished");
                if (i % 5 == 0 && i >= 2) assertTrue(rig.start.get(i) > rig.finish.get(i - 2), "task " + i + " vs " + (i - 2));
            }
        }
    }

    /** A logical operator whose slot changes between runs: the next run places a new image, the old one goes back. */
    @Test
    void aChangedSlotMakesANewImage() throws Exception {
        int tasks = 30, logical = 7;
        try (var rig = new SimRig(64, 256, tasks, SimulatedWorker.Config.DEFAULT)) {
            int[] slot = {SimRig.SCALE};
            List<long[]> uses = new ArrayList<>();
            SlotResolver resolver = new SlotResolver() {
                @Override
                public int slotFor(int logicalOp) {
                    return logicalOp == logical ? slot[0] : logicalOp;
                }

                @Override
                public void noteUse(int s, long seq) {
                    uses.add(new long[]{s, seq});
                }
            };
            SimBuffer out = rig.device.allocate(8L * N * tasks);
            SimMemory memory = new SimMemory(rig);
            TaskTemplate template = TaskTemplate.of(chain(tasks, out, 0, logical), memory);
            long end = rig.queue.submit(template, resolver, 10 * SEC);
            rig.queue.await(end - tasks, end, 10 * SEC);
            long[] want = expected(tasks);
            assertEquals(want[(tasks - 1) * N + 3], out.segment().getAtIndex(ValueLayout.JAVA_LONG, (tasks - 1) * N + 3));
            // Each distinct slot noted once, with its last task's seq: FILL at 0, SCALE at the last task, ADD at 25.
            assertEquals(3, uses.size());
            assertTrue(uses.stream().anyMatch(u -> u[0] == SimRig.SCALE && u[1] == end - 1));
            assertTrue(uses.stream().anyMatch(u -> u[0] == SimRig.ADD && u[1] == end - tasks + 25));

            slot[0] = SimRig.FILL;  // the "scale" tasks now fill: row i = 3 + (-5) * j
            out.segment().fill((byte) 0);
            long end2 = rig.queue.submit(template, resolver, 10 * SEC);
            rig.queue.await(end2 - tasks, end2, 10 * SEC);
            assertEquals(2, memory.placed);
            assertEquals(1, memory.released);
            assertEquals(3 - 5 * 3, out.segment().getAtIndex(ValueLayout.JAVA_LONG, 1 * N + 3));
        }
    }

    /**
     * {@link TaskTemplate#release} from another thread while one thread keeps submitting the same template: with
     * a Memory that gives an image back as GpuOS does (under the queue's submit lock, once everything submitted
     * so far has completed), no expansion ever reads a freed image (the simulated agent would fail on it), and
     * every run computes the same rows.
     */
    @Test
    void releaseRacingSubmissionsNeverFreesAnImageInUse() throws Exception {
        int tasks = 40;
        try (var rig = new SimRig(256, 1024, tasks, SimulatedWorker.Config.DEFAULT.withStageChunk(3))) {
            SimBuffer out = rig.device.allocate(8L * N * tasks);
            int[] placed = {0};
            TaskTemplate.Memory gated = image -> {
                SimBuffer b = rig.device.allocate(image.byteSize());
                MemorySegment.copy(image, 0, b.segment(), 0, image.byteSize());
                placed[0]++;
                return new TaskTemplate.Placed(b.address(), () -> rig.queue.underSubmitLock(() -> {
                    long submitted = rig.queue.submitted();
                    if (submitted > 0) rig.queue.await(0, submitted, 30 * SEC);
                    rig.device.release(b);
                }));
            };
            TaskTemplate template = TaskTemplate.of(chain(tasks, out, 0, SimRig.SCALE), gated);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            var releaser = Thread.ofPlatform().daemon().start(() -> {
                try {
                    for (int k = 0; k < 50; k++) {
                        template.release();
                        Thread.sleep(1);
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            long end = 0;
            // Submit while the releaser runs (at least 200 runs), then once more after its last release: a loaded
            // machine may start the releaser only after 200 runs, and the run after a release must place again.
            for (int run = 0; run < 200 || releaser.isAlive(); run++) {
                end = rig.queue.submit(template, SlotResolver.IDENTITY, 10 * SEC);
            }
            releaser.join(TimeUnit.MINUTES.toMillis(1));
            end = rig.queue.submit(template, SlotResolver.IDENTITY, 10 * SEC);
            rig.queue.await(0, end, 30 * SEC);
            if (failure.get() != null) throw new AssertionError("releaser failed", failure.get());
            long[] want = expected(tasks);
            for (int i = 0; i < tasks * N; i++) assertEquals(want[i], out.segment().getAtIndex(ValueLayout.JAVA_LONG, i));
            assertTrue(placed[0] >= 2, "released images were placed again (" + placed[0] + " placements)");
            template.release();
        }
    }

    @Test
    void refusesWhatAnExpansionCannotCarry() {
        try (var rig = new SimRig(16, 256, 32, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(8L * N * 32);
            TaskBatch absolute = new TaskBatch();
            absolute.add(SimRig.FILL, 1, N).arg(0, 0).refContiguous(0, out, 0, DTypeCode.I64, N).dependsOnSeq(0);
            assertThrows(IllegalArgumentException.class, () -> TaskTemplate.of(absolute, new SimMemory(rig)));
            assertThrows(IllegalArgumentException.class, () -> TaskTemplate.of(new TaskBatch(), new SimMemory(rig)));
            TaskTemplate tooBig = TaskTemplate.of(chain(20, out, 0, SimRig.SCALE), new SimMemory(rig));
            assertThrows(IllegalArgumentException.class, () -> rig.queue.submit(tooBig, SlotResolver.IDENTITY, SEC));
            SimBuffer gone = rig.device.allocate(8L * N);
            TaskBatch b = new TaskBatch();
            b.add(SimRig.FILL, 1, N).arg(0, 0).refContiguous(0, gone, 0, DTypeCode.I64, N);
            TaskTemplate t = TaskTemplate.of(b, new SimMemory(rig));
            rig.device.release(gone);
            long before = rig.queue.submitted();
            assertThrows(IllegalStateException.class, () -> rig.queue.submit(t, SlotResolver.IDENTITY, SEC));
            assertEquals(before, rig.queue.submitted(), "nothing submitted");
        }
    }

    /** The header is the only descriptor the host writes: its fields, as the agent reads them. */
    @Test
    void theHostWritesOneHeader() throws Exception {
        int tasks = 10;
        try (var rig = new SimRig(64, 256, tasks, SimulatedWorker.Config.DEFAULT)) {
            SimBuffer out = rig.device.allocate(8L * N * tasks);
            SimMemory memory = new SimMemory(rig);
            TaskTemplate template = TaskTemplate.of(chain(tasks, out, 0, SimRig.SCALE), memory);
            scribbleHostRing(rig, new SplittableRandom(3));
            MemorySegment ring = rig.device.hostRing();
            long second = ring.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.TASK_BYTES + TaskFields.SEQ);
            long end = rig.queue.submit(template, SlotResolver.IDENTITY, 10 * SEC);
            rig.queue.await(end - tasks, end, 10 * SEC);
            assertEquals(0xFFFF_FFFFL, Integer.toUnsignedLong(ring.get(ValueLayout.JAVA_INT_UNALIGNED, TaskFields.OP)));
            assertEquals(tasks, ring.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.ARGS));
            assertEquals(template.tiles(), ring.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.ARGS + 8));
            assertEquals(second, ring.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.TASK_BYTES + TaskFields.SEQ),
                    "the second slot was not written");
        }
    }
}
