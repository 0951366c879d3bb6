package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.runtime.memory.DeviceOutOfMemoryException;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.BufferLedger;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.record.Recording;
import dev.gpuos.tensor.record.Skipped;
import dev.gpuos.tensor.record.Submission;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The GPU backend: tensors live in the device arena of a running {@link GpuOS}, ops are recorded and every
 * submission of the {@link Recording} (at a sync point, after {@code maxNodes} nodes or {@code maxAge}) becomes
 * one task batch for the persistent worker (see {@link BatchPlanner}). Operators are generated per kernel
 * structure and compiled once: shapes, strides and scalars travel in the tasks.
 *
 * <pre>{@code
 * try (GpuOS os = GpuOS.start();
 *      TensorScope scope = TensorScope.open(new GpuBackend(os))) {
 *     Tensor x = scope.randn(1, DType.F32, 64, 256);
 *     float[] y = x.gelu().sum(new int[]{1}, false).toFloatArray();
 * }
 * }</pre>
 *
 * <p>The backend does not own the GpuOS: close the scopes first, then the GpuOS. A failure found while building
 * or running a submission (a compile error, an index_select index out of range) belongs to the tensors computed
 * from the failed op, like on the batched CPU backend: reading one of them throws an IllegalStateException with
 * the cause attached; reads of other tensors, flush and sync, on any thread, do not (see {@link IndexFaults}; in
 * a captured program, {@link GpuReplay}, the same holds per run: {@link ReplayFaults}).
 */
public final class GpuBackend implements Backend {
    public static final int DEFAULT_MAX_NODES = 1024;
    public static final Duration DEFAULT_MAX_AGE = Duration.ofMillis(1);
    /**
     * Device bytes held by tensors above which an allocation first reclaims unreachable ones (asking the GC): the
     * heap cannot tell that its small tensor objects hold large device buffers. See {@link BufferLedger}.
     */
    public static final long DEFAULT_SOFT_LIMIT_BYTES = 1L << 30;
    /**
     * {@code -Dgpuos.plan.stableCuts=false}: the time bound and memory pressure submit everything pending, wherever
     * the host is, as before host-7 (then what is fused depends on host timing, see {@link StableCuts}); read when a
     * backend is made, to compare both on one machine. To be deleted with the loser.
     */
    static final String STABLE_CUTS = "gpuos.plan.stableCuts";
    /** Shared memory the operators use from env->smem: matmul's two 64x8 tiles of 8-byte accumulators. */
    static final int MIN_SMEM_BYTES = 8 * 1024;

    /** Cumulative counts since the backend was created. */
    public record Stats(long submissions, long tasks, long joinTasks, long operatorsCompiled, long directUploads,
                        long stagedUploads) {}

    /**
     * Where reads spent their time: waiting for the tensor's last writer to complete (submit to completion as the
     * host observes it), and the download (device to pinned staging on the runtime's copy stream, then into the
     * caller's memory). What a read costs beyond these is the caller's (allocating and filling its array).
     */
    public record ReadTimes(long reads, long awaitNanos, long downloadNanos) {}

    static final class Counters {
        final LongAdder submissions = new LongAdder(), tasks = new LongAdder(), joinTasks = new LongAdder();
        final LongAdder directUploads = new LongAdder(), stagedUploads = new LongAdder();
        final LongAdder reads = new LongAdder(), readAwaitNanos = new LongAdder(), readDownloadNanos = new LongAdder();
        /** Planner time per phase (see {@link #PHASES}) and the nodes planned: where a submission's host time goes. */
        final LongAdder[] phaseNanos = new LongAdder[PHASES.size()];
        final LongAdder plannedNodes = new LongAdder();

        Counters() {
            for (int i = 0; i < phaseNanos.length; i++) phaseNanos[i] = new LongAdder();
        }

        void phase(int i, long nanos, int nodes) {
            phaseNanos[i].add(nanos);
            if (nodes > 0) plannedNodes.add(nodes);
        }
    }

