package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.ElementwiseSource.Source;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA source of a row-fused task ({@link RowFusion}), less {@link ElementwiseKernels#PREFIX}. A team (warp
 * or block, by the mode word) owns each row. Statistics passes evaluate the prologue and the row op's input
 * element by element (loaded a chunk at a time, see {@link #elements}) and reduce in double (the order and arithmetic of {@code norm.cu} / {@code softmax.cu});
 * the last pass evaluates the prologue again, stores what is stored, computes the row op's value in its
 * storage type and runs the epilogue on it. Members are rendered by {@link ElementwiseSource#renderMember}, so a
 * member computes exactly what it computes in an elementwise task.
 *
 * <p>Two forms. CHUNKED (any row): each statistics pass loads its elements again, a chunk at a time. RESIDENT
 * (a block team over a dense row of at most {@code resident} elements a thread, {@link RowFusion#residentElements}):
 * every input of the row is loaded ONCE, all loads in flight together, into registers, and every pass and the
 * stores run from there, with one barrier per reduction ({@link #BLOCK_REDUCE}). On a dependent chain at batch 1 (W7, Llama's decode
 * norms) the operator's latency is its serialized memory round trips: three for a chunked rms_norm step
 * (the statistics chunk, two chunks of the last pass), one resident. An earlier register-resident form (rows of
 * up to 8 elements a thread for warp and block teams alike, fusion-2) spilled up to 100 bytes at the register cap
 * and lost to the passes; this one is compiled alone (an operator has one form: both in one function spilled
 * where neither does alone) with a compile-time step between a thread's elements, and stays within the cap
 * without spilling (RowFusionCompileTest).
 *
 * <p>With {@link RowFusion#rowRegisters} (off by default until a GPU compares), a WARP team's row is resident too
 * (up to {@link #WARP_RESIDENT} elements a lane, 8 rows a tile, one a warp): one load round trip and no barrier at
 * all, where the chunked warp form waits for one round trip per pass (rms_norm 2, layer_norm and softmax 3); and a
 * block's reduction reads the 8 warps' values all in flight. A lane accumulates its elements in the chunked form's
 * order (i = lane, lane + 32, ...) and the shuffles combine as team_reduce's do, so the values are the same.
 *
 * <p>Task interface: operands (inline, or in the operand table past 4) are the memory inputs, then the stored
 * outputs, all viewed over the row op's shape as [row dims..., column dims...] (a reduction's output with zero
 * strides along the column dims: each row's value lies at its row base); args[0] = number of row dims |
 * 256 if a whole block owns a row; args[1] = eps (norms); then the members' scalars and parameters.
 */
final class RowFusedSource {
    private RowFusedSource() {}

    /** Elements a team member loads before it computes in a chunked pass (see {@link #elements}). */
    static final int CHUNK = 8;

    /** Register words (32-bit) a thread may hold of a resident row's inputs: what is left under the cap. */
    static final int RESIDENT_WORDS = 40;

    /** Elements a lane of a warp-resident row may hold (within {@link #RESIDENT_WORDS}). */
    static final int WARP_RESIDENT = 32;

    /**
     * Inputs a resident row reads (set while its body renders: every pass shares the one load); {@code warp}: a
     * warp holds the row; {@code registers}: the rowRegisters form of the block reduction.
     */
    private record Form(int elements, java.util.TreeSet<Integer> read, boolean warp, boolean registers) {
        static final Form CHUNKED = new Form(0, null, false, false);

        boolean resident() { return elements > 0; }
    }

    /**
     * @param run      inputs' dtypes and the members (global numbering; member {@code rowMember} stands for the
     *                 row op: its dtype and store slot)
     * @param rowInput where the row op's input comes from
     * @param weight   input index of a norm's weight, or -1; {@code bias} likewise
     * @param resident elements a thread holds of a resident row, 0 for the chunked form
     * @param warp     a resident row is a warp's (rowRegisters), not the block's
     * @param registers the rowRegisters form ({@link RowFusion#rowRegisters}) of a resident row
     */
    record Structure(RowFusion.Kind kind, ElementwiseSource.Structure run, int rowMember, Source rowInput,
                     int weight, int bias, int resident, boolean warp, boolean registers) {

        /** The chunked form, for rows of any length and layout. */
        Structure(RowFusion.Kind kind, ElementwiseSource.Structure run, int rowMember, Source rowInput, int weight,
                  int bias) {
            this(kind, run, rowMember, rowInput, weight, bias, 0, false, false);
        }
    }

    static String render(Structure f) {
        ElementwiseSource.Structure run = f.run();
        int n = run.refCount(), p = f.rowMember();
        boolean table = n > Layouts.MAX_REFS;
        String t = OperatorSources.storageType(run.members()[p].out());
        StringBuilder s = new StringBuilder(8192);
        s.append("// GENERATED row-fused task:");
        for (int m = 0; m < run.members().length; m++) {
            s.append(' ').append(m == p ? f.kind().name().toLowerCase(java.util.Locale.ROOT) : run.members()[m].op().opName());
        }
        s.append("\nGPUOS_OP {\n");
        s.append(table ? "    const gpuos_tensor_ref* R = gt::operand_table(task);\n" : "    const gpuos_tensor_ref* R = task->refs;\n");
        for (int m = 0; m < run.members().length; m++) if (m != p) ElementwiseSource.declareArgs(run.members()[m], s);
        s.append("    const long long mode = gpuos::arg_i64(task, 0);\n");
        if (!f.warp()) s.append("    const gt::Team team = gt::make_team((mode & 256) != 0);\n");
        s.append("    const gt::RowIndexer<").append(n).append("> ix(R, (int)(mode & 255));\n");
        boolean maxes = f.kind() == RowFusion.Kind.SOFTMAX || f.kind() == RowFusion.Kind.LOG_SOFTMAX
                || f.kind() == RowFusion.Kind.MAX;
        if (f.kind() == RowFusion.Kind.LAYER || f.kind() == RowFusion.Kind.RMS) {
            s.append("    const double eps = gpuos::arg_f64(task, 1);\n");
        }
        if (!f.warp()) s.append("    double* scratch = (double*)env->smem;\n");
        if (f.kind() != RowFusion.Kind.MAX && f.kind() != RowFusion.Kind.MIN) {
            s.append("    auto add = [](double p, double q) { return p + q; };\n");
        }
        if (f.kind() == RowFusion.Kind.MIN) {
            s.append("    auto nan_min = [](double p, double q) { return p != p ? p : q != q ? q : p < q ? p : q; };\n");
        } else if (maxes) {
            s.append("    auto nan_max = [](double p, double q) { return p != p ? p : q != q ? q : p > q ? p : q; };\n");
        }
        s.append("    long long begin, end;\n");
        s.append("    gt::tile_rows(task, tile, ix.rows, &begin, &end);\n");
        if (f.warp()) {
            // A warp per row, 8 rows a tile at once; indices from threadIdx (the host harness runs a real block).
            s.append(WARP_REDUCE);
            s.append("    const unsigned int lane = threadIdx.x & 31u;\n");
            s.append("    for (long long row = begin + (threadIdx.x >> 5); row < end; row += GPUOS_BLOCK_THREADS / 32) {\n");
        } else {
            if (f.resident() > 0) s.append(f.registers() ? BLOCK_REDUCE_IN_FLIGHT : BLOCK_REDUCE);
            s.append("    for (long long row = begin + team.index; row < end; row += team.count) {\n");
        }
        s.append("        long long b[").append(n).append("], cs[").append(n).append("];\n");
        s.append("        ix.row(row, b, cs);\n");
        // The row's data pointers, read from the records per row (registers stay free for the walk).
        for (int r = 0; r < n; r++) {
            String st = OperatorSources.storageType(run.refType(r));
            s.append("        ").append(st).append("* const r").append(r).append(" = (").append(st).append("*)R[").append(r)
                    .append("].data + b[").append(r).append("];\n");
        }
        if (f.resident() > 0) {
            // The whole row in registers: one load of every input, then every pass and reduction from there.
            Form form = new Form(f.resident(), new java.util.TreeSet<>(), f.warp(), f.registers());
            StringBuilder r = new StringBuilder();
            rowBody(f, t, r, form);
            s.append("        const int len32 = (int)ix.len;\n");
            for (int k : form.read()) {
                s.append("        ").append(OperatorSources.storageType(run.inputs()[k])).append(" p").append(k).append('[')
                        .append(f.resident()).append("];\n");
            }
            if (!form.read().isEmpty()) {
                openResidentLoop(n, form, true, s);
                for (int k : form.read()) s.append("            p").append(k).append("[u] = r").append(k).append("[o[").append(k).append("]];\n");
                s.append("            }\n            }\n");
            }
            s.append(r);
        } else {
            rowBody(f, t, s, Form.CHUNKED);
        }
        s.append("    }\n}\n");
        return s.toString();
    }

    /** One row's passes, reductions and stores, in the given form (inside the row loop, pointers r<k> set). */
    private static void rowBody(Structure f, String t, StringBuilder s, Form form) {
        ElementwiseSource.Structure run = f.run();
        int p = f.rowMember();
        String x = rowInput(f);
        switch (f.kind()) {
            case LAYER, RMS -> {
                s.append("        double mean = 0;\n");
                String value = normValue(f, t, x), sumBody = "sum += " + x + ";";
                String sqBody = "const double d = " + x + " - mean;\n            sq += d * d;";
                if (f.kind() == RowFusion.Kind.LAYER) {
                    pass(f, s, form, "double sum = 0;", sumBody, false, readOnlyLast(f, t, value, sumBody));
                    s.append("        mean = " + reduce(form, "sum", "add") + " / (double)ix.len;\n");
                    pass(f, s, form, "double sq = 0;", sqBody);
                } else {
                    pass(f, s, form, "double sq = 0;", sqBody, false, readOnlyLast(f, t, value, sqBody));
                }
                s.append("        sq = " + reduce(form, "sq", "add") + ";\n");
                s.append("        const double inv = 1.0 / sqrt(sq / (double)ix.len + eps);\n");
                last(f, t, s, value, form);
            }
            case SOFTMAX, LOG_SOFTMAX -> {
                String mxBody = "mx = nan_max(mx, " + x + ");";
                pass(f, s, form, "double mx = -__longlong_as_double(0x7ff0000000000000LL);", mxBody, false,
                        readOnlyLast(f, t, softmaxValue(f, t, x), mxBody));
                s.append("        mx = " + reduce(form, "mx", "nan_max") + ";\n");
                pass(f, s, form, "double sum = 0;", "sum += exp(" + x + " - mx);");
                s.append("        sum = " + reduce(form, "sum", "add") + ";\n");
                s.append("        const double logSum = ::log(sum);\n");
                last(f, t, s, softmaxValue(f, t, x), form);
            }
            case SUM, MEAN, MAX, MIN -> {
                // One pass: the prologue stores as it goes (nothing it stores is read from memory by this task).
                boolean sum = f.kind() == RowFusion.Kind.SUM || f.kind() == RowFusion.Kind.MEAN;
                String combine = sum ? "add" : f.kind() == RowFusion.Kind.MAX ? "nan_max" : "nan_min";
                String init = sum ? "0" : (f.kind() == RowFusion.Kind.MAX ? "-" : "") + "__longlong_as_double(0x7ff0000000000000LL)";
                pass(f, s, form, "double acc = " + init + ";", sum ? "acc += " + x + ";" : "acc = " + combine + "(acc, " + x + ");", true);
                s.append("        acc = ").append(reduce(form, "acc", combine)).append(";\n");
                int out = run.members()[p].outRef();
                String v = f.kind() == RowFusion.Kind.MEAN ? "acc / (double)ix.len" : "acc";
                if (out >= 0) {
                    s.append(form.warp() ? "        if (lane == 0) r" : "        if (team.lane == 0) r").append(out).append("[0] = gt::from_f64<").append(t).append(">(")
                            .append(v).append(");\n");
                }
            }
        }
    }

    /**
     * A team reduction. Resident rows (block teams) alternate between two scratch slices and skip the closing
     * barrier ({@link #BLOCK_REDUCE}): one barrier per reduction instead of two.
     */
    private static String reduce(Form form, String v, String combine) {
        if (form.warp()) return "warp_reduce(" + v + ", " + combine + ")";
        return form.resident() ? "block_reduce(" + v + ", " + combine + ")" : "gt::team_reduce(team, " + v + ", " + combine + ", scratch)";
    }

    /**
     * A resident row's block reduction, with one barrier where {@code gt::team_reduce} has two. In the generated
     * source, not a helper in {@code gpuos_tensor.cuh}: that header is in every tensor operator's source, and its
     * hash in their names.
     */
    private static final String BLOCK_REDUCE = """
                // Reduction n writes slice n % 2 of scratch (64 values). A thread reaches reduction n + 2, which
                // writes that slice again, only after passing reduction n + 1's barrier, which every thread reaches
                // only after reading reduction n's values: one barrier per reduction (team_reduce's second protects
                // the slice for the next). Counted across the tile's rows; the worker's barrier after the operator
                // frees both slices. Combines in team_reduce's order: the same result.
                unsigned int reductions = 0;
                auto block_reduce = [&](double v, auto combine) {
                    #pragma unroll
                    for (int s = 16; s > 0; s >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, s));
                    double* slice = scratch + 32 * (reductions++ & 1u);
                    if ((threadIdx.x & 31u) == 0) slice[threadIdx.x >> 5] = v;
                    __syncthreads();
                    double r = slice[0];
                    for (unsigned int w = 1; w < blockDim.x >> 5; ++w) r = combine(r, slice[w]);
                    return r;
                };
            """;

    /**
     * {@link #BLOCK_REDUCE} with the warps' values read with their count known at compile time: the eight
     * shared-memory loads are in flight together, then combined in the same order (the runtime bound left one
     * dependent load a combine). rowRegisters only.
     */
    private static final String BLOCK_REDUCE_IN_FLIGHT = BLOCK_REDUCE.replace(
            "for (unsigned int w = 1; w < blockDim.x >> 5; ++w)",
            "#pragma unroll\n        for (unsigned int w = 1; w < GPUOS_BLOCK_THREADS / 32; ++w)");

    /**
     * A warp-resident row's reduction: team_reduce's shuffles in its order, and nothing else (a warp owns the row:
     * no shared memory, no barrier, so the warps of a tile never wait for each other).
     */
    private static final String WARP_REDUCE = """
                auto warp_reduce = [](double v, auto combine) {
                    #pragma unroll
                    for (int s = 16; s > 0; s >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, s));
                    return v;
                };
            """;

    /**
     * Elements per thread of the resident form for these inputs, 0 if it has none: a power of two up to 8 whose
     * loads of every input fit {@link #RESIDENT_WORDS}. A (1, 2048) row of W7's chain (3 inputs, F32 or BF16): 8,
     * 24 words.
     */
    static int residentElements(DType[] inputs) {
        return residentElements(inputs, CHUNK);
    }

    /** ... at most {@code max} elements a thread (a power of two). */
    static int residentElements(DType[] inputs, int max) {
        int words = 0;
        for (DType in : inputs) words += (in.byteSize() + 3) / 4;
        int r = max;
        while (r > 1 && r * words > RESIDENT_WORDS) r /= 2;
        return words == 0 || r * words > RESIDENT_WORDS ? 0 : r;
    }

    /** The row op's input at offsets {@code o}, as a double. */
    private static String rowInput(Structure f) {
        return "gt::to_f64(" + rawRowInput(f) + ")";
    }

    /** The row op's input at offsets {@code o}, in its storage type. */
    private static String rawRowInput(Structure f) {
        return f.rowInput().kind() == 'i' ? "r" + f.rowInput().index() + "[o[" + f.rowInput().index() + "]]"
                : "s" + f.rowInput().index();
    }

    private static String normValue(Structure f, String t, String x) {
        String w = f.weight() >= 0 ? "gt::to_f64(r" + f.weight() + "[o[" + f.weight() + "]])" : "1.0";
        String b = f.bias() >= 0 ? "gt::to_f64(r" + f.bias() + "[o[" + f.bias() + "]])" : "0.0";
        return "gt::from_f64<" + t + ">((" + x + " - mean) * inv * " + w + " + " + b + ")";
    }

    private static String softmaxValue(Structure f, String t, String x) {
        String v = f.kind() == RowFusion.Kind.LOG_SOFTMAX ? "(" + x + " - mx) - logSum" : "exp(" + x + " - mx) / sum";
        return "gt::from_f64<" + t + ">(" + v + ")";
    }

    /**
     * A statistics pass: {@code init} declares the accumulator in the row's scope, {@code body} runs per element
     * after the prologue (the members before the row op, evaluated again, not stored).
     */
    private static void pass(Structure f, StringBuilder s, Form form, String init, String body) {
        pass(f, s, form, init, body, false);
    }

    private static void pass(Structure f, StringBuilder s, Form form, String init, String body, boolean store) {
        pass(f, s, form, init, body, store, List.of());
    }

    /** ... and asks for the inputs {@code prefetch} on the way (see {@link #readOnlyLast}). */
    private static void pass(Structure f, StringBuilder s, Form form, String init, String body, boolean store,
                             List<Integer> prefetch) {
        s.append("        ").append(init).append('\n');
        elements(f.run(), passElement(f, body, store), s, prefetch, form);
    }

    private static StringBuilder passElement(Structure f, String body, boolean store) {
        StringBuilder e = new StringBuilder();
        for (int m = 0; m < f.rowMember(); m++) ElementwiseSource.renderMember(f.run(), m, 1, store, e);
        e.append("            ").append(body).append('\n');
        return e;
    }

    /**
     * The inputs only the last pass reads (a norm's weight and bias, the epilogue's operands): the first
     * statistics pass asks for them (prefetch.L1), so that the last pass finds them in L1 instead of
     * waiting for them a chunk at a time after the reduction.
     */
    private static List<Integer> readOnlyLast(Structure f, String t, String value, String firstBody) {
        String first = passElement(f, firstBody, false).toString();
        StringBuilder last = new StringBuilder();
        lastElement(f, t, last, value);
        List<Integer> out = new ArrayList<>();
        for (int k = 0; k < f.run().inputs().length; k++) {
            String load = "r" + k + "[o[" + k + "]]";
            if (last.indexOf(load) >= 0 && !first.contains(load)) out.add(k);
        }
        return out;
    }

    /** The last pass: prologue with its stores, the row op's value (member p), its store, the epilogue. */
    private static void last(Structure f, String t, StringBuilder s, String value, Form form) {
        StringBuilder e = new StringBuilder();
        lastElement(f, t, e, value);
        elements(f.run(), e, s, List.of(), form);
    }

    /** One element of the last pass. */
    private static void lastElement(Structure f, String t, StringBuilder e, String value) {
        ElementwiseSource.Structure run = f.run();
        int p = f.rowMember();
        for (int m = 0; m < p; m++) ElementwiseSource.renderMember(run, m, 1, true, e);
        e.append("            const ").append(t).append(" s").append(p).append(" = ").append(value).append(";\n");
        int out = run.members()[p].outRef();
        if (out >= 0) e.append("            r").append(out).append("[o[").append(out).append("]] = s").append(p).append(";\n");
        for (int m = p + 1; m < run.members().length; m++) ElementwiseSource.renderMember(run, m, 1, true, e);
    }

    /**
     * A pass over a team member's elements of the row, {@code element} per element (at offsets {@code o}), in
     * chunks of {@link #CHUNK} elements: each input element the chunk reads is loaded first, all of them in
     * flight at once, into registers ({@code p<ref>[u]}), then the chunk's elements are computed and stored one
     * after another from there. Element after element, each load waited for the store before it (which may
     * alias it), and a pass cost one memory latency per element: 8 on a (1, 2048) row, most of a dependent row
     * task's time. Each element's loads still precede its stores, and the order of accumulation is unchanged.
     */
    private static void elements(ElementwiseSource.Structure run, StringBuilder element, StringBuilder s,
                                 List<Integer> prefetch, Form form) {
        String body = element.toString();
        List<Integer> read = new ArrayList<>();
        for (int k = 0; k < run.inputs().length; k++) {
            String load = "r" + k + "[o[" + k + "]]";
            if (body.contains(load)) {
                read.add(k);
                body = body.replace(load, "p" + k + "[u]");
            }
        }
        int n = run.refCount();
        if (form.resident()) {
            // The registers the row's one load filled (render declares and loads form.read()).
            form.read().addAll(read);
            openResidentLoop(n, form, body.contains("o["), s);
            s.append(body);
            s.append("            }\n            }\n");
            return;
        }
        // In flight per element: each input's value and its 64-bit address, in registers. The row's set-up holds
        // about 6 registers per operand (pointer, column stride, offset); a chunk takes what is left of ~64, so
        // that nothing spills under the worker's 128-register cap (RowFusionCompileTest): a (1, 2048) norm of
        // W7's chain, 4 operands, loads 8 elements of its one input a thread at once, then 4 of its 3 in the last pass.
        int perElement = 0;
        for (int k : read) perElement += 2 + (run.inputs()[k].byteSize() + 3) / 4;
        int budget = 64 - 6 * n, chunk = 1;
        while (chunk * 2 <= CHUNK && chunk * 2 * perElement <= budget) chunk *= 2;
        // Prefetches hold nothing, but their addresses are computed beside the loads': only where registers are left.
        if (budget - chunk * perElement < 4 * prefetch.size()) prefetch = List.of();
        // Rows with one column dim (offsets i * stride, the common case) in chunks; others element by element.
        s.append("        if (ix.single) {\n");
        s.append("        for (long long i0 = team.lane; i0 < ix.len; i0 += ").append(chunk).append("LL * team.size) {\n");
        for (int k : read) {
            s.append("            ").append(OperatorSources.storageType(run.inputs()[k])).append(" p").append(k).append('[')
                    .append(chunk).append("];\n");
        }
        if (!read.isEmpty()) {
            openChunkLoop(n, chunk, true, s);
            for (int k : read) s.append("            p").append(k).append("[u] = r").append(k).append("[o[").append(k).append("]];\n");
            // (a line asked for without waiting; lines fetched after the worker's acquire are current; not on the host)
            if (!prefetch.isEmpty()) s.append("#ifdef __CUDA_ARCH__\n");
            for (int k : prefetch) {
                s.append("            asm volatile(\"prefetch.L1 [%0];\" :: \"l\"(&r").append(k).append("[o[").append(k).append("]]));\n");
            }
            if (!prefetch.isEmpty()) s.append("#endif\n");
            s.append("            }\n            }\n");
        }
        openChunkLoop(n, chunk, body.contains("o["), s);
        s.append(body);
        s.append("            }\n            }\n");
        s.append("        }\n");
        s.append("        } else {\n");
        s.append("        for (long long i = team.lane; i < ix.len; i += team.size) {\n");
        s.append("            long long o[").append(n).append("];\n");
        s.append("            ix.offsets(cs, i, o);\n");
        s.append(element);
        s.append("        }\n");
        s.append("        }\n");
    }

    /**
     * for each u of a resident row's {@code elements} per thread whose element i (thread + u * block size) is in
     * the row, its offsets o (dense: i in every operand; closed by two braces).
     */
    private static void openResidentLoop(int refs, Form form, boolean offsets, StringBuilder s) {
        s.append("            #pragma unroll\n");
        s.append("            for (int u = 0; u < ").append(form.elements()).append("; ++u) {\n");
        s.append(form.warp() ? "            const int i = (int)lane + u * 32;\n"
                : "            const int i = (int)threadIdx.x + u * GPUOS_BLOCK_THREADS;\n");
        s.append("            if (i < len32) {\n");
        if (!offsets) return;
        s.append("            long long o[").append(refs).append("];\n");
        s.append("            #pragma unroll\n");
        s.append("            for (int k = 0; k < ").append(refs).append("; ++k) o[k] = i;\n");
    }

    /** for each u of the chunk whose element i is in the row, its offsets o (closed by two braces). */
    private static void openChunkLoop(int refs, int chunk, boolean offsets, StringBuilder s) {
        s.append("            #pragma unroll\n");
        s.append("            for (int u = 0; u < ").append(chunk).append("; ++u) {\n");
        s.append("            const long long i = i0 + (long long)u * team.size;\n");
        s.append("            if (i < ix.len) {\n");
        if (!offsets) return;
        s.append("            long long o[").append(refs).append("];\n");
        s.append("            #pragma unroll\n");
        s.append("            for (int k = 0; k < ").append(refs).append("; ++k) o[k] = i * cs[k];\n");
    }
}
