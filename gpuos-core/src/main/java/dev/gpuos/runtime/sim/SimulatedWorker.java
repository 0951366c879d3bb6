package dev.gpuos.runtime.sim;

import static dev.gpuos.runtime.sim.SimulatedDevice.ABORT;
import static dev.gpuos.runtime.sim.SimulatedDevice.ENTRY_SEQ;
import static dev.gpuos.runtime.sim.SimulatedDevice.ENTRY_TAG;
import static dev.gpuos.runtime.sim.SimulatedDevice.ENTRY_WORD;
import static dev.gpuos.runtime.sim.SimulatedDevice.EXP_BASE;
import static dev.gpuos.runtime.sim.SimulatedDevice.EXP_END;
import static dev.gpuos.runtime.sim.SimulatedDevice.EXP_TEMPLATE;
import static dev.gpuos.runtime.sim.SimulatedDevice.EXP_TILE_BASE;
import static dev.gpuos.runtime.sim.SimulatedDevice.FAULT_COUNT;
import static dev.gpuos.runtime.sim.SimulatedDevice.FAULT_ENTRY_BYTES;
import static dev.gpuos.runtime.sim.SimulatedDevice.FAULT_LOG;
import static dev.gpuos.runtime.sim.SimulatedDevice.PARKING;
import static dev.gpuos.runtime.sim.SimulatedDevice.PUB_SEQ;
import static dev.gpuos.runtime.sim.SimulatedDevice.PUB_TILES;
import static dev.gpuos.runtime.sim.SimulatedDevice.TILE_CURSOR;
import static dev.gpuos.runtime.sim.SimulatedDevice.WATERMARK;

import dev.gpuos.runtime.HostControl;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.layout.TaskSeal;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One generation of the persistent worker, played by Java threads: {@link #agentLoop()} is block 0 of
 * {@code worker.cu}, each {@link #workerLoop(SimTask)} thread one worker block. Read the two side by side: the
 * statements that touch shared memory are the same, in the same order, with the same orderings
 * ({@code ld.acquire} = {@code getAcquire}, {@code st.release} = {@code setRelease}, relaxed/volatile =
 * opaque, {@code __threadfence} = {@code fullFence}, {@code atomicAdd} = {@code getAndAdd}). A CUDA block's
 * {@code __syncthreads} and shared variables become program order and locals here, because one Java thread
 * does the whole block's work.
 *
 * <p>It plays the worker's hand-off protocol (the agent stages known work without a doorbell
 * read per busy round, and while idle takes a sealed first task of a submission from its host-ring slot before
 * the doorbell; waits poll without a device-side back-off, acquiring what they see; a worker-reported fault marks
 * the task's done flag, and only then does the agent read the fault count; an expansion's tasks are staged as
 * headers whose operand records the worker reads from the template, as it does for any task flagged
 * TASK_FLAG_REFS_IN_DEVICE).
 *
 * <p>The GPU agent's completion warp runs beside its stage threads; here one thread plays both, a round staging
 * and then scanning and publishing completion, which is one of the interleavings the two roles can produce (and
 * what the host sees is the same: completedSeq only after the faults of the tasks below it were mirrored).
 *
 * <p>What the simulation can check is the protocol's logic under real interleavings (index arithmetic,
 * wraparound, publication order, parking, faults); x86 is too strongly ordered to show a missing fence.
 */
public final class SimulatedWorker {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    /**
     * kDoneFaulted and kTileFaulted of worker.cu: a task with a worker-reported fault is marked done with the top
     * bit set, so the agent reads the fault count only then.
     */
    private static final long DONE_FAULTED = 1L << 63;
    private static final int TILE_FAULTED = 1 << 31;
    /** kFaultBusy of worker.cu: a fault log entry's tag while its writer fills it. */
    private static final long FAULT_BUSY = 1L << 63;
    /**
     * Runs (worker.cu's kRunMember): the agent marks the device ring's seal word of a task whose only dependency is
     * the task before it, both single tiles, staged and published together (RUN_MEMBER), and of the task before it
     * (RUN_NEXT); the block running that task runs the member right after it and signals RUN_RAN in the member's
     * tile counter; the block holding the member's ticket waits for that and marks it done.
     */
    private static final long RUN_MEMBER = 1, RUN_NEXT = 2;
    private static final int RUN_RAN = 1 << 30;
    private static final int CMD_IDLE = 0;
    private static final int CMD_STAGE = 1;
    private static final int CMD_EXIT = 2;

    /**
     * Hooks at the protocol's racy points, called on the simulated thread (which they may block) so that a
     * test can force an interleaving that real hardware produces only rarely.
     */
    public interface Probe {
        /** The agent just stored pubSeq and pubTiles. */
        default void agentPublished(long pubSeq, long pubTiles) {}

