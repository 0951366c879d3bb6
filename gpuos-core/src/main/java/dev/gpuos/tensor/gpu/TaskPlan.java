package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Which nodes of a submission become one task each: the pure scheduling step between fusion groups and task
 * encoding (it reads tensors' shapes, layouts and buffers' identities, never device memory, so the CPU tests
 * count tasks with it; an elementwise run's task is made here, by the cut that analyses its members, and
 * needs no device either). Items, in execution order: an elementwise {@link Run}, a {@link Row}-fused task (a row op
 * with its prologue and epilogue, {@link RowFusion}), or a {@link Single} node of a hand-written family.
 */
final class TaskPlan {
    private TaskPlan() {}

    sealed interface Item permits Run, Row, Single {}

    /**
     * An elementwise run and its task, made by the cut that found the run (each node is analysed once). Equal and
     * printed by its members alone: the task is what they make, and its views print only on a GPU backend.
     */
    record Run(List<ElementwiseNode> members, KernelTask task) implements Item {
        @Override
        public boolean equals(Object o) {
            return o instanceof Run r && r.members.equals(members);
        }

        @Override
        public int hashCode() {
            return members.hashCode();
        }

        @Override
        public String toString() {
            return "Run" + members;
        }
    }

    record Row(RowFusion.Fused fused) implements Item {}

    /**
     * A node alone, or a product with the gated linear unit it computes too ({@code glu}, else null), the
     * rms_norm that makes its x ({@code norm}, else null) or the pointwise ops after it ({@code pointwise}, else null).
     */
    record Single(OpNode node, ProductEpilogue.Glu glu, ProductPrologue.Norm norm, ProductEpilogue.Pointwise pointwise)
            implements Item {
        Single(OpNode node) { this(node, null, null, null); }

        Single(OpNode node, ProductEpilogue.Glu glu) { this(node, glu, null, null); }

        Single(OpNode node, ProductEpilogue.Glu glu, ProductPrologue.Norm norm) { this(node, glu, norm, null); }
    }

    /**
     * The items of {@code work}. With {@code fuse} (native operators: the default backend and every capture),
     * row ops take in their neighbours and connected elementwise runs may grow past 4 operands into an operand
     * table. Without it (the interpreter tier's streamed path) every task keeps the 4 inline operands and row
     * ops stay alone, the forms the interpreter runs without a compile (a fused form would wait for one).
     */
    /**
     * {@code -Dgpuos.fusion.rows=false} plans without row fusion and operand tables (every task 4 inline
     * operands, row ops alone, as before issue 12), to measure both on one machine; to be deleted with the loser.
     */
    static final boolean FUSE = Boolean.parseBoolean(System.getProperty("gpuos.fusion.rows", "true"));

    /**
     * Takes a plan's items in execution order as they are found. An elementwise run comes as its analysis (the
     * cut's scratch, valid during the call only): the streamed planner encodes it into the batch there and then,
     * so a run never becomes a {@link Run} item, a {@link KernelTask} or a list of its members.
     */
    interface Sink extends ElementwiseKernels.RunSink {
        void item(Item item);
    }

    /** The items of {@code work} as a list (tests, the capture and the interpreter tier's planning). */
    static List<Item> of(List<OpNode> work, Intermediates intermediates, boolean fuse) {
        List<Item> out = new ArrayList<>();
        of(work, intermediates, fuse, new Sink() {
            @Override
            public void run(ElementwiseKernels.Run run) {
                out.add(ElementwiseKernels.item(run));
            }

            @Override
            public void item(Item item) {
                out.add(item);
            }
        });
        return out;
    }