    /**
     * The planner's phases, in order, as {@link #plannerProfile()} names them. Elementwise tasks, their structures
     * found by hash, are made by the cut, inside "fusion"; "task build" is the other families'. The streamed
     * path plans and writes tasks in one pass (BatchPlanner.Encoder), all of it counted as "fusion" (a new
     * operator's compile included); its "deps+hazards+descriptors" is then the operand tables' upload only.
     */
    static final List<String> PHASES = List.of("prepare+uploads", "fusion", "task build", "operator lookup",
            "deps+hazards+descriptors", "queue submit", "note uses");

    private static final java.util.concurrent.atomic.AtomicLong INSTANCES = new java.util.concurrent.atomic.AtomicLong();

    private final String name = "gpu#" + INSTANCES.incrementAndGet();
    private final GpuOS os;
    private final Recording recording;
    private final BufferLedger ledger;
    private final OperatorLibrary operators;
    private final BatchPlanner planner;
    private final Counters counters = new Counters();
    private final TieredOperators tiers;  // [interp tier, issue 6] null: native only
    private final IndexFaults indexFaults;
    private final Object progress = new Object();
    private long submittedEnd;        // seq after the last task this backend submitted (guarded by progress)
    private long syncedEnd;           // sync awaited every task below this
    /** Buffers allocated while a program that returns its outputs is captured (written by its thread only). */
    private volatile CaptureAllocations capturing;

    private record CaptureAllocations(Thread thread, Set<Storage> storages) {}

    public GpuBackend(GpuOS os) {
        this(os, DEFAULT_MAX_NODES, DEFAULT_MAX_AGE);
    }

    /**
     * [interp tier, issue 6] With a policy, new elementwise structures run on the in-kernel interpreter at once and
     * their native operators come in later generation swaps ({@link TieredOperators}); null: native only. The
     * other constructors take the policy from the {@code gpuos.interp} system properties (default off).
     */
    public GpuBackend(GpuOS os, TieredOperators.Policy tierPolicy) {
        this(os, DEFAULT_MAX_NODES, DEFAULT_MAX_AGE, tierPolicy);
    }

    /**
     * @param maxNodes a submission is made once this many nodes are pending
     * @param maxAge   ... or this long after the first pending node was recorded
     */
    public GpuBackend(GpuOS os, int maxNodes, Duration maxAge) {
        this(os, maxNodes, maxAge, TieredOperators.Policy.fromSystemProperties());
    }

    public GpuBackend(GpuOS os, int maxNodes, Duration maxAge, TieredOperators.Policy tierPolicy) {
        int smem = os.sharedMemoryBytes();
        if (smem < MIN_SMEM_BYTES) {
            throw new IllegalArgumentException("the GPU backend's operators need " + MIN_SMEM_BYTES
                    + " bytes of shared memory per block (matmul tiles, block reductions); this GpuOS offers " + smem);
        }
        this.os = os;
        this.operators = new OperatorLibrary(os);
        this.indexFaults = new IndexFaults(os);
        this.planner = new BatchPlanner(os, operators, indexFaults, counters);
        this.tiers = tierPolicy == null ? null : new TieredOperators(os, operators, tierPolicy);  // [interp tier]
        planner.tiers = tiers;
        // The interpreter tier's streamed submissions are planned without row fusion (TaskPlan.of's fuse).
        boolean stable = Boolean.parseBoolean(System.getProperty(STABLE_CUTS, "true"));
        this.recording = new Recording(maxNodes, maxAge, this::runSubmission,
                stable ? new StableCuts(tiers == null && TaskPlan.FUSE) : null);
        this.ledger = new BufferLedger(name, DEFAULT_SOFT_LIMIT_BYTES, new BufferLedger.Hooks() {
            @Override
            public void afterPendingWork(Runnable action) { recording.submitThen(action); }

            @Override
            public void submitPending() { recording.submitIfFree(); }

            @Override
            public void betweenSubmissions(Runnable action) { recording.betweenSubmissions(action); }

            @Override
            public void free(java.util.List<dev.gpuos.tensor.BufferLease> leases, boolean unreachable) {
                GpuStorage.free(os, leases, unreachable);
            }
        });
    }

