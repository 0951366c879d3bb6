package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a submission's nodes into {@link FusionGroup}s (elementwise runs) and single non-elementwise nodes.
 * Every member's output is still stored (a later node or the user may read it); what fusion saves is the
 * launches and the loads of intermediates. Dropping stores of intermediates nobody can read any more is a
 * later optimisation for the GPU backend, which knows which tensors are still reachable.
 */
public final class ElementwiseFusion {
    private ElementwiseFusion() {}

    /** Each element of the result is either a FusionGroup or an OpNode that runs alone, in execution order. */
    /**
     * Longest group. A task carries 4 operands and every member's output is stored, so a task holds at most a
     * few members anyway; the bound keeps {@code fits} (which looks at every member) linear in the submission.
     */
    static final int MAX_GROUP = 16;

    public static List<Object> plan(List<OpNode> nodes) {
        List<Object> out = new ArrayList<>();
        List<ElementwiseNode> run = new ArrayList<>();
        for (OpNode node : nodes) {
            if (node instanceof ElementwiseNode e && (run.isEmpty() || (run.size() < MAX_GROUP && fits(run, e)))) {
                run.add(e);
                continue;
            }
            flush(run, out);
            if (node instanceof ElementwiseNode e) run.add(e);
            else out.add(node);
        }
        flush(run, out);
        return out;
    }

    private static boolean fits(List<ElementwiseNode> run, ElementwiseNode next) {
        if (!Arrays.equals(run.getFirst().output().shape(), next.output().shape())) return false;
        for (Operand o : next.operands()) {
            if (!(o instanceof Tensor t)) continue;
            for (ElementwiseNode member : run) {
                Tensor produced = member.output();
                if (produced.storage() != t.storage()) continue;
                // Element-for-element reuse only; any other overlap with a member's output must go through memory.
                if (!produced.layout().equals(t.layout())) return false;
            }
        }
        // A member must not overwrite what an earlier member (or this node) still reads from memory.
        for (ElementwiseNode member : run) {
            for (Operand o : member.operands()) {
                if (o instanceof Tensor t && t.storage() == next.output().storage()) return false;
            }
        }
        return true;
    }

    private static void flush(List<ElementwiseNode> run, List<Object> out) {
        if (run.isEmpty()) return;
        List<Tensor> inputs = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            for (Operand o : run.get(i).operands()) {
                if (o instanceof Tensor t && producer(run, i, t) < 0 && !inputs.contains(t)) inputs.add(t);
            }
        }
        out.add(new FusionGroup(run, inputs));
        run.clear();
    }

    /** Index of the last member before {@code before} whose output {@code t} is, or -1. */
    static int producer(List<ElementwiseNode> nodes, int before, Tensor t) {
        for (int j = before - 1; j >= 0; j--) {
            Tensor o = nodes.get(j).output();
            if (o.storage() == t.storage() && o.layout().equals(t.layout())) return j;
        }
        return -1;
    }
}
