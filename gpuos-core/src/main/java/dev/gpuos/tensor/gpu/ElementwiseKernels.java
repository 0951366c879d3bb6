package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Elementwise runs as GpuOS operators. A {@link FusionGroup} is cut into runs that fit one task (at most 4
 * operands: memory inputs plus one output per member, since every member's result is stored; at most 6 scalar
 * words: scalar operands and op parameters). Each run becomes one task whose operator source depends only on
 * the run's structure (ops, dtypes, which operand comes from where); shapes, strides, offsets and scalar
 * values travel in the task, so one compiled operator serves every shape and every scalar value.
 *
 * <p>The generated operator walks its tile's flat indices. Where every operand is dense from an address aligned
 * to its pack (an input may instead be one broadcast element), each thread moves packs of elements, 16 bytes of
 * the widest operand per access ({@code float4}-sized), then the rest one at a time; the operator decides this
 * per task on the device from the descriptor, so alignment never makes two operators of one structure, and a
 * misaligned view (a slice at an odd storage offset) simply takes the one-at-a-time walk. That walk indexes
 * flat when every operand is contiguous, otherwise it decomposes the index once over the (coalesced) shape and
 * applies each operand's strides.
 * A member's value is kept in its output's storage type, so a consumer sees exactly what it would read back
 * from memory and fusion never changes results; conversions are those of the CPU backend.
 */
final class ElementwiseKernels {
    private ElementwiseKernels() {}

    static final int MAX_REFS = 4, MAX_ARGS = 6, MAX_DIMS = 8;
    private static final Pattern SYMBOL = Pattern.compile("\\b(a|b|c|p0|p1)\\b");
    /** Elements per tile at least: small tensors are one tile, large ones at most 4096 tiles. */
    static final int MIN_TILE = 1024;
    /** Bytes the widest operand of a run moves per pack access: one 16-byte (v4.b32 / v2.b64) load or store. */
    static final int PACK_BYTES = 16;
    /** What every elementwise operator source starts with: the support headers and the op table's helpers. */
    static final String PREFIX = OperatorSources.HEADER + OperatorSources.WALK + ElementwiseOp.CUDA_PRELUDE;