        /** The agent just stored completedSeq into the host control page. */
        default void agentPublishedCompletion(long completedSeq) {}

        /** A worker just counted a finished tile ({@code finished} tiles of task {@code seq} are done). */
        default void workerCountedTile(long seq, int tile, int finished) {}

        /** A run's leader is about to run member {@code seq} (see RUN_MEMBER). */
        default void workerRunsMember(long seq) {}

        /** A worker just reserved fault log index {@code index} and has not claimed its entry yet. */
        default void workerReservedFault(long index) {}

        Probe NONE = new Probe() {};
    }

    /**
     * @param workers    worker blocks (threads) besides the agent
     * @param stageChunk most tasks the agent stages per round ({@code gpuos_params.stageChunk})
     * @param spinMaxNs  longest back-off of an idle thread ({@code gpuos_params.spinMaxNs})
     */
    public record Config(int workers, int stageChunk, int spinMaxNs, Probe probe) {
        public static final Config DEFAULT = new Config(4, 256, 50_000, Probe.NONE);

        public Config {
            if (workers < 1 || stageChunk < 1 || spinMaxNs < 1) {
                throw new IllegalArgumentException("workers " + workers + ", stageChunk " + stageChunk
                        + " and spinMaxNs " + spinMaxNs + " must all be >= 1");
            }
        }

        public Config withWorkers(int n) {
            return new Config(n, stageChunk, spinMaxNs, probe);
        }

        public Config withStageChunk(int n) {
            return new Config(workers, n, spinMaxNs, probe);
        }

        public Config withProbe(Probe p) {
            return new Config(workers, stageChunk, spinMaxNs, p);
        }
    }

    /** Unwinds a simulated thread that was killed: it stops wherever it is, like a faulted kernel. */
    private static final class Killed extends RuntimeException {
        Killed() {
            super(null, null, false, false);
        }
    }

    private final SimulatedDevice dev;
    private final int generation;
    private final SimOp[] opTable;
    private final Config config;
    private final long mask;
    private final long tileMask;
    private final Thread[] threads;
    private final AtomicInteger running = new AtomicInteger();
    private volatile boolean killed;
    private volatile boolean parkRequested;
    private volatile boolean parked;
    private volatile Throwable crash;

