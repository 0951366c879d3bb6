package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;
import dev.gpuos.tensor.record.Skipped;
import dev.gpuos.tensor.record.Submission;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns one {@link Submission} into one {@link TaskBatch} and submits it: the pipeline stage where recorded
 * nodes become tasks with dependencies.
 *
 * <ol>
 *   <li>Nodes with an empty output touch no memory and are dropped (before edges are computed, so no ordering
 *       is lost); so are nodes on a buffer released meanwhile or never computed, which mark what they write
 *       never computed ({@link Skipped}). Uploads into a buffer no task may still use are copied straight to the device
 *       (synchronously, so before every task of this batch); other uploads are staged in a fresh block and
 *       copied by a task in dependency order.</li>
 *   <li>Elementwise runs are fused ({@link dev.gpuos.tensor.fusion.ElementwiseFusion}) and scheduled into tasks
 *       ({@link TaskPlan}): runs of at most 4 operands, or up to 16 through an operand table where data flow
 *       connects them ({@link OperandTables}); a norm or softmax takes its elementwise prologue and epilogue into
 *       one task ({@link RowFusion}); every other node is one task of its operator family. A capture that knows its outputs leaves the
 *       intermediates nobody else can read in registers ({@link Intermediates}).</li>
 *   <li>Operators missing from the worker are registered (compile + generation swap) before the batch is
 *       submitted.</li>
 *   <li>Each buffer is its own hazard tracker ({@link GpuStorage#read}, {@link GpuStorage#write}): its last
 *       writer and readers since, tasks of this batch or of earlier submissions, give each task's dependencies
 *       once, in the form the descriptor takes. A task with more than 6 dependencies waits on join tasks
 *       instead.</li>
 * </ol>
 * Called by one thread at a time, under the recording's submission lock (the buffers' batch entries belong to
 * the build in progress). {@link #capture} plans a captured program the same way into a batch of its own,
 * without submitting it.
 */
final class BatchPlanner {
    private final GpuOS os;
    private final OperatorLibrary operators;
    private final IndexFaults faults;        // submitted index_selects: a slot each, raised by reads of their dependents
    private ReplayFaults capturing;          // the faults of the program capture() is planning (else null)
    /** The fault id of each index_select node being planned by run() (cleared per submission). */
    private final Map<OpNode, Long> faultIds = new IdentityHashMap<>();
    private final TaskBatch batch = new TaskBatch(256);
    private final GpuBackend.Counters counters;
    /** [interp tier, issue 6] set by GpuBackend when tiering is on; null: every operator is native. */
    TieredOperators tiers;

    /** Outcome of one submission: the seq after its last task (0 if it had no task). */
    record Submitted(long end) {}

    BatchPlanner(GpuOS os, OperatorLibrary operators, IndexFaults faults, GpuBackend.Counters counters) {
        this.os = os;
        this.operators = operators;
        this.faults = faults;
        this.counters = counters;
    }

    Submitted run(Submission submission) {
        long t0 = System.nanoTime();
        long completed = os.completed();
        Map<OpNode, DeviceBlock> staged = new IdentityHashMap<>();
        OperandTables tables = null;
        faultIds.clear();
        try {
            List<OpNode> work = prepare(submission, completed, staged, false);
            if (work.isEmpty()) return new Submitted(0);
            counters.phase(0, System.nanoTime() - t0, work.size());
            long t1 = System.nanoTime();
            int[] index;
            if (tiers == null && onePass) {
                // The streamed path: one pass plans and writes every task (see Encoder); its time is "fusion".
                tables = encoder.encode(work, staged, completed);
                index = encoder.index;
                long te = System.nanoTime();
                counters.phase(1, te - t1, 0);
                t1 = te;
                if (tables != null) tables.upload(os);
            } else {
                // [interp tier] the tier swaps a task for an interpreted one after looking its operator up, so
                // its submissions are planned into a task list first, as a capture is (and every streamed one
                // with -Dgpuos.plan.onePass=false).
                Tasks planned = tasksOf(work, staged, true, Intermediates.NONE);
                t1 = System.nanoTime();
                tables = OperandTables.forTasks(os, planned.tasks);
                index = build(batch, planned, completed, tables);
                if (tables != null) tables.upload(os);
                encoder.carried(planned.tasks);
            }
            long t2 = System.nanoTime();
            if (tables != null) tables.checkLive();
            long end = os.submit(batch);
            long t3 = System.nanoTime();
            long base = end - batch.size();
            counters.submissions.increment();
            counters.tasks.add(batch.size());
            for (int i = 0; i < touched.size(); i++) touched.get(i).commit(builds, base, index, completed);
            touched.clear();
            // Without index_selects in this batch and without any tainted buffer, no node has ancestry to note.
            if (!faultIds.isEmpty() || GpuStorage.anyTainted()) {
                for (int k = 0; k < encoder.nodeCount; k++) {
                    OpNode n = encoder.nodes[k];
                    Long id = faultIds.isEmpty() ? null : faultIds.get(n);
                    if (id != null) faults.submitted(id, base + index[encoder.nodeTask[k]] + 1);
                    noteAncestry(n, id);
                }
            }
            counters.phase(4, t2 - t1, 0);
            counters.phase(5, t3 - t2, 0);
            counters.phase(6, System.nanoTime() - t3, 0);
            return new Submitted(end);
        } finally {
            encoder.clear();
            batch.clear();  // submitted (copied into the ring) or abandoned: hold no buffer past this
            if (!faultIds.isEmpty()) faultIds.clear();  // nor a node
            // The copy tasks were submitted (or never will be): the arena reuses a block only after every task
            // submitted so far has completed.
            for (DeviceBlock b : staged.values()) os.release(b);
            if (tables != null && tables.block() != null) os.release(tables.block());
        }
    }

    /**
     * Plans a captured program once into a batch of its own (see {@link GpuReplay}): no hazards on earlier
     * submissions (a replay starts after everything before it has completed) and no uploads (their host data
     * would be copied once, not per run). Buffers in {@code internal} (created by the program and not
     * returned) need not be stored where one task is all that touches them.
     */
    GpuReplay capture(GpuBackend backend, Submission submission, Set<Storage> internal, List<Tensor> outputs) {
        List<OpNode> work = prepare(submission, Long.MAX_VALUE, Map.of(), true);
        Intermediates intermediates = Intermediates.of(work, internal);
        ReplayFaults replayFaults = new ReplayFaults(os, work);
        Tasks planned;
        capturing = replayFaults;
        try {
            planned = tasksOf(work, Map.of(), false, intermediates);  // a replay is the warm path: native operators
        } finally {
            capturing = null;
        }
        TaskBatch own = new TaskBatch(Math.max(1, planned.tasks.size()));
        OperandTables tables = OperandTables.forTasks(os, planned.tasks);
        try {
            return capture(backend, submission, work, planned, own, tables, outputs, replayFaults);
        } catch (RuntimeException | Error e) {
            if (tables != null) os.release(tables.block());  // no replay holds it
            throw e;
        }
    }

    private GpuReplay capture(GpuBackend backend, Submission submission, List<OpNode> work, Tasks planned, TaskBatch own,
                              OperandTables tables, List<Tensor> outputs, ReplayFaults replayFaults) {
        int[] index = build(own, planned, Long.MAX_VALUE, tables);
        touched.clear();  // a capture submits nothing: its hazards are the replay's (GpuReplay.noteRun)
        if (tables != null) tables.upload(os);
        // Buffers no operand addresses (intermediates kept in registers) need neither liveness checks nor hazards.
        Set<Object> addressed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (KernelTask task : planned.tasks) for (GpuView v : task.refs()) addressed.add(v.buffer());
        List<GpuStorage> read = new ArrayList<>(), written = new ArrayList<>();
        List<Integer> readAt = new ArrayList<>(), writtenAt = new ArrayList<>();
        Map<Storage, Integer> lastWrite = new IdentityHashMap<>();
        Map<OpNode, Integer> taskIndexOf = new IdentityHashMap<>();
        for (int t = 0; t < planned.tasks.size(); t++) {
            for (OpNode n : planned.tasks.get(t).nodes()) {
                for (Storage s : n.reads()) {
                    if (!addressed.contains(((GpuStorage) s).block())) continue;
                    read.add((GpuStorage) s);
                    readAt.add(index[t]);
                }
                for (Storage s : n.writes()) if (addressed.contains(((GpuStorage) s).block())) lastWrite.put(s, index[t]);
                taskIndexOf.put(n, index[t]);
            }
        }
        for (var e : lastWrite.entrySet()) {
            written.add((GpuStorage) e.getKey());
            writtenAt.add(e.getValue());
        }
        ReplayFaults.Writes faults = replayFaults.placed(work, taskIndexOf, written);
        TaskTemplate template = REPLAY_TEMPLATES && own.size() > 0 && own.size() <= os.queueCapacity()
                ? os.template(own) : null;
        DeviceBlock records = template == null && REPLAY_RECORDS_IN_DEVICE ? operandRecordsInDevice(own) : null;
        GpuReplay replay = new GpuReplay(backend, own, template, work.size(), read, readAt, written, writtenAt,
                faults, describe(own, planned, index), outputs);
        if (records != null) REPLAY_CLEANER.register(replay, new ReleaseRecords(os, records));
        if (template != null) REPLAY_CLEANER.register(replay, template::release);
        // Last: from here the replay's cleaner, not the caller's failure path, gives the tables back.
        if (tables != null) REPLAY_CLEANER.register(replay, new ReleaseRecords(os, tables.block()));
        return replay;
    }

    private static final java.lang.ref.Cleaner REPLAY_CLEANER = java.lang.ref.Cleaner.create();

    /**
     * Whether a replay runs as a {@link TaskTemplate}: its descriptors stay in device memory and a run writes one
     * header into the ring, however many tasks it has ({@code -Dgpuos.replay.templates=false}: every run writes
     * every descriptor, to compare both on one machine).
     */
    static final boolean REPLAY_TEMPLATES = Boolean.parseBoolean(System.getProperty("gpuos.replay.templates", "true"));

    /**
     * Without templates: whether replays keep their operand records in device memory ({@code
     * -Dgpuos.replay.recordsInDevice=false} turns it off, to compare; what it saves is the agent's PCIe reads).
     */
    static final boolean REPLAY_RECORDS_IN_DEVICE =
            Boolean.parseBoolean(System.getProperty("gpuos.replay.recordsInDevice", "true"));

    /** Gives a replay's operand records back once the replay is unreachable (it does not reference the replay). */
    private record ReleaseRecords(GpuOS os, DeviceBlock block) implements Runnable {
        @Override
        public void run() {
            try {
                os.release(block);  // reused only after every task submitted so far completed
            } catch (RuntimeException closed) {
                // The GpuOS closed first: its arena, and this block with it, is gone already.
            }
        }
    }

    /**
     * A replay submits the same operands every run, so their records move to device memory once: the agent then
     * reads only descriptor headers over PCIe (a W1 add: 144 bytes instead of 528) and copies the records from
     * device memory. Returns the block holding them (null: no task has operands).
     */
    private DeviceBlock operandRecordsInDevice(TaskBatch batch) {
        long[] offsets = new long[batch.size()];
        long words = 0;
        for (int i = 0; i < batch.size(); i++) {
            offsets[i] = words;
            words += batch.operandCount(i) * (TaskFields.REF_BYTES / 8);
        }
        if (words == 0) return null;
        long[] image = new long[Math.toIntExact(words)];
        for (int i = 0; i < batch.size(); i++) {
            long[] records = batch.operandRecordWords(i);
            System.arraycopy(records, 0, image, (int) offsets[i], records.length);
        }
        DeviceBlock block = os.allocateCopy(java.lang.foreign.MemorySegment.ofArray(image));
        for (int i = 0; i < batch.size(); i++) {
            if (batch.operandCount(i) > 0) batch.refsInDevice(i, block.address() + offsets[i] * 8);
        }
        return block;
    }

    /**
     * What each task of a captured batch runs, by batch index (see {@link GpuReplay#tasks}): the planned task's
     * name, source and shared memory, or the join operator for the indices no planned task took. Only references
     * are kept; the task list is built when asked for.
     */
    private GpuReplay.Operators describe(TaskBatch own, Tasks planned, int[] index) {
        String[] names = new String[own.size()], sources = new String[own.size()];
        int[] smem = new int[own.size()];
        OperatorRef[] refs = new OperatorRef[own.size()];
        for (int t = 0; t < planned.tasks.size(); t++) {
            KernelTask task = planned.tasks.get(t);
            names[index[t]] = task.name();
            sources[index[t]] = task.source();
            smem[index[t]] = task.smemBytes();
            refs[index[t]] = planned.ops[t];
        }
        for (int i = 0; i < own.size(); i++) {
            if (names[i] == null) {
                names[i] = GpuReplay.Task.JOIN;
                sources[i] = OperatorSources.JOIN;
                refs[i] = operators.get(OperatorSources.JOIN_OPERATOR);
            }
        }
        return new GpuReplay.Operators(names, sources, smem, refs);
    }

    /**
     * Checks inputs, drops nodes without effect and performs or stages uploads; returns the nodes that become
     * tasks. A capture refuses uploads.
     */
    private List<OpNode> prepare(Submission submission, long completed, Map<OpNode, DeviceBlock> staged, boolean capture) {
        List<OpNode> nodes = submission.nodes();
        // The submission's own list (read-only) while every node so far stays: a copy only from the first node
        // dropped or uploaded directly (most submissions have none; a copy was 4 bytes per op).
        List<OpNode> work = null;
        boolean uploads = false;
        for (int i = 0; i < nodes.size() && !uploads; i++) uploads = nodes.get(i) instanceof UploadNode;
        // Only an upload asks whether an earlier node of this submission touches its target.
        Set<Storage> touched = uploads ? Collections.newSetFromMap(new IdentityHashMap<>()) : null;
        for (int i = 0; i < nodes.size(); i++) {
            OpNode node = nodes.get(i);
            if (!capture && Skipped.skipIfUnrunnable(node)) {
                if (work == null) work = new ArrayList<>(nodes.subList(0, i));
                continue;
            }
            if (capture) for (Storage s : node.reads()) Skipped.checkComputed(s);
            if (node.output().numel() == 0) {
                if (work == null) work = new ArrayList<>(nodes.subList(0, i));
                continue;
            }
            if (node instanceof UploadNode u) {
                if (capture) {
                    throw new IllegalArgumentException("a captured program may not upload host data (tensors created"
                            + " from Java arrays, rand/randn): the data would be copied once, not on every run; create"
                            + " " + u.output() + " before the capture");
                }
                GpuStorage target = GpuStorage.of(u.output());
                long offset = u.output().storageOffset() * u.output().dtype().byteSize();
                java.lang.foreign.MemorySegment data = u.readableData();
                if (!touched.contains(target) && target.idle(completed)) {
                    os.upload(target.block(), offset, data);
                    counters.directUploads.increment();
                    if (work == null) work = new ArrayList<>(nodes.subList(0, i));
                    continue;
                }
                DeviceBlock stage = os.allocate(data.byteSize());
                staged.put(u, stage);
                os.upload(stage, 0, data);
                counters.stagedUploads.increment();
            }
            if (touched != null) {
                touched.addAll(node.reads());
                touched.addAll(node.writes());
            }
            if (work != null) work.add(node);
        }
        return work == null ? nodes : work;
    }

    /** The tasks of a submission's nodes and their operators (compiled and swapped in when new). */
    private record Tasks(List<KernelTask> tasks, OperatorRef[] ops) {}

    private Tasks tasksOf(List<OpNode> work, Map<OpNode, DeviceBlock> staged, boolean interpretable,
                          Intermediates intermediates) {
        long t1 = System.nanoTime();
        // Fused forms (row ops with their neighbours, operand tables) need native operators: the interpreter
        // tier's streamed path plans the forms it can run at once (see TaskPlan).
        List<TaskPlan.Item> plan = TaskPlan.of(work, intermediates, tiers == null || !interpretable);
        long t2 = System.nanoTime();
        List<KernelTask> tasks = new ArrayList<>(plan.size());
        for (TaskPlan.Item item : plan) tasks.add(taskOf(item, staged, !interpretable));
        long t3 = System.nanoTime();
        // [interp tier, issue 6] with tiering, new elementwise/reduce structures are replaced in `tasks` by interpreted ones
        OperatorRef[] ops = tiers != null && interpretable ? tiers.resolve(tasks) : operators.getAll(tasks);
        counters.phase(1, t2 - t1, 0);
        counters.phase(2, t3 - t2, 0);
        counters.phase(3, System.nanoTime() - t3, 0);
        return new Tasks(tasks, ops);
    }

    /** The task of a plan's item. {@code captured}: planned by capture(). */
    private KernelTask taskOf(TaskPlan.Item item, Map<OpNode, DeviceBlock> staged, boolean captured) {
        return switch (item) {
            case TaskPlan.Run r -> r.task();
            case TaskPlan.Row r -> RowFusion.task(r.fused());
            case TaskPlan.Single s -> s.norm() != null ? FamilyTasks.matmulNorm(s.norm(), s.glu(), (MatmulNode) s.node())
                    : s.glu() != null ? FamilyTasks.matmulGlu(s.glu())
                    : s.pointwise() != null ? FamilyTasks.matmulEpilogue(s.pointwise()) : taskOf(s.node(), staged, captured);
        };
    }

    /** {@code captured}: planned by capture() (only a capture plans with interpretable false). */
    private KernelTask taskOf(OpNode node, Map<OpNode, DeviceBlock> staged, boolean captured) {
        return switch (node) {
            case ReduceNode n -> FamilyTasks.reduce(n);
            case SoftmaxNode n -> FamilyTasks.softmax(n);
            case NormNode n -> FamilyTasks.norm(n);
            case MatmulNode n -> FamilyTasks.matmul(n);
            case IndexSelectNode n -> indexSelect(n, captured);
            case AttentionNode n -> FamilyTasks.attention(n);
            case FillNode n -> FamilyTasks.fill(n);
            case UploadNode n -> FamilyTasks.copy(n, staged.get(n));
            case ElementwiseNode n -> ElementwiseKernels.task(List.of(n));
        };
    }

    /**
     * A submitted index_select gets a fault slot of its own (IndexFaults); a captured one, whose task runs again
     * on every replay, a number in its program's fault log (ReplayFaults), told apart per run by its seq.
     */
    private KernelTask indexSelect(IndexSelectNode n, boolean captured) {
        if (captured) return capturing.indexSelect(n);
        long id = faults.assign();
        faultIds.put(n, id);
        return FamilyTasks.indexSelect(n, faults.block(), IndexFaults.slotOffset(id), IndexFaults.stamp(id));
    }

    /**
     * What {@code n} writes now descends from every index_select its inputs descend from (and from {@code n}
     * itself when it is one, id not null), captured ones included; a write that covers only part of its buffer
     * keeps the buffer's old ancestry too, and one that covers all of it clears an earlier failure (issue 15).
     * Ids known not to have faulted are dropped, so the lists stay short. Lists are sorted.
     */
    private void noteAncestry(OpNode n, Long id) {
        if (id == null && untainted(n)) return;  // nothing to propagate and nothing to clear: most nodes
        long[] ids = id == null ? null : new long[]{id};
        ReplayFaults.Taint[] taints = null;
        for (Storage s : n.reads()) {
            ids = union(ids, ((GpuStorage) s).faultIds());
            taints = ReplayFaults.union(taints, ((GpuStorage) s).replayTaints());
        }
        Tensor out = n.output();
        GpuStorage target = (GpuStorage) out.storage();
        boolean whole = ReplayFaults.coversAll(n);
        if (!whole) taints = ReplayFaults.union(taints, target.replayTaints());
        if (taints != null || target.replayTaints() != null) target.setReplayTaints(taints);
        if (whole && target.neverComputed() != null && !(target.neverComputed() instanceof CapturedIntermediateException)) {
            target.markNeverComputed(null);
        }
        if (!whole) ids = union(ids, target.faultIds());
        if (ids != null) {
            int live = 0;
            for (long i : ids) if (!faults.knownGood(i)) ids[live++] = i;
            ids = live == 0 ? null : java.util.Arrays.copyOf(ids, live);
        }
        if (ids != null || target.faultIds() != null) target.setFaultIds(ids);
    }

    /** Whether neither what {@code n} reads nor what it writes carries fault ids, taints or a failure. */
    private static boolean untainted(OpNode n) {
        for (int i = 0, r = n.readCount(); i < r; i++) {
            GpuStorage s = (GpuStorage) n.read(i);
            if (s.faultIds() != null || s.replayTaints() != null) return false;
        }
        GpuStorage target = (GpuStorage) n.output().storage();
        return target.faultIds() == null && target.replayTaints() == null && target.neverComputed() == null;
    }

    /** Sorted id lists merged (a chain of n ops over k index_selects costs O(n k), not O(n k^2)). */
    private static long[] union(long[] a, long[] b) {
        if (b == null || a == b) return a;
        if (a == null) return b.clone();
        long[] out = new long[a.length + b.length];
        int i = 0, j = 0, n = 0;
        while (i < a.length || j < b.length) {
            long x = j == b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
            if (n == 0 || out[n - 1] != x) out[n++] = x;
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /**
     * Writes the tasks into {@code target} (cleared first) with their dependencies, which the buffers' hazard
     * trackers ({@link GpuStorage#read}, {@link GpuStorage#write}) give in the form the descriptor takes: tasks of
     * this batch by index, tasks of earlier submissions not complete at {@code completed} by seq. Returns each
     * task's index in the batch (join tasks take indices too); the buffers touched are in {@link #touched}, for
     * {@link GpuStorage#commit} once the batch is submitted.
     */
    private int[] build(TaskBatch target, Tasks planned, long completed, OperandTables tables) {
        List<KernelTask> tasks = planned.tasks;
        long build = ++builds;
        touched.clear();
        target.clear();
        int[] index = new int[tasks.size()];
        deps.index = index;
        for (int t = 0; t < tasks.size(); t++) {
            KernelTask task = tasks.get(t);
            deps.clear();
            List<OpNode> nodes = task.nodes();
            for (int k = 0; k < nodes.size(); k++) hazards(nodes.get(k), build, t, completed);
            joinDeps(target);
            TaskBatch.TaskWriter w = target.add(planned.ops[t], task.ntiles(), task.tileSize());
            index[t] = w.index();
            task.writeOperands(w, tables);
            writeDeps(w);
        }
        return index;
    }

    /**
     * What task ordinal {@code t} of build {@code build} waits for because it runs {@code n}: the hazard trackers
     * of the buffers n reads and writes add it to {@link #deps}, and list themselves in {@link #touched} when new.
     */
    private void hazards(OpNode n, long build, int t, long completed) {
        for (int r = 0, reads = n.readCount(); r < reads; r++) {
            GpuStorage s = (GpuStorage) n.read(r);
            if (s.read(build, t, completed, deps)) touched.add(s);
        }
        GpuStorage out = (GpuStorage) n.output().storage();  // what every node writes (OpNode.writes)
        if (out.write(build, t, completed, deps)) touched.add(out);
    }

    /** Drops repeated {@link #deps} and, past 6, adds join tasks to {@code target} that wait on groups of them. */
    private void joinDeps(TaskBatch target) {
        deps.distinct();
        if (deps.n > Layouts.MAX_DEPS) {
            if (join == null) join = operators.get(OperatorSources.JOIN_OPERATOR);
            joined(target, join);
        }
    }

    private OperatorRef join;

    private static final Map<OpNode, DeviceBlock> NO_STAGED = Map.of();

    private void writeDeps(TaskBatch.TaskWriter w) {
        for (int i = 0; i < deps.n; i++) {
            long d = deps.words[i];
            if (d < 0) w.dependsOn((int) ~d);
            else w.dependsOnSeq(d);
        }
    }

    private final Encoder encoder = new Encoder();

    /**
     * {@code -Dgpuos.plan.onePass=false} plans streamed submissions through the task list ({@link #tasksOf},
     * {@link #build}), as a capture and the interpreter tier do, instead of the {@link Encoder}'s single pass: the
     * same tasks and dependencies, to compare both on one machine (host bench, GPU check).
     */
    static final boolean ONE_PASS = Boolean.parseBoolean(System.getProperty("gpuos.plan.onePass", "true"));

    /** This planner's choice ({@link #ONE_PASS} unless a test compares both). */
    boolean onePass = ONE_PASS;

    /**
     * The streamed path's single pass (issue 12): the plan's items come one at a time ({@link TaskPlan.Sink}),
     * and each is written into {@link #batch} at once with its dependencies, in the form the descriptor takes.
     * An elementwise run is written straight from the cut's analysis: its operator is found by the structure's
     * hash, its hazards are its members' buffers, its operands are the views themselves; no {@link KernelTask},
     * {@link TaskPlan.Run}, operand list or member list is made. Other items (row-fused tasks, the hand-written
     * families) are built as KernelTasks, as a capture builds them, and written the same way.
     *
     * <p>What is known only once every task is written is filled in before the batch is submitted: the ids of
     * operators new to this submission (compiled and swapped in together, as before) and the block of the operand
     * tables (sized by all the tasks past 4 operands). A capture and the interpreter tier plan a task list first
     * ({@link #tasksOf}, {@link #build}): a replay keeps each task's description, and the tier replaces tasks
     * after their lookup; both write tasks with the same hazard and dependency code ({@link #hazards}).
     */
    private final class Encoder implements TaskPlan.Sink {
        private Map<OpNode, DeviceBlock> staged = NO_STAGED;
        private long completed, build;
        private int tasks;
        /** The batch index of each task ordinal of this build. */
        int[] index = new int[256];
        /** The nodes written, in order, and the ordinal of the task that carries each (fault ancestry). */
        OpNode[] nodes = new OpNode[1024];
        int[] nodeTask = new int[1024];
        int nodeCount;
        private OperandTables tables;
        /** Per table task: its batch index, its table's first word and record count (written once placed). */
        private int[] fixups = new int[3 * 8];
        private int fixupCount;
        /** Operators not registered with this library when their task was written, and where to set them. */
        private final List<OperatorStructure> missing = new ArrayList<>();
        private int[] missingAt = new int[8];
        /** The tiling of the last elementwise extent (a streamed loop repeats one shape). */
        private long tiledNumel = -1;
        private int ntiles, tileSize;

        /** Plans and writes {@code work} into the batch; returns the operand tables (placed, not uploaded) or null. */
        OperandTables encode(List<OpNode> work, Map<OpNode, DeviceBlock> staged, long completed) {
            this.staged = staged;
            this.completed = completed;
            build = ++builds;
            touched.clear();
            batch.clear();
            tasks = 0;
            nodeCount = 0;
            if (nodes.length < work.size()) {
                nodes = new OpNode[work.size()];
                nodeTask = new int[work.size()];
            }
            deps.index = index;
            TaskPlan.of(work, Intermediates.NONE, true, this);
            if (!missing.isEmpty()) {
                OperatorRef[] refs = operators.getAllOf(missing);
                for (int k = 0; k < refs.length; k++) batch.setOperator(missingAt[k], refs[k]);
            }
            OperandTables t = tables;
            if (t != null) {
                t.place(os);
                try {
                    for (int f = 0; f < fixupCount; f += 3) t.writeRef(batch.rewrite(fixups[f]), fixups[f + 1], fixups[f + 2]);
                } catch (RuntimeException | Error e) {
                    os.release(t.block());  // the caller never saw these tables
                    throw e;
                }
            }
            return t;
        }

        @Override
        public void run(ElementwiseKernels.Run run) {
            OperatorStructure op = ElementwiseKernels.operatorOf(run);
            int t = begin();
            for (int m = 0, n = ElementwiseKernels.memberCount(run); m < n; m++) {
                ElementwiseNode node = ElementwiseKernels.member(run, m);
                hazards(node, build, t, completed);
                carries(node, t);
            }
            long numel = ElementwiseKernels.numel(run);
            if (numel != tiledNumel) {
                int[] tiling = ElementwiseKernels.tiling(numel);
                tileSize = tiling[0];
                ntiles = tiling[1];
                tiledNumel = numel;
            }
            TaskBatch.TaskWriter w = add(t, op, ntiles, tileSize);
            if (ElementwiseKernels.refCount(run) > Layouts.MAX_REFS) {
                table(w.index(), ElementwiseKernels.operandViews(run));
                ElementwiseKernels.writeArgs(run, w);
            } else {
                ElementwiseKernels.writeInline(run, w);
            }
            writeDeps(w);
        }

        @Override
        public void item(TaskPlan.Item item) {
            KernelTask task = taskOf(item, staged, false);
            int t = begin();
            List<OpNode> carried = task.nodes();
            for (int k = 0; k < carried.size(); k++) {
                hazards(carried.get(k), build, t, completed);
                carries(carried.get(k), t);
            }
            TaskBatch.TaskWriter w = add(t, task.operator(), task.ntiles(), task.tileSize());
            if (OperandTables.wide(task)) {
                table(w.index(), task.refs());
                long[] args = task.args();
                for (int i = 0; i < args.length; i++) w.arg(i, args[i]);
            } else {
                task.writeOperands(w, null);
            }
            writeDeps(w);
        }

        /** A new task ordinal, its dependencies cleared. */
        private int begin() {
            deps.clear();
            if (tasks == index.length) deps.index = index = java.util.Arrays.copyOf(index, tasks * 2);
            return tasks;
        }

        private void carries(OpNode node, int t) {
            if (nodeCount == nodes.length) {
                nodes = java.util.Arrays.copyOf(nodes, nodeCount * 2);
                nodeTask = java.util.Arrays.copyOf(nodeTask, nodeCount * 2);
            }
            nodes[nodeCount] = node;
            nodeTask[nodeCount++] = t;
        }

        /** Adds task ordinal {@code t} (joins first, if it waits on more than 6 tasks), its operator set or noted. */
        private TaskBatch.TaskWriter add(int t, OperatorStructure op, int ntiles, int tileSize) {
            joinDeps(batch);
            OperatorRef ref = op.registeredIn(operators);
            TaskBatch.TaskWriter w = ref != null ? batch.add(ref, ntiles, tileSize) : batch.add(0, ntiles, tileSize);
            if (ref == null) {
                if (missing.size() == missingAt.length) missingAt = java.util.Arrays.copyOf(missingAt, missing.size() * 2);
                missingAt[missing.size()] = w.index();
                missing.add(op);
            }
            index[t] = w.index();
            tasks = t + 1;
            return w;
        }

        /** Task {@code at} reads its operands from a table: records now, its operand 0 once the block is placed. */
        private void table(int at, List<GpuView> refs) {
            if (tables == null) tables = OperandTables.growing();
            int word = tables.append(refs);
            if (fixupCount + 3 > fixups.length) fixups = java.util.Arrays.copyOf(fixups, fixups.length * 2);
            fixups[fixupCount++] = at;
            fixups[fixupCount++] = word;
            fixups[fixupCount++] = refs.size();
        }

        /** Records the list path's tasks for the steps after submission (the interpreter tier's submissions). */
        void carried(List<KernelTask> planned) {
            nodeCount = 0;
            for (int t = 0; t < planned.size(); t++) {
                for (OpNode n : planned.get(t).nodes()) carries(n, t);
            }
        }

        /** Forgets this submission's nodes, views and tables (nothing submitted stays reachable from here). */
        void clear() {
            java.util.Arrays.fill(nodes, 0, nodeCount, null);
            nodeCount = 0;
            missing.clear();
            tables = null;
            fixupCount = 0;
            staged = NO_STAGED;
        }
    }

    /** Builds so far: a buffer's batch entries belong to the build whose number they carry. */
    private long builds;
    /** The buffers the current build touched (reused). */
    private final List<GpuStorage> touched = new ArrayList<>();
    private final Deps deps = new Deps();

    /**
     * One task's dependency words, reused per task: >= 0 the seq of a task of an earlier submission, < 0
     * ~(batch index) of a task of this batch.
     */
    static final class Deps {
        long[] words = new long[16];
        int n;
        int[] index;  // batch index of each task ordinal of the build

        void clear() { n = 0; }

        /** Task ordinal {@code t} of the batch being built (already written: its index is known). */
        void task(int t) { add(~(long) index[t]); }

        void seq(long seq) { add(seq); }

        void add(long word) {
            if (n == words.length) words = java.util.Arrays.copyOf(words, n * 2);
            words[n++] = word;
        }

        /** Drops repeats, keeping first-seen order (the order only decides how joins group them). */
        void distinct() {
            if (n <= 1) return;
            if (n > 32) {  // a buffer read by many tasks: sort instead of the quadratic scan
                java.util.Arrays.sort(words, 0, n);
                int m = 1;
                for (int i = 1; i < n; i++) if (words[i] != words[m - 1]) words[m++] = words[i];
                n = m;
                return;
            }
            int m = 0;
            outer:
            for (int i = 0; i < n; i++) {
                long w = words[i];
                for (int j = 0; j < m; j++) if (words[j] == w) continue outer;
                words[m++] = w;
            }
            n = m;
        }
    }

    /** Reduces {@link #deps} to at most 6 entries by adding join tasks (each waits on up to 6). */
    private void joined(TaskBatch batch, OperatorRef join) {
        while (deps.n > Layouts.MAX_DEPS) {
            int m = 0;
            for (int i = 0; i < deps.n; i += Layouts.MAX_DEPS) {
                int end = Math.min(deps.n, i + Layouts.MAX_DEPS);
                if (end - i == 1) {
                    deps.words[m++] = deps.words[i];
                    continue;
                }
                TaskBatch.TaskWriter w = batch.add(join, 1, 1);
                for (int k = i; k < end; k++) {
                    long d = deps.words[k];
                    if (d < 0) w.dependsOn((int) ~d);
                    else w.dependsOnSeq(d);
                }
                deps.words[m++] = ~(long) w.index();
                counters.joinTasks.increment();
            }
            deps.n = m;
        }
    }
}