    /** Where a member's operand comes from. */
    private record Source(char kind, int index) {
        static Source input(int i) { return new Source('i', i); }
        static Source member(int j) { return new Source('m', j); }
        static Source arg(int slot) { return new Source('s', slot); }
    }

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
        int[] tiling = tiling(members.getFirst().output().numel());
        long[] args = new long[run.args.size()];
        for (int i = 0; i < args.length; i++) args[i] = run.args.get(i);
        Rendered r = rendered(run);
        return new KernelTask(r.name(), PREFIX, r.source(), tiling[1], tiling[0], refs, args, List.<OpNode>copyOf(members));
    }

    /**
     * Tile size and count of an elementwise task: tiles start on multiples of the widest pack (16 one-byte
     * elements), so in a dense aligned task every tile is whole packs except the last one's tail.
     */
    static int[] tiling(long numel) {
        return Dims.tiling(numel, MIN_TILE, PACK_BYTES);
    }

    /** A structure's readable operator name and its source (less {@link #PREFIX}). */
    private record Rendered(String name, String source) {}

    /** Rendered sources by structure key: rendering (with its regex substitutions) happens once per structure. */
    private static final java.util.concurrent.ConcurrentHashMap<String, Rendered> RENDERED =
            new java.util.concurrent.ConcurrentHashMap<>();

    private static Rendered rendered(Run run) {
        return RENDERED.computeIfAbsent(structureKey(run), k -> {
            StringBuilder name = new StringBuilder("ew");
            for (ElementwiseNode n : run.members) name.append('_').append(n.opName());
            return new Rendered(name.toString(), render(run));
        });
    }

    /**
     * Everything {@link #render} reads, compactly: the dtype of each operand, and per member its op, compute,
     * operand and output dtypes, where each operand comes from, and its parameter slots. Equal keys render
     * equal sources; building the key costs a fraction of rendering.
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
        return rendered(new Run(members)).source();
    }

    /** The whole operator source of a run of members. */
    static String source(List<ElementwiseNode> members) {
        return PREFIX + structure(members);
    }

    private static String render(Run run) {
        int n = run.refCount(), inputs = run.inputs.size(), v = packElements(run);
        StringBuilder s = new StringBuilder(4096);
        s.append("// GENERATED elementwise run:");
        for (ElementwiseNode m : run.members) s.append(' ').append(m.opName());
        s.append("\nGPUOS_OP {\n");
        for (int r = 0; r < n; r++) {
            String st = OperatorSources.storageType(refType(run, r));
            s.append("    ").append(st).append("* r").append(r).append(" = (").append(st).append("*)task->refs[")
                    .append(r).append("].data;\n");
        }
        for (int m = 0; m < run.members.size(); m++) {
            ElementwiseNode node = run.members.get(m);
            String ct = node.computeType().cudaType();
            for (Source src : run.sources.get(m)) {
                if (src.kind() != 's') continue;
                s.append("    const ").append(ct).append(" a").append(src.index()).append(" = ")
                        .append(node.computeType() == DType.I64 ? "gpuos::arg_i64(task, " : "(" + ct + ")gpuos::arg_f64(task, ")
                        .append(src.index()).append(");\n");
            }
            for (int slot : run.paramSlots.get(m)) {
                if (slot >= 0) s.append("    const double a").append(slot).append(" = gpuos::arg_f64(task, ").append(slot).append(");\n");
            }
        }
        s.append("    long long begin, end;\n");
        s.append("    gpuos::tile_range(task, tile, task->refs[0].numel, &begin, &end);\n");
        // The pack part: decided per task on the device, so alignment never splits a structure in two.
        s.append("    // Packs of ").append(v).append(" elements (").append(PACK_BYTES)
                .append(" bytes of the widest operand) per thread and step, where every operand is dense from an\n")
                .append("    // aligned address (an input may also be one broadcast element); one at a time elsewhere.\n");
        s.append("    long long vb = begin, ve = begin;\n    if (");
        for (int r = 0; r < n; r++) {
            String aligned = "gt::dense_aligned(task->refs[" + r + "], " + v * refType(run, r).byteSize() + ")";
            s.append(r == 0 ? "" : "\n            && ").append(r < inputs
                    ? "(" + aligned + " || gt::broadcast_one(task->refs[" + r + "]))" : aligned);
        }
        s.append(") {\n");
        s.append("        gt::pack_range<").append(v).append(">(begin, end, &vb, &ve);\n");
        for (int r = 0; r < inputs; r++) {
            s.append("        const bool one").append(r).append(" = gt::broadcast_one(task->refs[").append(r).append("]);\n");
        }
        s.append("        for (long long c = vb + (long long)threadIdx.x * ").append(v).append("; c < ve; c += (long long)blockDim.x * ")
                .append(v).append(") {\n");
        for (int m = 0; m < run.members.size(); m++) renderMember(run, m, v, s);
        s.append("        }\n    }\n");
        s.append("    // One element per thread and step: the whole tile, or the head and tail around the packs.\n");
        s.append("    const gt::Indexer<").append(n).append("> ix(task);\n");
        s.append("    const long long head = vb - begin, count = head + (end - ve);\n");
        s.append("    for (long long j = threadIdx.x; j < count; j += blockDim.x) {\n");
        s.append("        const long long i = j < head ? begin + j : ve + (j - head);\n");
        s.append("        long long o[").append(n).append("];\n");
        s.append("        ix.offsets(i, o);\n");
        for (int m = 0; m < run.members.size(); m++) renderMember(run, m, 1, s);
        s.append("    }\n}\n");
        return s.toString();
    }

    /** Elements per pack: the widest operand moves {@link #PACK_BYTES}, narrower ones (in the same run) fewer. */
    private static int packElements(Run run) {
        int widest = 1;
        for (int r = 0; r < run.refCount(); r++) widest = Math.max(widest, refType(run, r).byteSize());
        return PACK_BYTES / widest;
    }

    /** The dtype of operand {@code r}: an input's, or a member's output's. */
    private static DType refType(Run run, int r) {
        int inputs = run.inputs.size();
        return r < inputs ? run.inputs.get(r).dtype() : run.members.get(r - inputs).output().dtype();
    }

    /**
     * Member {@code m}'s loads, evaluation and store: one element at offsets {@code o} ({@code v == 1}), or a pack
     * of {@code v} elements at {@code c}, evaluated element by element in an unrolled loop (the same expression).
     */
    private static void renderMember(Run run, int m, int v, StringBuilder s) {
        ElementwiseNode node = run.members.get(m);
        DType out = node.output().dtype(), compute = node.computeType(), opType = node.operandType();
        String st = OperatorSources.storageType(out);
        Source[] sources = run.sources.get(m);
        int outRef = run.inputs.size() + m;
        boolean packed = v > 1;
        String in = packed ? "            " : "        ";
        String pack = "gt::Pack<" + st + ", " + v + ">";
        s.append(in).append("// ").append(node.opName()).append(" -> ").append(out).append('\n');
        String[] raws = new String[sources.length];
        for (int k = 0; k < sources.length; k++) {
            Source src = sources[k];
            if (src.kind() == 's') continue;
            if (!packed) {
                raws[k] = src.kind() == 'i' ? "r" + src.index() + "[o[" + src.index() + "]]" : "s" + src.index();
            } else if (src.kind() == 'm') {
                raws[k] = "s" + src.index() + ".v[j]";
            } else {
                String srcType = OperatorSources.storageType(storageOf(run, src));
                s.append(in).append("const gt::Pack<").append(srcType).append(", ").append(v).append("> v").append(m).append('_')
                        .append(k).append(" = gt::load_pack<").append(srcType).append(", ").append(v).append(">(r")
                        .append(src.index()).append(", c, one").append(src.index()).append(");\n");
                raws[k] = "v" + m + "_" + k + ".v[j]";
            }
        }
        String body = in;
        if (packed) {
            s.append(in).append(pack).append(" s").append(m).append(";\n");
            s.append(in).append("#pragma unroll\n");
            s.append(in).append("for (int j = 0; j < ").append(v).append("; ++j) {\n");
            body = in + "    ";
        }
        String result = packed ? "s" + m + ".v[j] = " : "const " + st + " s" + m + " = ";
        if (node.op() == ElementwiseOp.CAST && sources[0].kind() != 's' && storageOf(run, sources[0]) == out) {
            // A same-dtype copy moves bits, so NaN payloads survive like on the CPU.
            s.append(body).append(result).append(raws[0]).append(";\n");
        } else {
            String ct = compute.cudaType();
            String[] names = new String[sources.length];
            for (int k = 0; k < sources.length; k++) {
                Source src = sources[k];
                if (src.kind() == 's') {
                    names[k] = "a" + src.index();
                    continue;
                }
                names[k] = "x" + m + "_" + k;
                s.append(body).append("const ").append(ct).append(' ').append(names[k]).append(" = ")
                        .append(load(storageOf(run, src), opType, compute, raws[k])).append(";\n");
            }
            int[] slots = run.paramSlots.get(m);
            String expr = SYMBOL.matcher(node.op().cudaExpression(compute)).replaceAll(r -> Matcher.quoteReplacement(
                    switch (r.group(1)) {
                        case "a" -> names[0];
                        case "b" -> names[1];
                        case "c" -> names[2];
                        case "p0" -> "a" + slots[0];
                        default -> "a" + slots[1];
                    }));
            String from = switch (compute) {
                case F32 -> "gt::from_f32";
                case F64 -> "gt::from_f64";
                default -> "gt::from_i64";
            };
            s.append(body).append(result).append(from).append('<').append(st).append(">((").append(ct).append(")(")
                    .append(expr).append("));\n");
        }
        if (packed) {
            s.append(in).append("}\n");
            s.append(in).append("gt::store_pack<").append(st).append(", ").append(v).append(">(r").append(outRef)
                    .append(", c, s").append(m).append(");\n");
        } else {
            s.append(in).append('r').append(outRef).append("[o[").append(outRef).append("]] = s").append(m).append(";\n");
        }
    }

    private static DType storageOf(Run run, Source src) {
        return src.kind() == 'i' ? run.inputs.get(src.index()).dtype() : run.members.get(src.index()).output().dtype();
    }

    /** A stored value to the compute type, rounded through the operand type first (HostElements semantics). */
    static String load(DType storage, DType opType, DType compute, String raw) {
        return switch (compute) {
            case F32 -> {
                String v = "gt::to_f32(" + raw + ")";
                if (storage == opType || opType == DType.F32) yield v;
                yield (opType == DType.F16 ? "gt::round_f16(" : "gt::round_bf16(") + v + ")";
            }
            case F64 -> "gt::to_f64(" + raw + ")";
            default -> {
                String v = "gt::to_i64(" + raw + ")";
                if (storage == opType || opType == DType.I64) yield v;
                yield (opType == DType.I32 ? "gt::round_i32(" : "gt::round_bool(") + v + ")";
            }
        };
    }

    /** A scalar operand converted to the operand type (CPU semantics), as the raw word the kernel reads. */
    static long scalarBits(Scalar s, DType opType, DType compute) {
        if (compute == DType.I64) return HostElements.round(opType, s.longValue());
        double v = s.kind() == DType.F64 ? HostElements.round(opType, s.doubleValue())
                : HostElements.round(opType, (double) s.longValue());
        return Double.doubleToRawLongBits(v);
    }
}
