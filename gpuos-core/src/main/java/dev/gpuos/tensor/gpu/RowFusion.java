package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.gpu.ElementwiseSource.Member;
import dev.gpuos.tensor.gpu.ElementwiseSource.Source;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.ReduceOp;
import dev.gpuos.tensor.op.SoftmaxNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Row-wise ops fused with their elementwise neighbours into ONE task (Inductor's persistent reductions): a
 * layer_norm, rms_norm, softmax or log_softmax, the elementwise PROLOGUE that computes its input (a residual add,
 * a scale, a mask add) and the elementwise EPILOGUE that consumes its output element for element (the affine
 * {@code * w + b}, an activation, a cast, and whatever else of the next fusion group has the same shape: the
 * next step's residual add). A team (a warp for short rows, the block for long ones) owns a row: it evaluates
 * the prologue on the fly in each statistics pass, so the row op's input never goes through memory, and in the
 * last pass it stores what must be stored and runs the epilogue on the row op's value in a register.
 *
 * <p>What is stored follows the elementwise rules: in a submission every member's output (anyone may read it
 * later), in a captured program only what {@link Intermediates} says someone outside the task can read. So the
 * residual sum is stored when the next step reads it, and the norm's output stays in a register when only its
 * affine reads it.
 *
 * <p>Safety: a fused task evaluates the prologue once per pass, so nothing it stores may be read from memory by
 * the task itself (a stored buffer is never among its memory inputs), and two stored outputs share a buffer
 * only as one view. Shapes: the prologue's and epilogue's shape is the row op's. Statistics and rounding are
 * exactly those of {@code norm.cu} / {@code softmax.cu} (doubles, the member values in their storage types),
 * so fusing never changes a result.
 */
final class RowFusion {
    private RowFusion() {}

    enum Kind {
        LAYER, RMS, SOFTMAX, LOG_SOFTMAX, SUM, MEAN, MAX, MIN;

        /** A reduction: one value per row, so no epilogue (its shape is not the row's). */
        boolean reduces() { return ordinal() >= SUM.ordinal(); }
    }

    /** What every row-fused operator's key starts with. */
    static final String KEY_TAG = "row:";

    static boolean isRowNode(Object item) {
        return item instanceof NormNode || item instanceof SoftmaxNode
                || item instanceof ReduceNode r && r.input().dtype().isFloating() && switch (r.op()) {
                    case SUM, MEAN, MAX, MIN -> true;
                    default -> false;
                };
    }

    /**
     * One fused task, analysed (tensors only, no device memory: the planner's CPU tests build these).
     * Members are numbered globally: prologue {@code 0..P-1}, the row op {@code P}, epilogue {@code P+1..}.
     */
    static final class Fused {
        final List<ElementwiseNode> prologue, epilogue;
        /** The pending elementwise members that run ahead of this task (those not in its prologue). */
        final List<ElementwiseNode> before;
        final OpNode row;
        final Kind kind;
        final DType dtype;
        /** Memory inputs in first-use order; {@code param[i]}: a norm weight or bias (trailing dims only). */
        final List<Tensor> inputs = new ArrayList<>();
        final List<Boolean> param = new ArrayList<>();
        final List<Source[]> sources = new ArrayList<>();   // per elementwise member (prologue, then epilogue)
        final List<int[]> paramSlots = new ArrayList<>();
        final List<Long> args = new ArrayList<>();
        Source rowInput;
        int weight = -1, bias = -1;
        /** Per global member: the operand its output is stored through, or -1 (a register only). */
        final int[] outRef;
        final int stored;
        /** Coalesced dims: {@code dims[0]} the shape (row dims, then column dims), {@code dims[1 + k]} operand k's strides. */
        long[][] dims;
        int rowDims;
        final boolean blockTeams;
        final long rows, len;

        /**
         * @param pending the elementwise members pending before the row op, in the order they run; {@code prologue}
         *                is a suffix of it and the rest ({@link #before}) runs ahead of this task
         */
        private Fused(List<ElementwiseNode> pending, List<ElementwiseNode> prologue, OpNode row,
                      List<ElementwiseNode> epilogue, Intermediates im) {
            this.before = pending.subList(0, pending.size() - prologue.size());
            this.prologue = List.copyOf(prologue);
            this.epilogue = List.copyOf(epilogue);
            this.row = row;
            Tensor x = rowIn(row), y = row.output();
            this.dtype = x.dtype();
            int rank = x.rank();
            int[] order;
            int lead;
            switch (row) {
                case NormNode n -> {
                    kind = n.kind() == NormNode.Kind.LAYER ? Kind.LAYER : Kind.RMS;
                    order = Dims.range(0, rank);
                    lead = rank - n.normalizedDims();
                }
                case SoftmaxNode n -> {
                    kind = n.log() ? Kind.LOG_SOFTMAX : Kind.SOFTMAX;
                    order = new int[rank];
                    for (int d = 0, p = 0; d < rank; d++) if (d != n.dim()) order[p++] = d;
                    order[rank - 1] = n.dim();
                    lead = rank - 1;
                }
                case ReduceNode n -> {
                    kind = switch (n.op()) {
                        case SUM -> Kind.SUM;
                        case MEAN -> Kind.MEAN;
                        case MAX -> Kind.MAX;
                        case MIN -> Kind.MIN;
                        default -> throw new IllegalArgumentException(n.opName() + " does not fuse");
                    };
                    boolean[] reduced = new boolean[rank];
                    for (int a : n.axes()) reduced[a] = true;
                    order = new int[rank];
                    int q = 0;
                    for (int d = 0; d < rank; d++) if (!reduced[d]) order[q++] = d;
                    lead = q;
                    for (int d = 0; d < rank; d++) if (reduced[d]) order[q++] = d;
                }
                default -> throw new IllegalArgumentException(row.opName() + " is not a row op");
            }
            // Argument words: the mode word, the eps of a norm, then the members' scalars and parameters.
            args.add(0L);
            if (row instanceof NormNode n) args.add(Double.doubleToRawLongBits(n.eps()));
            int p = prologue.size();
            for (int m = 0; m < p; m++) addMember(m, prologue.get(m));
            rowInput = source(p, x);
            if (row instanceof NormNode n) {
                if (n.weight() != null) weight = paramInput(n.weight());
                if (n.bias() != null) bias = paramInput(n.bias());
            }
            for (int m = 0; m < epilogue.size(); m++) addMember(p + 1 + m, epilogue.get(m));
            boolean[] keep = stores(im);
            outRef = new int[keep.length];
            int k = inputs.size();
            for (int m = 0; m < keep.length; m++) outRef[m] = keep[m] ? k++ : -1;
            stored = k - inputs.size();

            // Every operand viewed over the row op's shape in its dim order, row dims then column dims.
            long[] shape = Dims.pick(x.shape(), order);
            List<long[]> strides = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                Tensor t = inputs.get(i);
                strides.add(param.get(i) ? Dims.concat(new long[lead], t.strides()) : Dims.pick(t.strides(), order));
            }
            for (int m = 0; m < keep.length; m++) {
                if (!keep[m]) continue;
                strides.add(m == p && row instanceof ReduceNode ? reducedOutput(shape, lead) : Dims.pick(member(m).strides(), order));
            }
            int n = strides.size();
            long[][] rowPart = new long[n][], colPart = new long[n][];
            for (int i = 0; i < n; i++) {
                rowPart[i] = Arrays.copyOfRange(strides.get(i), 0, lead);
                colPart[i] = Arrays.copyOfRange(strides.get(i), lead, rank);
            }
            long[][] r = Dims.coalesce(Arrays.copyOfRange(shape, 0, lead), rowPart);
            long[][] c = Dims.coalesce(Arrays.copyOfRange(shape, lead, rank), colPart);
            rowDims = r[0].length;
            dims = new long[n + 1][];
            for (int i = 0; i <= n; i++) dims[i] = Dims.concat(r[i], c[i]);
            rows = Dims.product(r[0]);
            len = Dims.product(c[0]);
            blockTeams = switch (row) {
                case NormNode nn -> FamilyTasks.blockTeams(rows, len);
                case ReduceNode rn -> FamilyTasks.reduceBlockTeams(rows, len);
                default -> len >= FamilyTasks.BLOCK_ROW;
            };
            args.set(0, (long) rowDims | (blockTeams ? 256L : 0L));
        }

        /**
         * A reduction's output (contiguous, one element per row, in row order) viewed over the row op's shape:
         * its row dims' strides, zero along the reduced dims, so each row's team finds its element at the row base.
         */
        private static long[] reducedOutput(long[] shape, int lead) {
            long[] st = new long[shape.length];
            long step = 1;
            for (int d = lead - 1; d >= 0; d--) {
                st[d] = step;
                step *= shape[d];
            }
            return st;
        }

        /** The tensor global member {@code m} writes. */
        Tensor member(int m) {
            int p = prologue.size();
            return m < p ? prologue.get(m).output() : m == p ? row.output() : epilogue.get(m - p - 1).output();
        }

        int memberCount() {
            return prologue.size() + 1 + epilogue.size();
        }

        int refCount() {
            return inputs.size() + stored;
        }

        boolean fits() {
            return refCount() <= ElementwiseKernels.MAX_TABLE_REFS && args.size() <= ElementwiseKernels.MAX_ARGS
                    && dims[0].length <= ElementwiseKernels.MAX_DIMS && safe();
        }

        private void addMember(int m, ElementwiseNode node) {
            Source[] src = new Source[node.operandCount()];
            for (int k = 0; k < src.length; k++) {
                if (node.operand(k) instanceof Scalar s) {
                    src[k] = Source.arg(args.size());
                    args.add(ElementwiseKernels.scalarBits(s, node.operandType(), node.computeType()));
                } else {
                    src[k] = source(m, (Tensor) node.operand(k));
                }
            }
            sources.add(src);
            String template = node.op().cudaExpression(node.computeType());
            int[] slots = {-1, -1};
            double[] params = node.params();
            for (int q = 0; q < 2; q++) {
                if (template != null && template.contains("p" + q)) {
                    slots[q] = args.size();
                    args.add(Double.doubleToRawLongBits(q < params.length ? params[q] : 0));
                }
            }
            paramSlots.add(slots);
        }

        /** Where global member {@code before} finds {@code t}: the last earlier member that wrote it, else memory. */
        private Source source(int before, Tensor t) {
            for (int j = before - 1; j >= 0; j--) {
                if (ElementwiseKernels.sameView(member(j), t)) return Source.member(j);
            }
            for (int i = 0; i < inputs.size(); i++) {
                if (!param.get(i) && ElementwiseKernels.sameView(inputs.get(i), t)) return Source.input(i);
            }
            inputs.add(t);
            param.add(false);
            return Source.input(inputs.size() - 1);
        }

        private int paramInput(Tensor t) {
            inputs.add(t);
            param.add(true);
            return inputs.size() - 1;
        }

        /**
         * Which members store their output: all without intermediates; in a capture those whose buffer someone
         * outside this task touches, or that this task reads from memory. At least one operand stays, so the
         * task has a shape to walk.
         */
        private boolean[] stores(Intermediates im) {
            int n = memberCount();
            boolean[] keep = new boolean[n];
            Arrays.fill(keep, true);
            if (im.isEmpty()) return keep;
            OpNode firstNode = prologue.isEmpty() ? row : prologue.getFirst();
            OpNode lastNode = epilogue.isEmpty() ? row : epilogue.getLast();
            int first = im.position(firstNode), last = im.position(lastNode);
            boolean any = !inputs.isEmpty();
            for (int m = 0; m < n; m++) {
                Storage s = member(m).storage();
                boolean readFromMemory = false;
                for (Tensor t : inputs) readFromMemory |= t.storage() == s;
                keep[m] = readFromMemory || !im.unstored(s, first, last);
                any |= keep[m];
            }
            if (!any) keep[n - 1] = true;
            return keep;
        }

        /**
         * Nothing stored is read from memory by this task (it evaluates its prologue once per pass, so a store
         * in the last pass must not change what an earlier pass, or another row's team, reads), and two stored
         * outputs in one buffer are one view (one writer per element).
         */
        private boolean safe() {
            for (int m = 0; m < outRef.length; m++) {
                if (outRef[m] < 0) continue;
                Tensor out = member(m);
                for (Tensor in : inputs) if (in.storage() == out.storage()) return false;
                for (int j = 0; j < m; j++) {
                    if (outRef[j] >= 0 && member(j).storage() == out.storage()
                            && !member(j).layout().equals(out.layout())) return false;
                }
            }
            return true;
        }
    }

    /** The tensor the row op reads. */
    static Tensor rowIn(OpNode row) {
        return switch (row) {
            case NormNode n -> n.input();
            case SoftmaxNode n -> n.input();
            case ReduceNode n -> n.input();
            default -> throw new IllegalArgumentException(row.opName() + " is not a row op");
        };
    }

    /**
     * {@code pending} with the members of component {@code c} (the row input's data flow) moved last, the others
     * keeping their order before them, so that a prologue (a suffix) holds that component only. Members of other
     * components (independent work recorded in between, e.g. other threads' items) then run as an elementwise task
     * of their own instead of riding in the row task, where every interleaving was a new operator structure to
     * compile: 16 threads recording small independent items compiled 215 operators on the H100 where 26 did before
     * row fusion, and each compile is a generation build. {@code pending} itself when the component is last
     * already, or when a member that would move shares a buffer with the component (then the program's order
     * stands).
     */
    private static List<ElementwiseNode> componentLast(List<ElementwiseNode> pending, int[] component, int c) {
        int n = pending.size(), first = -1;
        boolean interleaved = false;
        for (int j = 0; j < n; j++) {
            if (component[j] == c) {
                if (first < 0) first = j;
            } else if (first >= 0) {
                interleaved = true;
            }
        }
        if (!interleaved) return pending;
        // Members outside the component that come after its first member move before it: only if they share no
        // buffer with it (a fusion group orders same-element reads and writes within one task; split, it must not).
        for (int j = first; j < n; j++) {
            if (component[j] == c) continue;
            for (int k = first; k < n; k++) {
                if (component[k] == c && sharesBuffer(pending.get(j), pending.get(k))) return pending;
            }
        }
        List<ElementwiseNode> out = new ArrayList<>(n);
        for (int j = 0; j < n; j++) if (component[j] != c) out.add(pending.get(j));
        for (int j = 0; j < n; j++) if (component[j] == c) out.add(pending.get(j));
        return out;
    }

    private static boolean sharesBuffer(ElementwiseNode a, ElementwiseNode b) {
        Storage wa = a.output().storage(), wb = b.output().storage();
        if (wa == wb) return true;
        for (Storage s : a.reads()) if (s == wb) return true;
        for (Storage s : b.reads()) if (s == wa) return true;
        return false;
    }

    /**
     * The best fused task around {@code row}: the longest prologue that fits, chosen among suffixes of {@code
     * pending} (consecutive elementwise members ending right before the row op; the producer's data-flow component
     * moved last where that is safe, see {@link #componentLast}) that contain the producer of its input, then the
     * longest prefix of {@code after} (the members right after it) that still fits. Null if neither prologue nor
     * epilogue fuses (the row op alone keeps its hand-written family operator).
     */
    static Fused fuse(List<ElementwiseNode> pending, OpNode row, List<ElementwiseNode> after, Intermediates im) {
        Tensor x = rowIn(row);
        long[] shape = x.shape();
        List<ElementwiseNode> before = pending;
        // Prologue candidates, longest first: the producer's whole data-flow component, then the producer onwards.
        List<List<ElementwiseNode>> prologues = new ArrayList<>(2);
        if (!pending.isEmpty() && Arrays.equals(pending.getFirst().output().shape(), shape)) {
            int producer = -1;
            for (int j = pending.size() - 1; j >= 0 && producer < 0; j--) {
                if (ElementwiseKernels.sameView(pending.get(j).output(), x)) producer = j;
            }
            if (producer >= 0) {
                int[] component = ElementwiseKernels.components(pending);
                int c = component[producer], start = producer;
                for (int j = 0; j < producer; j++) {
                    if (component[j] == c) {
                        start = j;
                        break;
                    }
                }
                before = componentLast(pending, component, c);
                if (before != pending) {  // the component is the suffix now: the producer moved with it
                    int size = 0, from = 0;
                    for (int j = 0; j < pending.size(); j++) {
                        if (component[j] != c) continue;
                        if (j < producer) from++;
                        size++;
                    }
                    start = before.size() - size;
                    producer = start + from;
                }
                prologues.add(before.subList(start, before.size()));
                if (start != producer) prologues.add(before.subList(producer, before.size()));
            }
        }
        boolean epilogue = !after.isEmpty() && !(row instanceof ReduceNode)
                && Arrays.equals(after.getFirst().output().shape(), row.output().shape());
        // The usual case first: a prologue candidate with the whole candidate epilogue (one analysis).
        if (epilogue) {
            Fused all = new Fused(before, prologues.isEmpty() ? List.of() : prologues.getFirst(), row, after, im);
            if (all.fits()) return all;
        }
        List<ElementwiseNode> pro = List.of();
        Fused best = null;
        for (List<ElementwiseNode> candidate : prologues) {
            Fused f = new Fused(before, candidate, row, List.of(), im);
            if (f.fits()) {
                pro = candidate;
                best = f;
                break;
            }
        }
        if (epilogue) {
            for (int e = 1; e <= after.size(); e++) {
                Fused f = new Fused(before, pro, row, after.subList(0, e), im);
                if (!f.fits()) break;
                best = f;
            }
        }
        return best;
    }

    /** The task of a fused row op (its tensors must be on the GPU). */
    static KernelTask task(Fused f) {
        List<GpuView> refs = new ArrayList<>(f.refCount());
        int k = 1;
        for (Tensor t : f.inputs) refs.add(GpuView.of(t, f.dims[0], f.dims[k++]));
        for (int m = 0; m < f.memberCount(); m++) if (f.outRef[m] >= 0) refs.add(GpuView.of(f.member(m), f.dims[0], f.dims[k++]));
        int[] tiling = FamilyTasks.rowTiling(f.rows, f.blockTeams);
        long[] args = new long[f.args.size()];
        for (int i = 0; i < args.length; i++) args[i] = f.args.get(i);
        List<OpNode> nodes = new ArrayList<>(f.memberCount());
        nodes.addAll(f.prologue);
        nodes.add(f.row);
        nodes.addAll(f.epilogue);
        return new KernelTask(operator(f), tiling[1], tiling[0], refs, args, nodes, GpuBackend.MIN_SMEM_BYTES);
    }

    private static final ConcurrentHashMap<String, OperatorStructure> OPERATORS = new ConcurrentHashMap<>();

    static OperatorStructure operator(Fused f) {
        String key = structureKey(f);
        OperatorStructure known = OPERATORS.get(key);
        return known != null ? known : OPERATORS.computeIfAbsent(key, k -> newOperator(k, f));
    }

    /** The operator's CUDA source (tests). */
    static String source(Fused f) {
        return operator(f).source();
    }

    private static OperatorStructure newOperator(String key, Fused f) {
        RowFusedSource.Structure structure = structure(f);
        StringBuilder name = new StringBuilder("row");
        for (ElementwiseNode n : f.prologue) name.append('_').append(n.opName());
        name.append('_').append(f.row.opName());
        for (ElementwiseNode n : f.epilogue) name.append('_').append(n.opName());
        return new OperatorStructure(KEY_TAG + key, name.toString(), ElementwiseKernels.PREFIX,
                () -> RowFusedSource.render(structure));
    }

    /** The tensor-free description the renderer reads (captures no tensor). */
    static RowFusedSource.Structure structure(Fused f) {
        int p = f.prologue.size();
        Member[] members = new Member[f.memberCount()];
        for (int m = 0; m < members.length; m++) {
            if (m == p) {
                // The row op's value: no expression of its own; its dtype and store slot are what members read.
                members[m] = new Member(ElementwiseOp.CAST, DType.F64, f.dtype, f.dtype, new Source[0], new int[]{-1, -1},
                        f.outRef[m]);
                continue;
            }
            int e = m < p ? m : m - 1;
            ElementwiseNode n = m < p ? f.prologue.get(m) : f.epilogue.get(m - p - 1);
            members[m] = new Member(n.op(), n.computeType(), n.operandType(), n.output().dtype(), f.sources.get(e).clone(),
                    f.paramSlots.get(e).clone(), f.outRef[m]);
        }
        DType[] inputs = new DType[f.inputs.size()];
        for (int i = 0; i < inputs.length; i++) inputs[i] = f.inputs.get(i).dtype();
        int resident = residentElements(f);
        return new RowFusedSource.Structure(f.kind, new ElementwiseSource.Structure(inputs, members), p, f.rowInput,
                f.weight, f.bias, resident, resident > 0 && !f.blockTeams, resident > 0 && rowRegisters);
    }

    /**
     * {@code -Dgpuos.fusion.rowRegisters=true}: rows a WARP holds in registers get the resident form too (one load
     * of every input, reductions by shuffles alone: no barrier), and a block's resident reduction combines the warps'
     * values with every shared-memory read in flight at once. Off by default until a GPU run compares them
     * (RowChainLegs, NormChainBench, the decode step; bench/row_registers_ab.sh); read at planning, and part of the
     * operator's key. Values are unchanged (same per-lane order, same combining order), see {@link RowFusedSource}.
     */
    static volatile boolean rowRegisters = rowRegistersProperty(System.getProperty("gpuos.fusion.rowRegisters"));

    static boolean rowRegistersProperty(String value) {
        if (value == null || value.equals("false")) return false;
        if (value.equals("true")) return true;
        throw new IllegalArgumentException("-Dgpuos.fusion.rowRegisters must be true or false, not '" + value + "'");
    }

    /**
     * Elements per thread of the RESIDENT form ({@link RowFusedSource}) for this task, 0 for the chunked one: a
     * block team over rows of one dense column dim (stride 1 in every operand the row walks; a reduction's own
     * output is written once per row) short enough that each thread holds its share of every input in
     * registers. Its operator is compiled for that form alone: both forms in one function spilled under the
     * worker's 128-register cap where neither does alone (RowFusionCompileTest). Measured on the H100 (GPU check
     * chain-4-1, RowChainLegs 2048, one call): W7's row operator 2.66 us resident against 4.93 chunked (F32; BF16
     * 2.94 / 5.15), a dependent link 3.92 against 5.81 us. With {@link #rowRegisters}, a WARP team's row too (up to
     * {@link RowFusedSource#WARP_RESIDENT} elements a lane: a short row's softmax or norm, 8 rows a tile).
     */
    static int residentElements(Fused f) {
        boolean warp = !f.blockTeams;
        if ((warp && !rowRegisters) || f.dims[0].length - f.rowDims != 1) return 0;
        DType[] inputs = new DType[f.inputs.size()];
        for (int i = 0; i < inputs.length; i++) inputs[i] = f.inputs.get(i).dtype();
        int r = RowFusedSource.residentElements(inputs, warp ? RowFusedSource.WARP_RESIDENT : RowFusedSource.CHUNK);
        if (r == 0 || f.len > (long) r * (warp ? 32 : Layouts.BLOCK_THREADS)) return 0;
        // A warp's row holds the power of two that covers it, not the most its inputs allow: a (512, 64) softmax
        // unrolls 2 elements a lane, not 32 guarded ones (fewer registers, a smaller frame under the call's ABI).
        while (warp && r > 1 && f.len <= (long) (r / 2) * 32) r /= 2;
        int reductionOut = f.kind.reduces() ? f.outRef[f.prologue.size()] : -1;
        for (int k = 0; k + 1 < f.dims.length; k++) {
            if (k != reductionOut && f.dims[1 + k][f.rowDims] != 1) return 0;
        }
        return r;
    }

    /** Everything the renderer reads, compactly (equal keys render equal sources). */
    private static String structureKey(Fused f) {
        StringBuilder k = new StringBuilder(64 + 16 * f.memberCount());
        k.append(f.kind.ordinal()).append((char) ('A' + f.dtype.ordinal())).append('r').append(residentElements(f))
                .append(rowRegisters && residentElements(f) > 0 ? (f.blockTeams ? "R|" : "RW|") : "|");
        for (int i = 0; i < f.inputs.size(); i++) {
            k.append((char) ('A' + f.inputs.get(i).dtype().ordinal())).append(f.param.get(i) ? "w" : "");
        }
        k.append('|').append(f.rowInput.kind()).append(f.rowInput.index()).append('w').append(f.weight).append('b')
                .append(f.bias).append('o').append(f.outRef[f.prologue.size()]).append('|');
        int p = f.prologue.size();
        for (int m = 0; m < f.memberCount(); m++) {
            if (m == p) {
                k.append("R;");
                continue;
            }
            int e = m < p ? m : m - 1;
            ElementwiseNode node = m < p ? f.prologue.get(m) : f.epilogue.get(m - p - 1);
            k.append(node.op().ordinal()).append(':').append((char) ('A' + node.computeType().ordinal()))
                    .append((char) ('A' + node.operandType().ordinal()))
                    .append((char) ('A' + node.output().dtype().ordinal()));
            for (Source src : f.sources.get(e)) k.append(src.kind()).append(src.index());
            for (int slot : f.paramSlots.get(e)) k.append('p').append(slot);
            k.append('o').append(f.outRef[m]).append(';');
        }
        return k.toString();
    }
}
