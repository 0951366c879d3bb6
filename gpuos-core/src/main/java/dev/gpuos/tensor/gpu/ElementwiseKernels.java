package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.gpu.ElementwiseSource.Source;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Elementwise runs as GpuOS operators. A {@link FusionGroup} is cut into runs that fit one task (at most 4
 * operands: memory inputs plus one output per member, since every member's result is stored; at most 6 scalar
 * words: scalar operands and op parameters). Each run becomes one task whose operator source depends only on
 * the run's structure (ops, dtypes, which operand comes from where); shapes, strides, offsets and scalar
 * values travel in the task, so one compiled operator serves every shape and every scalar value.
 *
 * <p>The generated operator walks its tile's flat indices; when every operand is contiguous it indexes them
 * flat, otherwise it decomposes the index once over the (coalesced) shape and applies each operand's strides.
 * A member's value is kept in its output's storage type, so a consumer sees exactly what it would read back
 * from memory and fusion never changes results; conversions are those of the CPU backend.
 */
final class ElementwiseKernels {
    private ElementwiseKernels() {}

    static final int MAX_REFS = 4, MAX_ARGS = 6, MAX_DIMS = 8;
    /** Elements per tile at least: small tensors are one tile, large ones at most 4096 tiles. */
    static final int MIN_TILE = 1024;
    /** What every elementwise operator source starts with: the support header and the op table's helpers. */
    static final String PREFIX = OperatorSources.HEADER + ElementwiseOp.CUDA_PRELUDE;

    /** One run analysed: its memory inputs, operand sources, argument words and coalesced dims. */
    private static final class Run {
        final List<ElementwiseNode> members;
        final List<Tensor> inputs = new ArrayList<>();
        final List<Source[]> sources = new ArrayList<>();
        final List<int[]> paramSlots = new ArrayList<>();
        final List<Long> args = new ArrayList<>();
        final long[][] dims;

        Run(List<ElementwiseNode> members) {
            this.members = List.copyOf(members);
            for (int m = 0; m < members.size(); m++) {
                ElementwiseNode node = members.get(m);
                List<Operand> operands = node.operands();
                Source[] src = new Source[operands.size()];
                for (int k = 0; k < operands.size(); k++) {
                    if (operands.get(k) instanceof Scalar s) {
                        src[k] = Source.arg(args.size());
                        args.add(scalarBits(s, node.operandType(), node.computeType()));
                    } else {
                        Tensor t = (Tensor) operands.get(k);
                        int producer = producer(m, t);
                        src[k] = producer >= 0 ? Source.member(producer) : Source.input(inputIndex(t));
                    }
                }
                sources.add(src);
                String template = node.op().cudaExpression(node.computeType());
                int[] slots = {-1, -1};
                double[] params = node.params();
                for (int p = 0; p < 2; p++) {
                    if (template != null && template.contains("p" + p)) {
                        slots[p] = args.size();
                        args.add(Double.doubleToRawLongBits(p < params.length ? params[p] : 0));
                    }
                }
                paramSlots.add(slots);
            }
            long[] shape = members.getFirst().output().shape();
            List<long[]> strides = new ArrayList<>();
            for (Tensor t : inputs) strides.add(t.strides());
            for (ElementwiseNode n : members) strides.add(n.output().strides());
            dims = Dims.coalesce(shape, strides.toArray(long[][]::new));
        }

        int refCount() { return inputs.size() + members.size(); }

        boolean fitsOneTask() {
            return refCount() <= MAX_REFS && args.size() <= MAX_ARGS && dims[0].length <= MAX_DIMS;
        }

        /** The last earlier member whose output {@code t} is, element for element, or -1. */
        private int producer(int before, Tensor t) {
            for (int j = before - 1; j >= 0; j--) if (sameView(members.get(j).output(), t)) return j;
            return -1;
        }

        private int inputIndex(Tensor t) {
            for (int i = 0; i < inputs.size(); i++) if (sameView(inputs.get(i), t)) return i;
            inputs.add(t);
            return inputs.size() - 1;
        }
    }

    /** The tasks of a fusion group, in order. */
    static List<KernelTask> tasks(FusionGroup group) {
        List<List<ElementwiseNode>> runs = runs(group);
        List<KernelTask> out = new ArrayList<>(runs.size());
        for (List<ElementwiseNode> run : runs) out.add(task(run));
        return out;
    }

