package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a submission's nodes into {@link FusionGroup}s (elementwise runs) and single non-elementwise nodes.
 * A group says which nodes one kernel could run; what a backend stores is its own decision. The GPU backend
 * stores every member's output (a later node or the user may read it), except in a captured program, where
 * it knows which intermediates nobody can read any more and keeps those in registers; what fusion saves is
 * then the launches, the loads and those stores.
 */
public final class ElementwiseFusion {
    private ElementwiseFusion() {}

    /**
     * Longest group where every member's output is stored: a 4-operand task then holds at most three members,
     * so longer groups would save little and cost {@code fits} time (which looks at every member) on the
     * streamed path, where planning is host time per op.
     */
    public static final int STORED_GROUP = 16;

    /**
     * Longest group where intermediates may stay in registers (a capture that names its outputs): a dependent
     * chain then fills a task up to this bound, so it sets how many tasks such a chain becomes (1,000 steps: 16).
     * The bound keeps planning linear in the submission and a generated operator at a few hundred lines.
     */
    public static final int MAX_GROUP = 64;

    /** {@link #plan(List, int)} with groups of at most {@link #STORED_GROUP} nodes. */
    public static List<Object> plan(List<OpNode> nodes) {
        return plan(nodes, STORED_GROUP);
    }

    /**
     * Each element of the result is either a FusionGroup of at most {@code maxGroup} nodes or an OpNode that
     * runs alone, in execution order. A group's members are a read-only view of {@code nodes} (its members are
     * consecutive there): the caller does not change {@code nodes} while it uses the plan.
     */
    public static List<Object> plan(List<OpNode> nodes, int maxGroup) {
        if (maxGroup < 1 || maxGroup > MAX_GROUP) {
            throw new IllegalArgumentException("maxGroup must be in 1.." + MAX_GROUP + ", got " + maxGroup);
        }
        List<Object> out = new ArrayList<>();
        int start = 0, size = 0;  // the group being grown: nodes[start, start + size)
        Members members = new Members();
        for (int i = 0; i < nodes.size(); i++) {
            OpNode node = nodes.get(i);
            if (node instanceof ElementwiseNode e && (size == 0 || (size < maxGroup && members.fits(e)))) {
                if (size++ == 0) start = i;
                members.add(e);
                continue;
            }
            flush(nodes, start, size, members.flows, out);
            members.clear();
            size = 0;
            if (node instanceof ElementwiseNode e) {
                start = i;
                size = 1;
                members.add(e);
            } else {
                out.add(node);
            }
        }
        flush(nodes, start, size, members.flows, out);
        return out;
    }

    /**
     * A group's members: consecutive elementwise nodes of the list being planned, read-only. A copy per group (the
     * list, then List.copyOf's array and list) was 12 bytes per op of a streamed loop; a view is 1.5.
     */
    static final class Slice extends java.util.AbstractList<ElementwiseNode> implements java.util.RandomAccess {
        private final List<OpNode> nodes;
        private final int from, size;

        Slice(List<OpNode> nodes, int from, int size) {
            this.nodes = nodes;
            this.from = from;
            this.size = size;
        }

        @Override
        public ElementwiseNode get(int i) {
            java.util.Objects.checkIndex(i, size);
            return (ElementwiseNode) nodes.get(from + i);
        }

        @Override
        public int size() { return size; }

        @Override
        public List<ElementwiseNode> subList(int fromIndex, int toIndex) {
            java.util.Objects.checkFromToIndex(fromIndex, toIndex, size);
            return new Slice(nodes, from + fromIndex, toIndex - fromIndex);
        }
    }

    /**
     * What the group being grown writes and reads, in arrays (fits asks per node; scanning the members' operand
     * lists cost more than the rest of fusing a node).
     */
    private static final class Members {
        private final Tensor[] outputs = new Tensor[MAX_GROUP];
        private final Storage[] written = new Storage[MAX_GROUP];
        private int n;
        private Storage[] read = new Storage[2 * MAX_GROUP];
        private int reads;
        /** Whether a member joined that reads a buffer an earlier member writes (fits finds it, in passing). */
        boolean flows;
        private boolean nextFlows;

        void clear() {
            java.util.Arrays.fill(outputs, 0, n, null);
            java.util.Arrays.fill(written, 0, n, null);
            java.util.Arrays.fill(read, 0, reads, null);
            n = 0;
            reads = 0;
            flows = false;
        }

        /** Adds {@code e}, which {@link #fits} accepted (unless the group was empty). */
        void add(ElementwiseNode e) {
            flows |= n > 0 && nextFlows;
            outputs[n] = e.output();
            written[n++] = e.output().storage();
            int r = e.readCount();
            if (reads + r > read.length) read = java.util.Arrays.copyOf(read, Math.max(read.length * 2, reads + r));
            // Distinct buffers only: members of a streamed loop read the same few (weights, one input), and fits
            // scans this list for every node that joins.
            next:
            for (int i = 0; i < r; i++) {
                Storage s = e.read(i);
                for (int k = reads - 1; k >= 0; k--) if (read[k] == s) continue next;
                read[reads++] = s;
            }
        }

        boolean fits(ElementwiseNode next) {
            if (!sameShape(outputs[0].layout(), next.output().layout())) return false;
            boolean readsMember = false;
            for (int k = 0, in = next.inputCount(); k < in; k++) {
                Tensor t = next.input(k);
                Storage s = t.storage();
                for (int m = 0; m < n; m++) {
                    if (written[m] != s) continue;
                    // Element-for-element reuse only; any other overlap with a member's output must go through memory.
                    if (!outputs[m].layout().equals(t.layout())) return false;
                    readsMember = true;
                }
            }
            nextFlows = readsMember;
            // A member must not overwrite what an earlier member still reads from memory.
            Storage target = next.output().storage();
            for (int i = 0; i < reads; i++) if (read[i] == target) return false;
            return true;
        }
    }

    /** Shapes compared in place (Tensor.shape() copies: this runs per node on the streamed path). */
    private static boolean sameShape(Layout a, Layout b) {
        if (a == b) return true;
        if (a.rank() != b.rank()) return false;
        for (int d = 0; d < a.rank(); d++) if (a.size(d) != b.size(d)) return false;
        return true;
    }

    private static void flush(List<OpNode> nodes, int start, int size, boolean flows, List<Object> out) {
        if (size == 0) return;
        out.add(new FusionGroup(new Slice(nodes, start, size), flows));
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
