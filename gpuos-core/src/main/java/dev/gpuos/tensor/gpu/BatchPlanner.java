package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;
import dev.gpuos.tensor.record.Dependency;
import dev.gpuos.tensor.record.Submission;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns one {@link Submission} into one {@link TaskBatch} and submits it: the pipeline stage where recorded
 * nodes become tasks with dependencies.
 *
 * <ol>
 *   <li>Nodes with an empty output touch no memory and are dropped (before edges are computed, so no ordering
 *       is lost). Uploads into a buffer no task may still use are copied straight to the device
 *       (synchronously, so before every task of this batch); other uploads are staged in a fresh block and
 *       copied by a task in dependency order.</li>
 *   <li>Elementwise runs are fused ({@link ElementwiseFusion}) and cut into tasks of at most 4 operands;
 *       every other node is one task of its operator family.</li>
 *   <li>Operators missing from the worker are registered (compile + generation swap) before the batch is
 *       submitted.</li>
 *   <li>Edges among the nodes ({@link Submission#dependenciesOf}) become task dependencies; hazards on work
 *       of earlier submissions come from each buffer's last writer and readers since. A task with more than 6
 *       dependencies waits on join tasks instead.</li>
 * </ol>
 * Called by one thread at a time (the recording hands over one submission at a time).
 */
final class BatchPlanner {
    private final GpuOS os;
    private final OperatorLibrary operators;
    private final DeviceBlock faultRecord;
    private final TaskBatch batch = new TaskBatch(256);
    private final GpuBackend.Counters counters;
    /** [interp tier, issue 6] set by GpuBackend when tiering is on; null: every operator is native. */
    TieredOperators tiers;

    /** Outcome of one submission: the seq after its last task (0 if it had no task) and its index_select end. */
    record Submitted(long end, long lastIndexSelectEnd) {}

    BatchPlanner(GpuOS os, OperatorLibrary operators, DeviceBlock faultRecord, GpuBackend.Counters counters) {
        this.os = os;
        this.operators = operators;
        this.faultRecord = faultRecord;
        this.counters = counters;
    }

    Submitted run(Submission submission) {
        long completed = os.queue().completed();
        List<OpNode> work = new ArrayList<>();
        Map<OpNode, DeviceBlock> staged = new IdentityHashMap<>();
        Set<Storage> touched = Collections.newSetFromMap(new IdentityHashMap<>());
        try {
            for (OpNode node : submission.nodes()) {
                for (Storage s : node.reads()) ((GpuStorage) s).checkComputed();
                if (node.output().numel() == 0) continue;
                if (node instanceof UploadNode u) {
                    GpuStorage target = GpuStorage.of(u.output());
                    long offset = u.output().storageOffset() * u.output().dtype().byteSize();
                    if (!touched.contains(target) && target.idle(completed)) {
                        os.upload(target.block(), offset, u.hostData());
                        counters.directUploads.increment();
                        continue;
                    }
                    DeviceBlock stage = os.allocate(u.hostData().byteSize());
                    staged.put(u, stage);
                    os.upload(stage, 0, u.hostData());
                    counters.stagedUploads.increment();
                }
                touched.addAll(node.reads());
                touched.addAll(node.writes());
                work.add(node);
            }
            if (work.isEmpty()) return new Submitted(0, 0);
            List<KernelTask> tasks = new ArrayList<>();
            for (Object item : ElementwiseFusion.plan(work)) {
                if (item instanceof FusionGroup g) tasks.addAll(ElementwiseKernels.tasks(g));
                else tasks.add(taskOf((OpNode) item, staged));
            }
            OperatorRef[] ops = new OperatorRef[tasks.size()];
            // [interp tier, issue 6] with tiering, new elementwise structures are replaced in `tasks` by interpreted ones
            System.arraycopy(tiers != null ? tiers.resolve(tasks) : operators.getAll(tasks), 0, ops, 0, tasks.size());
            return submit(work, tasks, ops, completed);
        } finally {
            // The copy tasks were submitted (or never will be): the arena reuses a block only after every task
            // submitted so far has completed.
            for (DeviceBlock b : staged.values()) os.release(b);
        }
    }

    private KernelTask taskOf(OpNode node, Map<OpNode, DeviceBlock> staged) {
        return switch (node) {
            case ReduceNode n -> FamilyTasks.reduce(n);
            case SoftmaxNode n -> FamilyTasks.softmax(n);
            case NormNode n -> FamilyTasks.norm(n);
            case MatmulNode n -> FamilyTasks.matmul(n);
            case IndexSelectNode n -> FamilyTasks.indexSelect(n, faultRecord);
            case FillNode n -> FamilyTasks.fill(n);
            case UploadNode n -> FamilyTasks.copy(n, staged.get(n));
            case ElementwiseNode n -> ElementwiseKernels.task(List.of(n));
        };
    }

    private Submitted submit(List<OpNode> work, List<KernelTask> tasks, OperatorRef[] ops, long completed) {
        Map<OpNode, Integer> taskOfNode = new IdentityHashMap<>();
        for (int t = 0; t < tasks.size(); t++) for (OpNode n : tasks.get(t).nodes()) taskOfNode.put(n, t);
        List<Set<Integer>> before = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) before.add(new LinkedHashSet<>());
        for (Dependency d : Submission.dependenciesOf(work)) {
            int from = taskOfNode.get(work.get(d.before())), to = taskOfNode.get(work.get(d.after()));
            if (from != to) before.get(to).add(from);
        }
        batch.clear();
        int[] index = new int[tasks.size()];
        boolean indexSelect = false;
        OperatorRef join = null;
        for (int t = 0; t < tasks.size(); t++) {
            KernelTask task = tasks.get(t);
            List<Long> deps = new ArrayList<>();  // >= 0: seq of an earlier submission; < 0: ~(batch index)
            for (int b : before.get(t)) deps.add(~(long) index[b]);
            Set<Long> seqs = new LinkedHashSet<>();
            for (OpNode n : task.nodes()) {
                for (Storage s : n.reads()) {
                    long w = ((GpuStorage) s).hazardForRead(completed);
                    if (w >= 0) seqs.add(w);
                }
                for (Storage s : n.writes()) ((GpuStorage) s).hazardsForWrite(completed, seqs::add);
                indexSelect |= n instanceof IndexSelectNode;
            }
            deps.addAll(seqs);
            if (deps.size() > Layouts.MAX_DEPS && join == null) join = operators.get("join", "", OperatorSources.JOIN);
            deps = joined(deps, join);
            TaskBatch.TaskWriter w = batch.add(ops[t], task.ntiles(), task.tileSize());
            index[t] = w.index();
            task.writeOperands(w);
            for (long d : deps) {
                if (d < 0) w.dependsOn((int) ~d);
                else w.dependsOnSeq(d);
            }
        }
        long end = os.submit(batch);
        long base = end - batch.size();
        counters.submissions.increment();
        counters.tasks.add(batch.size());
        long lastIndexSelectEnd = 0;
        for (int t = 0; t < tasks.size(); t++) {
            long seq = base + index[t];
            for (OpNode n : tasks.get(t).nodes()) {
                for (Storage s : n.reads()) ((GpuStorage) s).noteRead(seq, completed);
                for (Storage s : n.writes()) ((GpuStorage) s).noteWrite(seq);
                if (n instanceof IndexSelectNode) lastIndexSelectEnd = seq + 1;
            }
        }
        return new Submitted(end, indexSelect ? lastIndexSelectEnd : 0);
    }

    /** Reduces a dependency list to at most 6 entries by adding join tasks (each waits on up to 6). */
    private List<Long> joined(List<Long> deps, OperatorRef join) {
        while (deps.size() > Layouts.MAX_DEPS) {
            List<Long> next = new ArrayList<>();
            for (int i = 0; i < deps.size(); i += Layouts.MAX_DEPS) {
                List<Long> chunk = deps.subList(i, Math.min(deps.size(), i + Layouts.MAX_DEPS));
                if (chunk.size() == 1) {
                    next.add(chunk.getFirst());
                    continue;
                }
                TaskBatch.TaskWriter w = batch.add(join, 1, 1);
                for (long d : chunk) {
                    if (d < 0) w.dependsOn((int) ~d);
                    else w.dependsOnSeq(d);
                }
                next.add(~(long) w.index());
                counters.joinTasks.increment();
            }
            deps = next;
        }
        return deps;
    }
}