    /**
     * A fusion group cut greedily into runs that each fit one task. Operand and argument counts are kept
     * incrementally with the same identity rules as {@link Run} (which {@link #task} still checks), so cutting
     * costs no trial analysis per node. Coalescing never adds dims, so a run of nodes that fit alone fits in dims.
     */
    static List<List<ElementwiseNode>> runs(FusionGroup group) {
        if (group.nodes().getFirst().output().shape().length > MAX_DIMS) return runsByTrial(group);
        List<List<ElementwiseNode>> out = new ArrayList<>();
        List<ElementwiseNode> run = new ArrayList<>();
        List<Tensor> inputs = new ArrayList<>();
        List<Tensor> fresh = new ArrayList<>(4);
        int args = 0;
        for (ElementwiseNode node : group.nodes()) {
            int nodeArgs = argWords(node);
            newInputs(run, inputs, node, fresh);
            if (!run.isEmpty() && (inputs.size() + fresh.size() + run.size() + 1 > MAX_REFS || args + nodeArgs > MAX_ARGS)) {
                out.add(List.copyOf(run));
                run.clear();
                inputs.clear();
                args = 0;
                newInputs(run, inputs, node, fresh);
            }
            run.add(node);
            inputs.addAll(fresh);
            args += nodeArgs;
        }
        if (!run.isEmpty()) out.add(List.copyOf(run));
        return out;
    }

    /**
     * The same cut found by analysing every trial run: needed past {@link #MAX_DIMS} dims, where whether
     * operands coalesce below the limit depends on the whole run.
     */
    static List<List<ElementwiseNode>> runsByTrial(FusionGroup group) {
        List<List<ElementwiseNode>> out = new ArrayList<>();
        List<ElementwiseNode> run = new ArrayList<>();
        for (ElementwiseNode node : group.nodes()) {
            if (!run.isEmpty()) {
                List<ElementwiseNode> trial = new ArrayList<>(run);
                trial.add(node);
                if (!new Run(trial).fitsOneTask()) {
                    out.add(List.copyOf(run));
                    run.clear();
                }
            }
            run.add(node);
        }
        if (!run.isEmpty()) out.add(List.copyOf(run));
        return out;
    }

    /** The memory operands of {@code node} that neither a member of {@code run} produces nor {@code inputs} holds. */
    private static void newInputs(List<ElementwiseNode> run, List<Tensor> inputs, ElementwiseNode node, List<Tensor> fresh) {
        fresh.clear();
        for (Operand o : node.operands()) {
            if (!(o instanceof Tensor t)) continue;
            boolean known = false;
            for (int j = run.size() - 1; j >= 0 && !known; j--) known = sameView(run.get(j).output(), t);
            for (int i = 0; i < inputs.size() && !known; i++) known = sameView(inputs.get(i), t);
            for (int i = 0; i < fresh.size() && !known; i++) known = sameView(fresh.get(i), t);
            if (!known) fresh.add(t);
        }
    }

    /** The identity rule of a run's operands: one buffer, one dtype, one layout (element for element). */
    private static boolean sameView(Tensor u, Tensor t) {
        return u.storage() == t.storage() && u.dtype() == t.dtype() && u.layout().equals(t.layout());
    }

    /** Argument words a member takes: its scalar operands and the parameters its expression reads. */
    private static int argWords(ElementwiseNode node) {
        int n = 0;
        for (Operand o : node.operands()) if (o instanceof Scalar) n++;
        String template = node.op().cudaExpression(node.computeType());
        if (template != null) {
            if (template.contains("p0")) n++;
            if (template.contains("p1")) n++;
        }
        return n;
    }

    /** One task for a run of members (a single node always fits; see {@link GpuSupport}). */
    static KernelTask task(List<ElementwiseNode> members) {
        Run run = new Run(members);
        if (!run.fitsOneTask()) {
            throw new IllegalStateException("elementwise run of " + members.size() + " nodes needs " + run.refCount()
                    + " operands, " + run.args.size() + " args and " + run.dims[0].length + " dims");
        }
        List<GpuView> refs = new ArrayList<>();
        int k = 1;
        for (Tensor t : run.inputs) refs.add(GpuView.of(t, run.dims[0], run.dims[k++]));
        for (ElementwiseNode n : run.members) refs.add(GpuView.of(n.output(), run.dims[0], run.dims[k++]));
        long numel = members.getFirst().output().numel();
        int[] tiling = Dims.tiling(numel, MIN_TILE);
        long[] args = new long[run.args.size()];
        for (int i = 0; i < args.length; i++) args[i] = run.args.get(i);
        return new KernelTask(operator(run), tiling[1], tiling[0], refs, args, List.<OpNode>copyOf(members));
    }