    /** "gpu#N": N counts the GPU backends made in this process, so that two are told apart in messages. */
    @Override
    public String name() { return name; }

    /** [interp tier, issue 6] The interpreter tier, or null when this backend runs native operators only. */
    public TieredOperators tiers() { return tiers; }

    /** The batch planner (tests compare its two ways of planning a streamed submission). */
    BatchPlanner planner() { return planner; }

    /** The GpuOS this backend runs on. */
    public GpuOS os() { return os; }

    /**
     * Allocates from the GpuOS arena. Tensors nobody references any more give their blocks back without their
     * scope closing (see {@link BufferLedger}): above the ledger's soft limit, and when the arena cannot supply a
     * block, the GC is asked for them first; only then does an allocation fail.
     *
     * @throws DeviceOutOfMemoryException when the device is full even after reclaiming unreachable tensors and
     *                                    waiting for submitted tasks (whose blocks are reused once they complete)
     */
    @Override
    public Storage allocate(DType dtype, long elementCount) {
        long bytes = Math.multiplyExact(elementCount, (long) dtype.byteSize());
        // The arena has no empty blocks; an empty tensor gets one byte that no task ever touches.
        long blockBytes = Math.max(bytes, 1);
        ledger.reserve(blockBytes);
        GpuStorage storage = os.isSmall(blockBytes)
                ? new GpuStorage(this, ledger, allocateSmall(blockBytes), bytes)  // no block object per op
                : new GpuStorage(this, ledger, allocateBlock(blockBytes), bytes);
        CaptureAllocations c = capturing;
        if (c != null && c.thread() == Thread.currentThread()) c.storages().add(storage);
        return storage;
    }

    private DeviceBlock allocateBlock(long bytes) {
        try {
            return os.allocate(bytes);
        } catch (DeviceOutOfMemoryException full) {
            relieve();
            try {
                return os.allocate(bytes);
            } catch (DeviceOutOfMemoryException again) {
                again.addSuppressed(full);
                throw again;
            }
        }
    }

    /** {@link #allocateBlock} for a small block ({@link GpuOS#allocateSmall}). */
    private long allocateSmall(long bytes) {
        try {
            return os.allocateSmall(bytes);
        } catch (DeviceOutOfMemoryException full) {
            relieve();
            try {
                return os.allocateSmall(bytes);
            } catch (DeviceOutOfMemoryException again) {
                again.addSuppressed(full);
                throw again;
            }
        }
    }

    /**
     * Before an allocation's last try: every unreachable tensor's block, then every submitted task's completion (a
     * released block is reused only after the tasks submitted before its release completed).
     */
    private void relieve() {
        ledger.relieve(Long.MAX_VALUE / 2);
        long completed = os.completed(), submitted = os.submitted();
        if (submitted > completed) os.await(completed, submitted);
    }

    /**
     * This backend's buffers: live count and bytes, their reclamation once unreachable, and the soft limit
     * ({@value #DEFAULT_SOFT_LIMIT_BYTES} bytes unless set) above which an allocation asks the GC for them first.
     */
    public BufferLedger bufferLedger() { return ledger; }

    @Override
    public void checkSupported(OpNode node) {
        for (int i = 0, n = node.readCount(); i < n; i++) refuseIntermediate(node, node.read(i));
        refuseIntermediate(node, node.output().storage());
        GpuSupport.check(node, name());
    }