    /**
     * As a worker block loads its task into shared memory: the descriptor of ring slot {@code seq & mask} into
     * {@code own}, and for a task flagged TASK_FLAG_REFS_IN_DEVICE (a template's task, a replayed batch's) its
     * operand records from device memory at refsAt, where the agent left them, with null pointers beyond nrefs.
     */
    private void loadDescriptor(MemorySegment own, long seq) {
        long at = (seq & mask) * SimTask.BYTES;
        MemorySegment.copy(dev.ring, at, own, 0, SimTask.BYTES);
        int flags = Short.toUnsignedInt(own.get(ValueLayout.JAVA_SHORT_UNALIGNED, TaskFields.FLAGS));
        if ((flags & Layouts.TASK_FLAG_REFS_IN_DEVICE) == 0) return;
        int nrefs = Byte.toUnsignedInt(own.get(ValueLayout.JAVA_BYTE, TaskFields.NREFS));
        long refsAt = own.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.REFS_AT);
        if (nrefs > 0) {
            SimBuffer records = dev.bufferContaining(refsAt, "operand records of task " + seq);
            MemorySegment.copy(records.segment(), refsAt - records.address(), own, TaskFields.REFS,
                    nrefs * TaskFields.REF_BYTES);
        }
        for (int r = nrefs; r < Layouts.MAX_REFS; r++) {
            own.set(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.REFS + r * TaskFields.REF_BYTES, 0L);
        }
    }

    /**
     * As copy_template does: stages the headers of seqs [from, to) of an expansion from its template in device
     * memory and makes the relative fields absolute (seq; tileBase from the expansion's first tile; deps from its
     * first seq); each task is flagged TASK_FLAG_REFS_IN_DEVICE, refsAt at its operand records in the template.
     */
    private void copyTemplate(MemorySegment ring, long from, long to, long base, long template, long tileBase) {
        SimBuffer t = dev.bufferContaining(template, "the template of the expansion at seq " + base);
        for (long seq = from; seq < to; seq++) {
            long src = template - t.address() + (seq - base) * SimTask.BYTES, at = (seq & mask) * SimTask.BYTES;
            if (src + SimTask.BYTES > t.byteSize()) {
                throw new IllegalStateException("task " + (seq - base) + " of the template at 0x" + Long.toHexString(template)
                        + " lies beyond its buffer (an illegal address on a GPU)");
            }
            MemorySegment.copy(t.segment(), src, ring, at, TaskFields.REFS);
            ring.set(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.SEQ, seq);
            int flags = Short.toUnsignedInt(ring.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + TaskFields.FLAGS));
            ring.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + TaskFields.FLAGS,
                    (short) (flags | Layouts.TASK_FLAG_REFS_IN_DEVICE));
            ring.set(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.REFS_AT, template + (seq - base) * SimTask.BYTES
                    + TaskFields.REFS);
            long tb = ring.get(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.TILE_BASE);
            ring.set(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.TILE_BASE, tb + tileBase);
            // All six words, as copy_template patches them by vector (the ones beyond ndeps are never read).
            for (int d = 0; d < Layouts.MAX_DEPS; d++) {
                long off = at + TaskFields.DEPS + 8L * d;
                ring.set(ValueLayout.JAVA_LONG_UNALIGNED, off, ring.get(ValueLayout.JAVA_LONG_UNALIGNED, off) + base);
            }
        }
    }

    /**
     * Whether task {@code seq} of the round from {@code from} is a run member: its only dependency is the task
     * before it, both single tiles, both in the round. Leaves {@code task} anywhere.
     */
    private boolean runMember(SimTask task, long from, long seq) {
        if (seq <= from) return false;
        task.at(seq & mask);
        if (task.ntiles() != 1 || task.ndeps() != 1 || task.dep(0) != seq - 1) return false;
        return task.at((seq - 1) & mask).ntiles() == 1;
    }

    /** probe_slot's words: the last slot the agent probed. */
    private final long[] probeWords = new long[(int) (SimTask.BYTES / 8)];

    /**
     * As probe_slot does: reads slot {@code seq} of the host ring (the seal with acquire) into {@code into} and
     * says whether it holds task {@code seq}'s descriptor, sealed ({@link TaskSeal}).
     */
    private boolean probe(MemorySegment hostRing, long seq, long salt, MemorySegment into) {
        long at = (seq & mask) * SimTask.BYTES;
        long seal = (long) LONG.getAcquire(hostRing, at + (long) TaskSeal.SEAL_WORD * 8);
        MemorySegment.copy(hostRing, at, into, 0, SimTask.BYTES);
        long[] w = probeWords;
        if (w[(int) (TaskFields.SEQ >>> 3)] != seq) return false;
        long flagsWord = w[(int) (TaskFields.FLAGS >>> 3)];
        int flags = (int) (flagsWord >>> (TaskFields.FLAGS & 7) * 8) & 0xFFFF;
        int nrefs = (int) (flagsWord >>> (TaskFields.NREFS & 7) * 8) & 0xFF;
        int refWords = TaskSeal.sealedWords(flags, nrefs) - TaskSeal.HEADER_WORDS;
        return TaskSeal.of(salt, w, 0, w, TaskSeal.HEADER_WORDS, refWords) == seal;
    }

    private static boolean isExpansion(MemorySegment ring, long at) {
        return Integer.toUnsignedLong(ring.get(ValueLayout.JAVA_INT_UNALIGNED, at + TaskFields.OP)) == Layouts.OP_EXPAND;
    }

    SimulatedWorker(SimulatedDevice dev, int generation, List<SimOp> ops, Config config) {
        this.dev = dev;
        this.generation = generation;
        this.opTable = ops.toArray(SimOp[]::new);
        this.config = config;
        this.mask = dev.capacity() - 1;
        this.tileMask = dev.tileCapacity() - 1;
        this.threads = new Thread[config.workers() + 1];
        // Counted as running from construction, so liveness never sees a launched generation as exited.
        running.set(threads.length);
        threads[0] = Thread.ofPlatform().daemon().name("gpuos-sim-g" + generation + "-agent")
                .unstarted(() -> body(this::agentLoop));
        for (int i = 1; i < threads.length; i++) {
            // The block's copy of its task (shared memory on the GPU).
            MemorySegment own = java.lang.foreign.Arena.ofAuto().allocate(SimTask.BYTES, 16);
            var task = new SimTask(dev, own);
            threads[i] = Thread.ofPlatform().daemon().name("gpuos-sim-g" + generation + "-worker" + i)
                    .unstarted(() -> body(() -> workerLoop(task, own)));
        }
    }

    void start() {
        for (Thread t : threads) {
            t.start();
        }
    }

    public int generation() {
        return generation;
    }

    private void body(Runnable loop) {
        try {
            loop.run();
        } catch (Killed k) {
            // stopped mid-flight on purpose
        } catch (Throwable t) {
            // An operator (or the simulator) failed: on a GPU this is a sticky error that ends the whole grid.
            if (crash == null) {
                crash = t;
            }
            killed = true;
        } finally {
            running.decrementAndGet();
        }
    }

    // ---------------------------------------------------------------------------------------------- agent

    private void agentLoop() {
        MemorySegment st = dev.state;
        HostControl ctrl = dev.control();
        MemorySegment hostRing = dev.hostRing;
        MemorySegment ring = dev.ring;
        var task = new SimTask(dev, ring);

        long pubSeq = (long) LONG.getAcquire(st, PUB_SEQ);
        long pubTiles = (long) LONG.getAcquire(st, PUB_TILES);
        long watermark = (long) LONG.getAcquire(st, WATERMARK);
        long heartbeat = 0;
        long faultsMirrored = ctrl.faultCount();
        boolean parking = (int) INT.getAcquire(st, PARKING) != 0;
        // The expansion being staged (pubSeq < expEnd), continued from the state a parked generation left.
        long expBase = (long) LONG.getAcquire(st, EXP_BASE), expEnd = (long) LONG.getAcquire(st, EXP_END);
        long expTemplate = (long) LONG.getAcquire(st, EXP_TEMPLATE), expTileBase = (long) LONG.getAcquire(st, EXP_TILE_BASE);
        int sleepNs = 0;
        // The last doorbell read, and busy rounds since (the agent reads the host line on every 8th busy round).
        long knownSubmitted = 0;
        int busyRounds = 0;
        long salt = ctrl.sealSalt();
        MemorySegment probed = MemorySegment.ofArray(probeWords);
        ctrl.agentState(generation, Layouts.AGENT_RUNNING);

        for (;;) {
            checkKilled();
            // Decide what to do this round.
            int cmd = CMD_IDLE;
            long from = 0;
            long to = 0;
            boolean fromTemplate = false;
            boolean fromProbe = false;
            // While an earlier doorbell read promised more tasks than are published, stage them without reading
            // the host line again (that read's acquire ordered their descriptors), except every 8th round.
            boolean readHost = !(knownSubmitted > pubSeq && (++busyRounds & 7) != 0);
            // The probe warp reads the next slot beside the doorbell while nothing more is known.
            boolean probeNow = knownSubmitted <= pubSeq && pubSeq >= expEnd;
            if (readHost && ctrl.abortRequested()) {
                INT.setRelease(st, ABORT, 1);
                cmd = CMD_EXIT;
            } else {
                if (readHost && !parking && ctrl.parkRequest() == generation) {
                    parking = true;
                    INT.setRelease(st, PARKING, 1);
                }
                long submitted = readHost ? ctrl.submitted() : knownSubmitted;
                // An expansion's tasks come from device memory: its header promised them, doorbell or not (the
                // header may have come from a probe, before the doorbell).
                if (pubSeq < expEnd && submitted < expEnd) submitted = expEnd;
                knownSubmitted = submitted;
                if (!parking) {
                    if (probeNow && probe(hostRing, pubSeq, salt, probed)) {
                        // The next slot holds its sealed task (the first of a submission): take it from this one
                        // read, whatever the doorbell says; the rest of the submission follows next round.
                        from = pubSeq;
                        to = pubSeq + 1;
                        fromProbe = true;
                        cmd = CMD_STAGE;
                    } else if (submitted > pubSeq) {
                        to = submitted - pubSeq > config.stageChunk() ? pubSeq + config.stageChunk() : submitted;
                        from = pubSeq;
                        // Inside an expansion the next tasks come from its template; the host never wrote their slots.
                        fromTemplate = pubSeq < expEnd;
                        if (fromTemplate && to > expEnd) to = expEnd;
                        cmd = CMD_STAGE;
                    }
                }
            }
            if (cmd == CMD_EXIT) {
                break;
            }

            if (cmd == CMD_STAGE) {
                if (!fromTemplate) {
                    if (fromProbe) {
                        MemorySegment.copy(probed, 0, ring, (from & mask) * SimTask.BYTES, SimTask.BYTES);
                    } else {
                        // Copy the descriptors (the doorbell's acquire above orders these reads after the host's
                        // writes).
                        for (long seq = from; seq < to; seq++) {
                            long at = (seq & mask) * SimTask.BYTES;
                            MemorySegment.copy(hostRing, at, ring, at, SimTask.BYTES);
                        }
                    }
                    // An expansion header ends what the host ring holds: the host never wrote the slots of its tasks.
                    long expandAt = -1;
                    for (long seq = from; seq < to && expandAt < 0; seq++) {
                        if (isExpansion(ring, (seq & mask) * SimTask.BYTES)) expandAt = seq;
                    }
                    if (expandAt > from) {
                        to = expandAt;  // stage up to it; the next round starts with it
                    } else if (expandAt == from) {
                        task.at(from & mask);
                        long count = task.arg(0);
                        long tmpl = ring.get(ValueLayout.JAVA_LONG_UNALIGNED, (from & mask) * SimTask.BYTES + TaskFields.REFS_AT);
                        if (count >= 1 && count <= dev.capacity() && tmpl != 0 && (tmpl & 15) == 0) {
                            expBase = from;
                            expEnd = from + count;
                            expTemplate = tmpl;
                            expTileBase = task.tileBase();
                            // Kept in device memory: a generation parked mid-expansion hands it to the next one.
                            LONG.setRelease(st, EXP_BASE, expBase);
                            LONG.setRelease(st, EXP_END, expEnd);
                            LONG.setRelease(st, EXP_TEMPLATE, expTemplate);
                            LONG.setRelease(st, EXP_TILE_BASE, expTileBase);
                            fromTemplate = true;
                            // A probed header came alone; its tasks are in device memory: stage a chunk of them.
                            to = fromProbe ? Math.min(from + config.stageChunk(), expEnd) : Math.min(to, expEnd);
                        }
                        // else: a malformed header stays in the ring, and validation below rejects it.
                    }
                }
                if (fromTemplate) copyTemplate(ring, from, to, expBase, expTemplate, expTileBase);
                // Validate every descriptor, tile bases included (one warp per task on the GPU; the smallest
                // bad seq wins through atomicMin).
                long badSeq = -1;
                for (long seq = from; seq < to; seq++) {
                    task.at(seq & mask);
                    int ntiles = task.ntiles();
                    long expectedBase = pubTiles;
                    if (seq != from) {
                        task.at((seq - 1) & mask);
                        expectedBase = task.tileBase() + task.ntiles();
                        task.at(seq & mask);
                    }
                    boolean ok = task.seq() == seq && Integer.toUnsignedLong(task.op()) != Layouts.OP_EXPAND
                            && ntiles >= 1 && ntiles <= Layouts.MAX_TILES_PER_TASK
                            && task.ndeps() <= Layouts.MAX_DEPS && task.nrefs() <= Layouts.MAX_REFS
                            && task.tileBase() == expectedBase;
                    for (int d = 0; ok && d < task.ndeps(); d++) {
                        ok = Long.compareUnsigned(task.dep(d), seq) < 0;
                    }
                    if (!ok && badSeq < 0) {
                        badSeq = seq;
                    }
                }
                if (badSeq >= 0) {
                    // A malformed descriptor would break the ticket prefix sum: stop everything, loudly.
                    reportFault(st, badSeq, Layouts.FAULT_BAD_DESCRIPTOR, 0);
                    INT.setRelease(st, ABORT, 1);
                    break;
                }
                // Publish the longest prefix whose tiles fit in the tile map (tickets below the first tile of
                // the oldest incomplete task are finished, so their map entries may be reused).
                long floor = watermark < pubSeq ? task.at(watermark & mask).tileBase() : pubTiles;
                long end = to;
                while (end > from) {
                    task.at((end - 1) & mask);
                    if (task.tileBase() + task.ntiles() - floor <= dev.tileCapacity()) {
                        break;
                    }
                    --end;
                }
                // Only now claim map entries, and only for that prefix: the entries the rest would take may
                // still belong to published tickets that no block has looked up yet.
                for (long seq = from; seq < end; seq++) {
                    task.at(seq & mask);
                    for (int j = 0; j < task.ntiles(); j++) {
                        dev.tileMap.set(ValueLayout.JAVA_LONG, ((task.tileBase() + j) & tileMask) * 8, seq);
                    }
                    dev.tileDone.set(ValueLayout.JAVA_INT, (seq & mask) * 4, 0);
                    long marks = (runMember(task, from, seq) ? RUN_MEMBER : 0)
                            | (seq + 1 < end && runMember(task, from, seq + 1) ? RUN_NEXT : 0);
                    ring.set(ValueLayout.JAVA_LONG_UNALIGNED, (seq & mask) * SimTask.BYTES + TaskFields.SEAL, marks);
                }
                if (end > from) {
                    task.at((end - 1) & mask);
                    VarHandle.fullFence();
                    pubSeq = end;
                    pubTiles = task.tileBase() + task.ntiles();
                    LONG.setRelease(st, PUB_SEQ, pubSeq);
                    LONG.setRelease(st, PUB_TILES, pubTiles);
                    config.probe().agentPublished(pubSeq, pubTiles);
                }
            }

            // Advance the watermark (the GPU checks blockDim tasks per step, at most 64 steps per round).
            boolean advanced = false;
            boolean faulted = false;
            long w = watermark;
            for (int k = 0; k < 64 * Layouts.BLOCK_THREADS && w < pubSeq; k++) {
                long v = (long) LONG.getAcquire(dev.done, (w & mask) * 8);
                if ((v & ~DONE_FAULTED) != w + 1) {
                    break;
                }
                faulted |= (v & DONE_FAULTED) != 0;
                w++;
                advanced = true;
            }

            if (advanced) {
                watermark = w;
                LONG.setRelease(st, WATERMARK, watermark);
            }
            // Every fault of a task below the watermark was reserved before that task's done flag, which was
            // read with acquire above: mirror them all before the host may see the task complete. Only a flag
            // marked DONE_FAULTED says there are any (as in the completion warp).
            if (faulted) {
                faultsMirrored = mirrorFaults(st, ctrl, faultsMirrored, (long) LONG.getAcquire(st, FAULT_COUNT));
            }
            if (advanced) {
                ctrl.agentPublishCompleted(watermark);
                config.probe().agentPublishedCompletion(watermark);
            }
            ctrl.agentHeartbeat(++heartbeat);
            if (parking && watermark == pubSeq) {
                break;
            } else if (cmd == CMD_IDLE && !advanced) {
                sleepNs = sleepNs == 0 ? 32 : Math.min(sleepNs * 2, config.spinMaxNs());
                nap(sleepNs);
            } else {
                sleepNs = 0;
            }
        }

        // Whatever made us leave (a bad descriptor, an abort), the host should be able to read why.
        mirrorFaults(st, ctrl, faultsMirrored, (long) LONG.getAcquire(st, FAULT_COUNT));
        int state = (int) INT.getAcquire(st, ABORT) != 0 ? Layouts.AGENT_ABORTED : Layouts.AGENT_PARKED;
        ctrl.agentState(generation, state);
    }

    /**
     * Copies device fault records {@code [mirrored, reserved)} to the host page in order, waiting for entries
     * still being written (their writers are a few stores away). Records a newer one overwrote before they
     * were copied are skipped: the host sees the gap and counts them lost, and mirroring goes on. An entry is
     * read as a seqlock (see {@link #reportFault}): its tag, the fields, the tag again.
     */
    private long mirrorFaults(MemorySegment st, HostControl ctrl, long mirrored, long reserved) {
        int ns = 32;
        while (mirrored < reserved) {
            if (reserved - mirrored > Layouts.FAULT_LOG) {
                mirrored = reserved - Layouts.FAULT_LOG;
                continue;
            }
            long want = mirrored + 1;
            long e = FAULT_LOG + (mirrored % Layouts.FAULT_LOG) * FAULT_ENTRY_BYTES;
            long tag = (long) LONG.getAcquire(st, e + ENTRY_TAG);
            if ((tag & ~FAULT_BUSY) > want) {
                ++mirrored; // overwritten (or being overwritten) by a record FAULT_LOG newer: lost
                ns = 32;
                continue;
            }
            if (tag != want) {
                nap(ns); // reserved, not yet written (or being written)
                ns = Math.min(ns * 2, config.spinMaxNs());
                continue;
            }
            long seq = st.get(ValueLayout.JAVA_LONG, e + ENTRY_SEQ);
            long word = st.get(ValueLayout.JAVA_LONG, e + ENTRY_WORD);
            VarHandle.fullFence();
            if ((long) LONG.getAcquire(st, e + ENTRY_TAG) != want) {
                continue; // a newer record claimed the entry while we read it: the next look counts it lost
            }
            ctrl.agentFault(mirrored, seq, (int) (word >>> 32), (int) word);
            ++mirrored;
            ns = 32;
        }
        return mirrored;
    }

    /**
     * report_fault: reserve an index, claim its entry, fill it, store the tag last with release. The claim is a CAS
     * of the tag to {@code index + 1 | FAULT_BUSY}, taken only from an older, finished record: a writer delayed
     * past a record FAULT_LOG newer (the log lapped it) drops its own record rather than store an older tag, or
     * older fields under the newer tag, over the newer one (an older tag left the agent waiting for one that
     * could never come; older fields would have mirrored another task's fault). Waiting for an older writer
     * between its claim and its tag is waiting a few stores.
     */
    private void reportFault(MemorySegment st, long seq, int code, int op) {
        long index = (long) LONG.getAndAdd(st, FAULT_COUNT, 1L);
        config.probe().workerReservedFault(index);
        long want = index + 1;
        long e = FAULT_LOG + (index % Layouts.FAULT_LOG) * FAULT_ENTRY_BYTES;
        for (;;) {
            long tag = (long) LONG.getAcquire(st, e + ENTRY_TAG);
            if ((tag & ~FAULT_BUSY) >= want) {
                return; // a newer record holds the entry: this one is lost, and the host sees the gap
            }
            if ((tag & FAULT_BUSY) != 0) {
                nap(32);
            } else if (LONG.compareAndSet(st, e + ENTRY_TAG, tag, want | FAULT_BUSY)) {
                break;
            }
        }
        st.set(ValueLayout.JAVA_LONG, e + ENTRY_SEQ, seq);
        st.set(ValueLayout.JAVA_LONG, e + ENTRY_WORD, ((long) code << 32) | (op & 0xFFFFFFFFL));
        LONG.setRelease(st, e + ENTRY_TAG, want);
    }

    // --------------------------------------------------------------------------------------------- worker

    private void workerLoop(SimTask task, MemorySegment own) {
        MemorySegment st = dev.state;
        for (;;) {
            boolean leave = false;
            long seq = 0;
            int tile = 0;
            long ticket = (long) LONG.getAndAdd(st, TILE_CURSOR, 1L);
            long pubSeqSeen = 0;  // every seq below is published (runs: see RUN_MEMBER)
            int ns = 32;
            // wait_published: three relaxed loads per poll, the acquire once the ticket is published.
            for (;;) {
                long published = (long) LONG.getOpaque(st, PUB_TILES);
                int abort = (int) INT.getOpaque(st, ABORT);
                int parking = (int) INT.getOpaque(st, PARKING);
                if (ticket < published) {
                    VarHandle.acquireFence();
                    pubSeqSeen = (long) LONG.getAcquire(st, PUB_SEQ);
                    break;
                }
                if (abort != 0) {
                    leave = true;
                    break;
                }
                if (parking != 0) {
                    // pubTiles is final once parking is set: leave only with a ticket nobody published.
                    VarHandle.acquireFence();
                    if (ticket < (long) LONG.getAcquire(st, PUB_TILES)) {
                        pubSeqSeen = (long) LONG.getAcquire(st, PUB_SEQ);
                        break;
                    }
                    leave = true;
                    break;
                }
                // The GPU's block spins or sleeps by its distance from pubTiles; Java threads share two CI cores,
                // so here every waiter backs off (timing is not what the simulation checks).
                nap(ns);
                ns = Math.min(ns * 2, config.spinMaxNs());
            }
            if (!leave) {
                // The GPU block loads the descriptor of a guessed slot while it reads the tile map, and loads again
                // when the slot's seq is not the mapped one; the outcome is this read of the mapped slot.
                seq = (long) LONG.getOpaque(dev.tileMap, (ticket & tileMask) * 8);
                loadDescriptor(own, seq);
                task.at(0);
                if ((own.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.SEAL) & RUN_MEMBER) != 0) {
                    // A run member: the block before runs it; this one marks it done once it ran.
                    int polls = 0, ran;
                    while (((ran = (int) INT.getAcquire(dev.tileDone, (seq & mask) * 4)) & RUN_RAN) == 0) {
                        if ((++polls & 63) == 0 && (int) INT.getOpaque(st, ABORT) != 0) return;
                        if (polls < 64) {
                            checkKilled();
                            Thread.onSpinWait();
                        } else {
                            nap(1024);
                        }
                    }
                    LONG.setRelease(dev.done, (seq & mask) * 8, (seq + 1) | ((ran & TILE_FAULTED) != 0 ? DONE_FAULTED : 0));
                    continue;
                }
                tile = (int) (ticket - task.tileBase());
                // wait_dependencies: relaxed polls without back-off, abort every 64 polls, one acquire at the end.
                int ndeps = task.ndeps();
                for (int d = 0; d < ndeps && !leave; d++) {
                    long dep = task.dep(d);
                    int polls = 0;
                    ns = 32;
                    while (Long.compareUnsigned((long) LONG.getOpaque(dev.done, (dep & mask) * 8), dep + 1) < 0) {
                        if ((++polls & 63) == 0 && (int) INT.getOpaque(st, ABORT) != 0) {
                            leave = true;
                            break;
                        }
                        // The GPU polls without a pause; Java threads share two CI cores with the dependency's own
                        // thread, so here the wait backs off after 64 polls.
                        if (polls < 64) {
                            checkKilled();
                            Thread.onSpinWait();
                        } else {
                            nap(ns);
                            ns = Math.min(ns * 2, config.spinMaxNs());
                        }
                    }
                }
                if (ndeps > 0) {
                    VarHandle.acquireFence();
                }
            }
            if (leave) {
                return;
            }
            // The task, then the run members after it (each depends only on the one before, which ran here).
            for (boolean member = false; ; member = true) {
                checkKilled();
                // Read before the tile is counted: once it is, the task may complete and its slot be reused.
                int ntiles = task.ntiles();
                int op = task.op();
                long seal = own.get(ValueLayout.JAVA_LONG_UNALIGNED, TaskFields.SEAL);
                SimOp fn = Integer.compareUnsigned(op, opTable.length) < 0 ? opTable[op] : null;
                boolean faulted = false;
                if (fn != null) {
                    fn.run(task, tile);
                } else if (tile == 0) {
                    reportFault(st, seq, Layouts.FAULT_BAD_OP, op); // one record per task, not per tile
                    faulted = true;
                }
                checkKilled();
                boolean next = false;
                if ((seal & RUN_NEXT) != 0 && seq + 1 < pubSeqSeen) {
                    long at = ((seq + 1) & mask) * SimTask.BYTES;
                    next = dev.ring.get(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.SEQ) == seq + 1
                            && (dev.ring.get(ValueLayout.JAVA_LONG_UNALIGNED, at + TaskFields.SEAL) & RUN_MEMBER) != 0;
                }
                VarHandle.fullFence();
                if (member) {
                    // The GPU leader releases these in batches, one fence each; one at a time is one of its orders.
                    INT.setRelease(dev.tileDone, (seq & mask) * 4, RUN_RAN | (faulted ? TILE_FAULTED : 0));
                } else {
                    int add = 1 + (faulted ? TILE_FAULTED : 0);
                    int counted = (int) INT.getAndAdd(dev.tileDone, (seq & mask) * 4, add) + add;
                    int finished = counted & ~TILE_FAULTED;
                    config.probe().workerCountedTile(seq, tile, finished);
                    if (finished == ntiles) {
                        VarHandle.fullFence();
                        LONG.setRelease(dev.done, (seq & mask) * 8, (seq + 1) | ((counted & TILE_FAULTED) != 0 ? DONE_FAULTED : 0));
                    }
                }
                if (!next) break;
                if ((int) INT.getOpaque(st, ABORT) != 0) return;
                seq++;
                tile = 0;
                loadDescriptor(own, seq);
                task.at(0);
                config.probe().workerRunsMember(seq);
            }
        }
    }

    // ------------------------------------------------------------------------------------ host-side control

    /**
     * __nanosleep stand-in. Short waits spin; longer ones give the core away, because the CI machine has two
     * cores and a dozen simulated blocks.
     */
    private void nap(int ns) {
        checkKilled();
        if (ns <= 256) {
            Thread.onSpinWait();
        } else if (ns <= 2048) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(ns);
        }
    }

    private void checkKilled() {
        if (killed) {
            throw new Killed();
        }
    }

    /** Asks this generation to park and waits until all its threads exited. */
    void park() {
        parkRequested = true;
        dev.control().requestPark(generation);
        awaitExit();
        checkAlive();
        int state = dev.control().agentState();
        if (state != Layouts.AGENT_PARKED) {
            throw new IllegalStateException("generation " + generation + " exited in agent state " + state
                    + " instead of parking");
        }
        parked = true;
    }

    /** True once this generation parked cleanly, so the next one may continue from the queue state. */
    public boolean parked() {
        return parked;
    }

    void awaitExit() {
        for (Thread t : threads) {
            try {
                if (!t.join(java.time.Duration.ofSeconds(30))) {
                    throw new IllegalStateException(t.getName() + " did not exit within 30 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + t.getName(), e);
            }
        }
    }

    /**
     * Simulates a dead worker (a faulted kernel): every thread stops where it is, finishing nothing, and
     * writes nothing more to the host page. Returns once they are all gone.
     */
    public void kill() {
        killed = true;
        for (Thread t : threads) {
            LockSupport.unpark(t);
        }
        awaitExit();
    }

    public boolean hasExited() {
        return running.get() == 0;
    }

    /** The exception a simulated block died of, or null. */
    public Throwable crash() {
        return crash;
    }

    void checkAlive() {
        if (crash != null) {
            throw new WorkerDeadException("simulated worker generation " + generation + " died: " + crash, crash);
        }
        if (killed) {
            throw new WorkerDeadException("simulated worker generation " + generation + " died (killed)", null);
        }
        if (hasExited() && !parkRequested) {
            throw new WorkerDeadException("simulated worker generation " + generation
                    + " exited without being asked to park (agent state " + dev.control().agentState() + ")", null);
        }
    }

    @Override
    public String toString() {
        return "SimulatedWorker[generation " + generation + ", " + config.workers() + " blocks, "
                + TimeUnit.NANOSECONDS.toMicros(config.spinMaxNs()) + " us max back-off]";
    }
}