    /** The items of {@code work}, handed to {@code sink} in execution order (see {@link #of(List, Intermediates, boolean)}). */
    static void of(List<OpNode> work, Intermediates intermediates, boolean fuse, Sink sink) {
        fuse &= FUSE;
        if (fuse) sink = new NormsIntoProducts(sink, intermediates);
        List<Object> plan = ElementwiseFusion.plan(work, intermediates.groupBound());
        // Elementwise members not yet placed: a fusion group, or what a row op's epilogue left of one (the
        // next row op's prologue candidates).
        List<ElementwiseNode> pending = List.of();
        // Whether data flows between pending members (their group's flag: any part of a group without flow has
        // none). Without flow, no two members share a component, so runs stay within the 4 inline operands and
        // the cut need not look for components (W1's independent adds: every group).
        boolean flows = false;
        for (int i = 0; i < plan.size(); i++) {
            Object item = plan.get(i);
            if (item instanceof FusionGroup g) {
                runs(pending, intermediates, fuse && flows, sink);
                pending = g.nodes();
                flows = g.flows();
                continue;
            }
            OpNode node = (OpNode) item;
            if (fuse && RowFusion.isRowNode(node)) {
                FusionGroup next = i + 1 < plan.size() && plan.get(i + 1) instanceof FusionGroup g ? g : null;
                List<ElementwiseNode> after = next == null ? List.of() : next.nodes();
                RowFusion.Fused f = RowFusion.fuse(pending, node, after, intermediates);
                if (f != null) {
                    runs(f.before, intermediates, flows, sink);
                    sink.item(new Row(f));
                    pending = after.subList(f.epilogue.size(), after.size());
                    flows = next != null && next.flows();
                    if (!after.isEmpty()) i++;
                    continue;
                }
            }
            if (fuse && node instanceof MatmulNode product && i + 1 < plan.size() && plan.get(i + 1) instanceof FusionGroup g) {
                ProductEpilogue.Glu glu = ProductEpilogue.match(product, g.nodes(), intermediates);
                if (glu != null) {
                    runs(pending, intermediates, flows, sink);
                    sink.item(new Single(node, glu));
                    pending = g.nodes().subList(glu.members().size(), g.nodes().size());
                    flows = g.flows();
                    i++;
                    continue;
                }
                ProductEpilogue.Pointwise pw = ProductEpilogue.matchPointwise(product, g.nodes(), intermediates);
                if (pw != null) {
                    runs(pending, intermediates, flows, sink);
                    sink.item(new Single(node, null, null, pw));
                    pending = g.nodes().subList(pw.members().size(), g.nodes().size());
                    flows = g.flows();
                    i++;
                    continue;
                }
            }
            runs(pending, intermediates, fuse && flows, sink);
            pending = List.of();
            flows = false;
            sink.item(new Single(node));
        }
        runs(pending, intermediates, fuse && flows, sink);
        if (sink instanceof NormsIntoProducts n) n.end();
    }

    /**
     * A row-fused rms_norm right before the one-row product that reads it becomes that product's prologue: a
     * {@link Row} is held back until the next item shows whether it is such a product (anything else, a run
     * included, hands it on unchanged first).
     */
    private static final class NormsIntoProducts implements Sink {
        private final Sink next;
        private final Intermediates intermediates;
        private Row held;

        NormsIntoProducts(Sink next, Intermediates intermediates) {
            this.next = next;
            this.intermediates = intermediates;
        }

        @Override
        public void run(ElementwiseKernels.Run run) {
            end();
            next.run(run);
        }

        @Override
        public void item(Item item) {
            Row r = held;
            held = null;
            if (r != null && item instanceof Single s && s.node() instanceof MatmulNode product && s.norm() == null
                    && s.pointwise() == null) {
                ProductPrologue.Norm norm = ProductPrologue.match(r.fused(), product, intermediates);
                if (norm != null) {
                    next.item(new Single(product, s.glu(), norm));
                    return;
                }
            }
            if (r != null) next.item(r);
            if (item instanceof Row row) held = row;
            else next.item(item);
        }

        /** Hands on a held row (the plan ends, or a run comes next). */
        void end() {
            if (held == null) return;
            Row r = held;
            held = null;
            next.item(r);
        }
    }

    private static void runs(List<ElementwiseNode> members, Intermediates intermediates, boolean wide, Sink sink) {
        if (members.isEmpty()) return;
        ElementwiseKernels.cut(members, intermediates, wide, sink);
    }

}