    /** At the call site: an op may not use an intermediate a captured program did not return. */
    private static void refuseIntermediate(OpNode node, Storage s) {
        if (s.neverComputed() instanceof CapturedIntermediateException e) {
            throw new CapturedIntermediateException(node.opName() + ": " + e.getMessage());
        }
    }

    @Override
    public void submit(OpNode node) {
        recording.record(node);
    }

    @Override
    public void read(Storage storage, long byteOffset, MemorySegment destination) {
        flush();
        GpuStorage g = (GpuStorage) storage;
        if (g.neverComputed() instanceof CapturedIntermediateException e) {
            throw new CapturedIntermediateException("cannot read " + e.getMessage());
        }
        Skipped.checkComputed(g);
        long writer = g.lastWriter();
        long t0 = System.nanoTime();
        if (writer >= 0) os.await(writer, writer + 1);
        long t1 = System.nanoTime();
        indexFaults.check(g.faultIds());
        ReplayFaults.check(g.replayTaints());
        os.download(destination, g.block(), byteOffset);
        // Until the download is done the block must not be reclaimed (and reused) as unreachable.
        Reference.reachabilityFence(g);
        counters.reads.increment();
        counters.readAwaitNanos.add(t1 - t0);
        counters.readDownloadNanos.add(System.nanoTime() - t1);
    }

    /** Cumulative read times since the backend was created (see {@link ReadTimes}). */
    public ReadTimes readTimes() {
        return new ReadTimes(counters.reads.sum(), counters.readAwaitNanos.sum(), counters.readDownloadNanos.sum());
    }

    @Override
    public void flush() {
        recording.submit();
    }

    @Override
    public void sync() {
        flush();
        long from, to;
        synchronized (progress) {
            from = syncedEnd;
            to = submittedEnd;
        }
        if (to > 0) os.await(from, to);
        synchronized (progress) {
            syncedEnd = Math.max(syncedEnd, to);
        }
        os.settleMemory();  // blocks freed since come back merged, as if each release had merged (no cost per op)
    }

    /**
     * Captures {@code program} (ops recorded by this thread while it runs) as a {@link GpuReplay}: planned into
     * one task batch now, submitted again by every {@link GpuReplay#run()}. Whatever was recorded before is
     * submitted first. The program may not read data or sync (there is nothing to read until a run), nor
     * upload host data; other threads may not record on this backend meanwhile. The program is not executed
     * by the capture: call run(). Every tensor the program writes is stored by every run, so any of them may be
     * read afterwards; {@link #captureReturning} lets fused tasks keep intermediates in registers instead.
     */
    @Override
    public GpuReplay capture(Runnable program) {
        Objects.requireNonNull(program, "program");
        flush();
        recording.beginCapture();
        Submission captured;
        try {
            program.run();
        } finally {
            captured = recording.endCapture();
        }
        for (OpNode n : captured.nodes()) checkSupported(n);
        Submission nodes = captured;
        GpuReplay[] replay = new GpuReplay[1];
        // Under the submission lock: the planner's hazard trackers serve one build at a time.
        recording.betweenSubmissions(() -> replay[0] = planner.capture(this, nodes, Set.of(), List.of()));
        return replay[0];
    }

