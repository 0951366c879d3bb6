package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.op.ElementwiseOp;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CUDA source of an elementwise run (less {@link ElementwiseKernels#PREFIX}), rendered from a tensor-free
 * description of its structure: operand dtypes, and per member its op, dtypes, where each operand comes from
 * and which argument words its parameters take. Rendering is deferred until a native compile asks for it (see
 * {@link OperatorStructure}), so the description, not the run, is what waits: it keeps no tensor alive.
 *
 * <p>The operator walks its tile's flat indices, decomposes each once over the (coalesced) shape with
 * {@code gt::Indexer} and applies each operand's strides. A member's value is kept in its output's storage
 * type, so a consumer sees exactly what it would read back from memory and fusion never changes results.
 */
final class ElementwiseSource {
    private ElementwiseSource() {}

    private static final Pattern SYMBOL = Pattern.compile("\\b(a|b|c|p0|p1)\\b");

    /** Where a member's operand comes from: memory input {@code i}, member {@code m}'s value, argument word {@code s}. */
    record Source(char kind, int index) {
        static Source input(int i) { return i < INPUTS.length ? INPUTS[i] : new Source('i', i); }
        static Source member(int j) { return j < MEMBERS.length ? MEMBERS[j] : new Source('m', j); }
        static Source arg(int slot) { return slot < ARGS.length ? ARGS[slot] : new Source('s', slot); }

        // Planning names sources per member operand: the common ones exist once.
        private static final Source[] INPUTS = sources('i', 16), MEMBERS = sources('m', 64), ARGS = sources('s', 8);

        private static Source[] sources(char kind, int n) {
            Source[] out = new Source[n];
            for (int i = 0; i < n; i++) out[i] = new Source(kind, i);
            return out;
        }
    }

    /**
     * One member: its op, compute, operand and output dtypes, its operands' sources, the argument words of
     * its parameters (-1: unused) and the operand its output is stored through (-1: kept in a register only).
     */
    record Member(ElementwiseOp op, DType compute, DType operand, DType out, Source[] sources, int[] paramSlots,
                  int outRef) {}

    /** A run's structure: the dtypes of its memory inputs (refs 0..), then its members (stored ones take the next refs). */
    record Structure(DType[] inputs, Member[] members) {
        int refCount() {
            int n = inputs.length;
            for (Member m : members) if (m.outRef() >= 0) n++;
            return n;
        }

        /** The dtype of operand {@code ref}: an input's, or that of the member stored through it. */
        DType refType(int ref) {
            if (ref < inputs.length) return inputs[ref];
            for (Member m : members) if (m.outRef() == ref) return m.out();
            throw new IllegalArgumentException("operand " + ref + " is not a stored output");
        }
    }

    static String render(Structure run) {
        int n = run.refCount(), inputs = run.inputs().length, v = packElements(run);
        StringBuilder s = new StringBuilder(4096);
        s.append("// GENERATED elementwise run:");
        for (Member m : run.members()) s.append(' ').append(m.op().opName());
        s.append("\nGPUOS_OP {\n");
        // More operands than a descriptor's inline slots: all of them come from the task's operand table.
        boolean table = n > dev.gpuos.runtime.layout.Layouts.MAX_REFS;
        String refs = table ? "R[" : "task->refs[";
        if (table) s.append("    const gpuos_tensor_ref* R = gt::operand_table(task);\n");
        for (int r = 0; r < n; r++) {
            String st = OperatorSources.storageType(run.refType(r));
            s.append("    ").append(st).append("* r").append(r).append(" = (").append(st).append("*)").append(refs)
                    .append(r).append("].data;\n");
        }
        for (Member node : run.members()) declareArgs(node, s);
        s.append("    long long begin, end;\n");
        s.append("    gpuos::tile_range(task, tile, ").append(refs).append("0].numel, &begin, &end);\n");
        // The pack part: decided per task on the device, so alignment never splits a structure in two.
        s.append("    // Packs of ").append(v).append(" elements (").append(ElementwiseKernels.PACK_BYTES)
                .append(" bytes of the widest operand) per thread and step, where every operand is dense from an\n")
                .append("    // aligned address (an input may also be one broadcast element); one at a time elsewhere.\n");
        s.append("    long long vb = begin, ve = begin;\n    if (");
        for (int r = 0; r < n; r++) {
            String aligned = "gt::dense_aligned(" + refs + r + "], " + v * run.refType(r).byteSize() + ")";
            s.append(r == 0 ? "" : "\n            && ").append(r < inputs
                    ? "(" + aligned + " || gt::broadcast_one(" + refs + r + "]))" : aligned);
        }
        s.append(") {\n");
        s.append("        gt::pack_range<").append(v).append(">(begin, end, &vb, &ve);\n");
        for (int r = 0; r < inputs; r++) {
            s.append("        const bool one").append(r).append(" = gt::broadcast_one(").append(refs).append(r).append("]);\n");
        }
        s.append("        for (long long c = vb + (long long)threadIdx.x * ").append(v).append("; c < ve; c += (long long)blockDim.x * ")
                .append(v).append(") {\n");
        for (int m = 0; m < run.members().length; m++) renderMember(run, m, v, s);
        s.append("        }\n    }\n");
        s.append("    // One element per thread and step: the whole tile, or the head and tail around the packs.\n");
        s.append(table ? "    const gt::TableIndexer<" : "    const gt::Indexer<").append(n).append(table ? "> ix(R);\n" : "> ix(task);\n");
        s.append("    const long long head = vb - begin, count = head + (end - ve);\n");
        s.append("    for (long long j = threadIdx.x; j < count; j += blockDim.x) {\n");
        s.append("        const long long i = j < head ? begin + j : ve + (j - head);\n");
        s.append("        long long o[").append(n).append("];\n");
        s.append("        ix.offsets(i, o);\n");
        for (int m = 0; m < run.members().length; m++) renderMember(run, m, 1, s);
        s.append("    }\n}\n");
        return s.toString();
    }

    /** A member's scalar operands and parameters, read from the task's argument words once per tile. */
    static void declareArgs(Member node, StringBuilder s) {
        String ct = node.compute().cudaType();
        for (Source src : node.sources()) {
            if (src.kind() != 's') continue;
            s.append("    const ").append(ct).append(" a").append(src.index()).append(" = ")
                    .append(node.compute() == DType.I64 ? "gpuos::arg_i64(task, " : "(" + ct + ")gpuos::arg_f64(task, ")
                    .append(src.index()).append(");\n");
        }
        for (int slot : node.paramSlots()) {
            if (slot >= 0) s.append("    const double a").append(slot).append(" = gpuos::arg_f64(task, ").append(slot).append(");\n");
        }
    }

    /**
     * Elements per pack: the widest operand in memory moves {@link ElementwiseKernels#PACK_BYTES}, narrower ones
     * fewer (values kept in registers have no alignment to keep).
     */
    private static int packElements(Structure run) {
        int widest = 1;
        for (int r = 0; r < run.refCount(); r++) widest = Math.max(widest, run.refType(r).byteSize());
        return ElementwiseKernels.PACK_BYTES / widest;
    }

    /**
     * Member {@code m}'s loads, evaluation and store (none when its value stays in a register): one element at
     * offsets {@code o} ({@code v == 1}), or a pack of {@code v} elements at {@code c}, evaluated element by
     * element in an unrolled loop (the same expression).
     */
    private static void renderMember(Structure run, int m, int v, StringBuilder s) {
        renderMember(run, m, v, true, s);
    }

    /**
     * As above; without {@code store} the member's value is computed but not stored (a row-fused operator's
     * statistics passes, RowFusedSource, evaluate its prologue again and store only in the last pass).
     */
    static void renderMember(Structure run, int m, int v, boolean store, StringBuilder s) {
        Member node = run.members()[m];
        DType out = node.out(), compute = node.compute(), opType = node.operand();
        String st = OperatorSources.storageType(out);
        Source[] sources = node.sources();
        int outRef = store ? node.outRef() : -1;
        boolean packed = v > 1;
        String in = packed ? "            " : "        ";
        String pack = "gt::Pack<" + st + ", " + v + ">";
        s.append(in).append("// ").append(node.op().opName()).append(" -> ").append(out)
                .append(node.outRef() < 0 ? " (register)" : "").append('\n');
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
            int[] slots = node.paramSlots();
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
            if (outRef >= 0) {
                s.append(in).append("gt::store_pack<").append(st).append(", ").append(v).append(">(r").append(outRef)
                        .append(", c, s").append(m).append(");\n");
            }
        } else if (outRef >= 0) {
            s.append(in).append('r').append(outRef).append("[o[").append(outRef).append("]] = s").append(m).append(";\n");
        }
    }

    private static DType storageOf(Structure run, Source src) {
        return src.kind() == 'i' ? run.inputs()[src.index()] : run.members()[src.index()].out();
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

}