    /** What every elementwise operator's key starts with (no other kind's key does). */
    static final String KEY_TAG = "ew:";

    /**
     * Operators by structure key, one per structure for the life of the process. An entry holds the run's
     * tensor-free description until its source is first asked for (a native compile), then the source.
     */
    private static final java.util.concurrent.ConcurrentHashMap<String, OperatorStructure> OPERATORS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The run's operator, looked up by its structure key: nothing is rendered here. */
    private static OperatorStructure operator(Run run) {
        String key = structureKey(run);
        OperatorStructure known = OPERATORS.get(key);  // the common case: no lambda, no lock
        return known != null ? known : OPERATORS.computeIfAbsent(key, k -> newOperator(k, run));
    }

    /** A new, unrendered operator for {@code run} (interned by {@link #operator} only). */
    private static OperatorStructure newOperator(String structureKey, Run run) {
        ElementwiseSource.Member[] members = new ElementwiseSource.Member[run.members.size()];
        StringBuilder name = new StringBuilder("ew");
        for (int m = 0; m < members.length; m++) {
            ElementwiseNode n = run.members.get(m);
            members[m] = new ElementwiseSource.Member(n.op(), n.computeType(), n.operandType(), n.output().dtype(),
                    run.sources.get(m).clone(), run.paramSlots.get(m).clone());
            name.append('_').append(n.opName());
        }
        DType[] inputs = new DType[run.inputs.size()];
        for (int i = 0; i < inputs.length; i++) inputs[i] = run.inputs.get(i).dtype();
        // The renderer captures only dtypes, ops and indices: an unrendered entry keeps no tensor alive.
        ElementwiseSource.Structure structure = new ElementwiseSource.Structure(inputs, members);
        return new OperatorStructure(KEY_TAG + structureKey, name.toString(), PREFIX,
                () -> ElementwiseSource.render(structure));
    }

    /**
     * Everything {@link ElementwiseSource#render} reads, compactly: the dtype of each operand, and per member its
     * op, compute, operand and output dtypes, where each operand comes from, and its parameter slots. Equal keys
     * render equal sources; building the key costs a fraction of rendering.
     */
    private static String structureKey(Run run) {
        StringBuilder k = new StringBuilder(32 + 16 * run.members.size());
        for (Tensor t : run.inputs) k.append((char) ('A' + t.dtype().ordinal()));
        k.append('|');
        for (int m = 0; m < run.members.size(); m++) {
            ElementwiseNode node = run.members.get(m);
            k.append(node.op().ordinal()).append(':').append((char) ('A' + node.computeType().ordinal()))
                    .append((char) ('A' + node.operandType().ordinal()))
                    .append((char) ('A' + node.output().dtype().ordinal()));
            for (Source src : run.sources.get(m)) k.append(src.kind()).append(src.index());
            for (int slot : run.paramSlots.get(m)) k.append('p').append(slot);
            k.append(';');
        }
        return k.toString();
    }

    /** The structure of a run of members: its operator source less {@link #PREFIX}; the same for every shape. */
    static String structure(List<ElementwiseNode> members) {
        return operator(new Run(members)).body();
    }

    /** The operator of a run of members, as tasks of that run name it (interned; unrendered until asked). */
    static OperatorStructure operator(List<ElementwiseNode> members) {
        return operator(new Run(members));
    }

    /** A fresh, unrendered operator for a run of members, not interned (tests: what rendering is deferred to). */
    static OperatorStructure uninternedOperator(List<ElementwiseNode> members) {
        Run run = new Run(members);
        return newOperator(structureKey(run), run);
    }

    /** The whole operator source of a run of members. */
    static String source(List<ElementwiseNode> members) {
        return PREFIX + structure(members);
    }

    /** A scalar operand converted to the operand type (CPU semantics), as the raw word the kernel reads. */
    static long scalarBits(Scalar s, DType opType, DType compute) {
        if (compute == DType.I64) return HostElements.round(opType, s.longValue());
        double v = s.kind() == DType.F64 ? HostElements.round(opType, s.doubleValue())
                : HostElements.round(opType, (double) s.longValue());
        return Double.doubleToRawLongBits(v);
    }
}