    /**
     * Captures {@code program} like {@link #capture(Runnable)}, which returns the tensors it computes for the
     * caller ({@link GpuReplay#outputs()}). Tensors the program creates and does not return are intermediates:
     * where every op touching one lands in the same fused task, runs keep it in registers and never store it
     * (a chain of elementwise ops becomes one task of up to {@link dev.gpuos.tensor.fusion.ElementwiseFusion#MAX_GROUP}
     * ops instead of one task per three). Using an intermediate after the capture, reading it or naming it in
     * an op, on any thread, throws {@link CapturedIntermediateException}. Returned tensors (views included: the
     * whole buffer is kept) and tensors that existed before the capture, including those the program writes
     * in place or with copyFrom, are stored by every run.
     *
     * <pre>{@code
     * GpuReplay step = gpu.captureReturning(() -> List.of(x.mul(c).add(b).relu()));  // mul and add stay in registers
     * step.run();
     * float[] y = step.outputs().getFirst().toFloatArray();
     * }</pre>
     *
     * If the capture fails, every tensor the program created is marked never computed (reading it throws).
     */
    @Override
    public GpuReplay captureReturning(Supplier<? extends Collection<Tensor>> program) {
        Objects.requireNonNull(program, "program");
        flush();
        recording.beginCapture();
        CaptureAllocations allocated = new CaptureAllocations(Thread.currentThread(),
                Collections.newSetFromMap(new IdentityHashMap<>()));
        capturing = allocated;
        Submission captured = null;
        try {
            List<Tensor> outputs;
            try {
                outputs = returnedBy(program.get());
            } finally {
                capturing = null;
                captured = recording.endCapture();
            }
            for (OpNode n : captured.nodes()) checkSupported(n);
            Set<Storage> internal = Collections.newSetFromMap(new IdentityHashMap<>());
            internal.addAll(allocated.storages());
            for (Tensor t : outputs) internal.remove(t.storage());
            Submission nodes = captured;
            GpuReplay[] planned = new GpuReplay[1];
            recording.betweenSubmissions(() -> planned[0] = planner.capture(this, nodes, internal, outputs));
            GpuReplay replay = planned[0];
            markIntermediates(internal, captured);
            return replay;
        } catch (RuntimeException | Error e) {
            IllegalStateException why = new IllegalStateException("the capture that created it failed (" + e + ")", e);
            for (Storage s : allocated.storages()) s.markNeverComputed(why);
            throw e;
        }
    }

    private List<Tensor> returnedBy(Collection<Tensor> returned) {
        if (returned == null) {
            throw new NullPointerException("the captured program returned null instead of its outputs (List.of() for none)");
        }
        List<Tensor> outputs = new java.util.ArrayList<>(returned.size());
        int k = 0;
        for (Tensor t : returned) {
            if (t == null) throw new NullPointerException("output " + k + " of the captured program is null");
            if (t.backend() != this) {
                throw new IllegalArgumentException("output " + k + " of the captured program, " + t + ", lives on "
                        + t.backend().name() + ", not on this backend");
            }
            outputs.add(t);
            k++;
        }
        return List.copyOf(outputs);
    }

