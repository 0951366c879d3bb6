package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.UploadNode;
import dev.gpuos.tensor.record.Recording;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the time bound may end a streamed submission without changing what is fused (issue 12; found as the
 * Llama prefill's mid-run compiles in session 16). Fusion does not cross a submission, so a cut wherever the host
 * happened to be when the bound expired planned fused operators never planned before: each a compile and a
 * generation swap mid-run, and task counts that changed from run to run.
 *
 * <p>A streamed submission is planned from its elements ({@link ElementwiseFusion#plan}: fusion groups and single
 * nodes, greedy from the submission's start) by {@link TaskPlan}, whose only decisions that reach across two
 * elements are row fusion's: a row op (norm, softmax, float row reduction) takes its prologue from the elementwise
 * members pending before it, and, unless it is a reduction, its epilogue from the group right after it. (A
 * product's gated-unit epilogue and a norm folded into a product need intermediates, which only a capture has.)
 * So the boundary before element {@code i} is stable when element {@code i} has been recorded (so element
 * {@code i - 1} is closed: no later node can join it), and neither a group is followed by a row op nor a row op
 * that takes epilogues by a group. Planning the nodes before such a boundary alone, and the rest from the boundary
 * on, gives the same tasks as planning them together, whatever is recorded next: the next submission's greedy
 * grouping starts where the whole stream's would have. The end of what is pending is stable too when the last
 * element is a single node that no later group joins (not a row op with an epilogue).
 *
 * <p>The elements are those of the planner's work list: nodes with an empty output and uploads are left out, as
 * {@code BatchPlanner.prepare} leaves them out (an upload fills a fresh tensor's buffer, which no task has touched,
 * so it is always copied at once, never a task). A node skipped there because a scope closed under it can make
 * that one submission group differently: the error path, not a timing one.
 *
 * <p>The rule is conservative: it refuses every boundary next to a row op that could take its neighbours, without
 * asking whether it did. So a chain made only of row ops and the elementwise groups between them (a
 * {@code y = rms_norm(y + x) * w} loop) is never cut by the time bound: the size bound (every 1,024 nodes) and the
 * program's syncs cut it, and the host's recording overlaps the GPU only from one such submission to the next.
 * Telling those boundaries apart would take {@link RowFusion#fuse}'s analysis, i.e. planning twice.
 *
 * <p>{@code StableCutsPlanTest} checks the rule against {@link TaskPlan} on random programs: for every prefix a
 * recording could hold, the cut it gives plans the same items as no cut.
 */
final class StableCuts implements Recording.Cuts {
    private final boolean rowFusion;

    /** @param rowFusion whether the streamed planner fuses row ops with their neighbours ({@link TaskPlan#of}'s fuse) */
    StableCuts(boolean rowFusion) {
        this.rowFusion = rowFusion;
    }

    @Override
    public int stablePrefix(List<OpNode> pending) {
        int size = pending.size();
        List<OpNode> work = new ArrayList<>(size);
        int[] at = new int[size];  // position in pending of each work node
        for (int i = 0; i < size; i++) {
            OpNode n = pending.get(i);
            if (n instanceof UploadNode || n.output().numel() == 0) continue;
            at[work.size()] = i;
            work.add(n);
        }
        if (work.isEmpty()) return size;  // nothing that is planned into a task
        List<Object> elements = ElementwiseFusion.plan(work, ElementwiseFusion.STORED_GROUP);
        Object last = elements.getLast();
        if (last instanceof OpNode single && !takesEpilogue(single)) return size;
        int start = work.size() - length(last);  // work position of element i's first node
        for (int i = elements.size() - 1; i >= 1; i--) {
            Object before = elements.get(i - 1);
            if (stableBetween(before, elements.get(i))) return at[start];
            start -= length(before);
        }
        return 0;
    }

    /** Whether the planner never puts anything of {@code a} and of {@code b} (the element after it) into one task. */
    private boolean stableBetween(Object a, Object b) {
        if (!rowFusion) return true;
        if (a instanceof FusionGroup && RowFusion.isRowNode(b)) return false;   // b's prologue
        return !(a instanceof OpNode row && takesEpilogue(row) && b instanceof FusionGroup);  // a's epilogue
    }

    /** A row op that takes elementwise members recorded after it into its task (reductions change the shape: never). */
    private boolean takesEpilogue(OpNode node) {
        return rowFusion && RowFusion.isRowNode(node) && !(node instanceof ReduceNode);
    }

    private static int length(Object element) {
        return element instanceof FusionGroup g ? g.nodes().size() : 1;
    }
}