    /** Marks each internal buffer, named by the first op that wrote it, so that using it throws at the call site. */
    private static void markIntermediates(Set<Storage> internal, Submission captured) {
        Map<Storage, String> writer = new IdentityHashMap<>();
        List<OpNode> nodes = captured.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            OpNode n = nodes.get(i);
            if (internal.contains(n.output().storage()) && !writer.containsKey(n.output().storage())) {
                writer.put(n.output().storage(), "the result of " + n.opName() + " (op " + (i + 1) + " of "
                        + nodes.size() + ", " + n.output() + ")");
            }
        }
        for (Storage s : internal) {
            String what = writer.getOrDefault(s, "a tensor of " + s.byteSize() + " bytes");
            s.markNeverComputed(new CapturedIntermediateException(what + ": an intermediate of a program captured by"
                    + " GpuBackend.captureReturning that the program did not return, so its replays need not store it;"
                    + " return it from the program (or copy it into a tensor made before the capture) to use it"));
        }
    }

    void closeReplay(GpuReplay replay) {
        recording.betweenSubmissions(replay::closeBetweenSubmissions);
    }

    void runReplay(GpuReplay replay) {
        sync();
        recording.betweenSubmissions(() -> {
            replay.checkLive();
            long end = replay.submitRun(os, os.completed());
            counters.submissions.increment();
            counters.tasks.add(replay.batch.size());
            synchronized (progress) {
                submittedEnd = Math.max(submittedEnd, end);
            }
        });
    }

    /**
     * The device buffer holding {@code t}'s elements (element 0 of the storage at its address; the tensor's view
     * starts {@code t.storageOffset()} elements in). Read-only information, valid while {@code t} is open and
     * reachable (an unreachable tensor's block is reclaimed, see {@link BufferLedger}): with
     * {@link GpuReplay#tasks()} it tells which captured operand is which tensor.
     */
    public dev.gpuos.runtime.DeviceBuffer deviceBuffer(dev.gpuos.tensor.Tensor t) {
        if (t.backend() != this) {
            throw new IllegalArgumentException(t + " lives on " + t.backend().name() + ", not on this backend");
        }
        return GpuStorage.of(t).block();
    }

    /** Counters: submissions, tasks (joins included), operators this backend compiled, uploads. */
    public Stats stats() {
        return new Stats(counters.submissions.sum(), counters.tasks.sum(), counters.joinTasks.sum(),
                operators.registered(), counters.directUploads.sum(), counters.stagedUploads.sum());
    }

    /**
     * The names of the operators this backend compiled and registered, in order (each one a compile and a generation
     * swap; {@link Stats#operatorsCompiled} counts them). Operators another backend over the same GpuOS registered
     * first are not among them.
     */
    public List<String> operatorsCompiled() {
        return operators.registeredNames();
    }

    /** Host time the planner spent per phase since this backend was created, in ns per planned node. */
    public String plannerProfile() {
        long nodes = Math.max(1, counters.plannedNodes.sum());
        StringBuilder s = new StringBuilder("planner, ns per node over " + counters.plannedNodes.sum() + " nodes:");
        long total = 0;
        for (int i = 0; i < PHASES.size(); i++) {
            long ns = counters.phaseNanos[i].sum();
            total += ns;
            s.append(String.format(" %s %.0f;", PHASES.get(i), (double) ns / nodes));
        }
        return s.append(String.format(" total %.0f", (double) total / nodes)).toString();
    }

    /** Host time the planner spent per phase since this backend was created, in ns, in {@link #PHASES} order. */
    public java.util.Map<String, Long> plannerPhaseNanos() {
        java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < PHASES.size(); i++) m.put(PHASES.get(i), counters.phaseNanos[i].sum());
        if (tiers != null) {  // parts of "operator lookup", not phases of their own
            m.put("(of which: op program compile)", tiers.programCompileNanos.sum());
            m.put("(program store)", tiers.programStoreNanos.sum());
        }
        return m;
    }

    /** Nodes recorded and not yet submitted. */
    public int pendingCount() { return recording.pendingCount(); }

    /**
     * Submits whatever is pending (waiting for a submission another thread, the recording timer, is building:
     * it may reference the buffer), then runs {@code release} before the next submission starts.
     */
    void releaseBetweenSubmissions(Runnable release) {
        recording.submitThen(release);
    }

    private void runSubmission(Submission submission) {
        // Under the submission lock, before this submission's tasks exist: a block found unreachable now was used
        // only by tasks already submitted, which the arena's seq-gated reuse waits for.
        ledger.reclaimQueued();
        try {
            BatchPlanner.Submitted s = planner.run(submission);
            synchronized (progress) {
                if (s.end() > 0) submittedEnd = Math.max(submittedEnd, s.end());
            }
        } catch (RuntimeException e) {
            // Nothing of this submission ran: reading (or computing from) its outputs must fail, not return garbage;
            // the failure is theirs alone (a later read of an unrelated tensor, on any thread, must not throw it).
            IllegalStateException why = os.isClosed()
                    ? new IllegalStateException("its op was still pending when its GpuOS closed (read or sync what you"
                            + " need before closing the GpuOS)", e)
                    : new IllegalStateException("a submission writing it failed (" + e.getMessage() + ")", e);
            for (OpNode n : submission.nodes()) Skipped.skip(n, why);
        }
    }

    @Override
    public String toString() { return "GpuBackend[" + os.deviceName() + "]"; }
}
