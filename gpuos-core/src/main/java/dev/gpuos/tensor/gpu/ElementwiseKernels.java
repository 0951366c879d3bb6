package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.gpu.ElementwiseSource.Source;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Elementwise runs as GpuOS operators. A {@link FusionGroup} is cut into runs that fit one task (at most 4
 * operands: memory inputs plus one output per stored member; at most 6 scalar words: scalar operands and op
 * parameters). Every member's result is stored, except in a captured program where {@link Intermediates} says
 * nobody outside the run can read it: then later members take it from a register and it never reaches memory,
 * so a dependent chain of one input and one output takes one task per fusion group. Each run becomes one task
 * whose operator source depends only on the run's structure (ops, dtypes, which operand comes from where, which
 * members are stored); shapes, strides, offsets and scalar values travel in the task, so one compiled operator
 * serves every shape and every scalar value.
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
    /**
     * Most operands of one task when they travel in an operand table (see {@link OperandTables}): a run whose
     * members are connected by data flow (a recurrent step: several inputs combined into a few results) may
     * grow past the descriptor's 4 inline operands up to this bound, so it stays one task instead of one per
     * three members. Independent members are still cut at 4 operands: merging them saves no dependent hop, and
     * a table costs an upload per submission. 16 keeps the generated walk free of spills (a table walk holds one
     * data pointer and one offset per operand in registers; ElementwisePackCompileTest).
     */
    static final int MAX_TABLE_REFS = 16;
    /** Elements per tile at least: small tensors are one tile, large ones at most 4096 tiles. */
    static final int MIN_TILE = 1024;
    /** Bytes the widest operand of a run moves per pack access: one 16-byte (v4.b32 / v2.b64) load or store. */
    static final int PACK_BYTES = 16;
    /** What every elementwise operator source starts with: the support headers and the op table's helpers. */
    static final String PREFIX = OperatorSources.HEADER + OperatorSources.WALK + ElementwiseOp.CUDA_PRELUDE;

    /**
     * One run analysed: its memory inputs, operand sources, argument words, which members store their output
     * (and into which operand) and coalesced dims. Per task on the streamed path, so flat arrays (a member's
     * sources and parameter slots are a range of one array each) and no lists; the streamed path reuses one
     * per thread ({@link #SCRATCH}), whose arrays only grow. The cut ({@link #cut}) grows it member by member
     * ({@link #add}) and takes a member back when the run would no longer fit one task, so each node is
     * analysed once: the cut's operand counts are the analysis's own.
     */
    static final class Run {
        /** The members are {@code group[first, first + count)}. */
        private List<ElementwiseNode> group;
        private int first;
        int count;
        private Intermediates intermediates;
        Tensor[] inputs = new Tensor[4];
        int inputCount;
        /** Member m's operand sources: {@code sources[sourceStart[m] .. sourceStart[m + 1])}. */
        Source[] sources = new Source[8];
        int[] sourceStart = new int[5];
        /** Member m's two parameter slots at {@code 2m}, {@code 2m + 1} (-1: the expression reads none). */
        int[] paramSlots = new int[8];
        /** Argument words, {@code argCount} of them (a run may need more than a task takes: fitsOneTask says). */
        long[] args = new long[MAX_ARGS];
        int argCount;
        /** Per member: the operand its output is stored through, or -1 when it stays in a register. */
        int[] outRef = new int[4];
        int stored;
        long[][] dims;
        /** The dense dims this run last made (see {@link #dims()}). */
        private long[][] lastDense;
        /** What {@link #add} found before the member it added: {@link #retract} goes back to it. */
        private int inputsBefore, argsBefore;

        Run(List<ElementwiseNode> members, Intermediates intermediates) {
            analyse(members, intermediates);
        }

        Run() {}

        /** Forgets the run's tensors (a reused Run must not keep buffers reachable). */
        void clear() {
            Arrays.fill(inputs, 0, inputCount, null);
            inputCount = 0;
            group = null;
            intermediates = null;
            dims = null;
        }

        ElementwiseNode member(int m) {
            return group.get(first + m);
        }

        /** The members, as a view of the group. */
        List<ElementwiseNode> members() {
            return group.subList(first, first + count);
        }

        /** The whole analysis of {@code members} (every one added, then {@link #finish}). */
        Run analyse(List<ElementwiseNode> members, Intermediates intermediates) {
            begin(members, 0, intermediates);
            for (int m = 0; m < members.size(); m++) add();
            finish();
            return this;
        }

        /** An empty run whose members will be {@code group[first, ...)}. */
        void begin(List<ElementwiseNode> group, int first, Intermediates intermediates) {
            Arrays.fill(inputs, 0, inputCount, null);
            this.group = group;
            this.first = first;
            this.intermediates = intermediates;
            count = 0;
            inputCount = 0;
            argCount = 0;
            sourceStart[0] = 0;
            dims = null;
        }

        /**
         * Adds the next node of the group as a member: its operands become sources (an earlier member's output
         * element for element, a memory input, new or known, or an argument word), and the parameters its
         * expression reads argument words.
         */
        void add() {
            int m = count;
            ElementwiseNode node = group.get(first + m);
            int operandCount = node.operandCount();
            inputsBefore = inputCount;
            argsBefore = argCount;
            if (sourceStart.length < m + 2) sourceStart = Arrays.copyOf(sourceStart, 2 * m + 2);
            if (paramSlots.length < 2 * m + 2) paramSlots = Arrays.copyOf(paramSlots, 4 * m + 4);
            int base = sourceStart[m];
            if (sources.length < base + operandCount) sources = Arrays.copyOf(sources, 2 * (base + operandCount));
            for (int k = 0; k < operandCount; k++) {
                Operand o = node.operand(k);
                if (o instanceof Scalar s) {
                    sources[base + k] = Source.arg(argCount);
                    addArg(scalarBits(s, node.operandType(), node.computeType()));
                } else {
                    Tensor t = (Tensor) o;
                    int producer = producer(m, t);
                    sources[base + k] = producer >= 0 ? Source.member(producer) : Source.input(inputIndex(t));
                }
            }
            sourceStart[m + 1] = base + operandCount;
            int read = node.op().paramsRead(node.computeType());
            paramSlots[2 * m] = paramSlots[2 * m + 1] = -1;
            if (read != 0) {
                double[] params = node.params();
                for (int p = 0; p < 2; p++) {
                    if ((read & (1 << p)) != 0) {
                        paramSlots[2 * m + p] = argCount;
                        addArg(Double.doubleToRawLongBits(p < params.length ? params[p] : 0));
                    }
                }
            }
            count = m + 1;
        }

        /**
         * A lower bound of {@link #refsSoFar} once the group's next node is added, found without adding it: its
         * output, and each distinct tensor it reads that is no input and no member's output of the run (the
         * identity {@link #add} uses). With intermediates, a member's output may stop being stored: no bound.
         */
        int refsWithNextAtLeast() {
            if (!intermediates.isEmpty()) return 0;
            ElementwiseNode next = group.get(first + count);
            int fresh = 0;
            operands:
            for (int k = 0, n = next.inputCount(); k < n; k++) {
                Tensor t = next.input(k);
                for (int i = 0; i < inputCount; i++) if (sameView(inputs[i], t)) continue operands;
                for (int m = 0; m < count; m++) if (sameView(member(m).output(), t)) continue operands;
                for (int j = 0; j < k; j++) if (sameView(next.input(j), t)) continue operands;
                fresh++;
            }
            return inputCount + fresh + count + 1;
        }

        /** Takes back the member {@link #add} just added (it did not fit); the run is as it was before. */
        void retract() {
            Arrays.fill(inputs, inputsBefore, inputCount, null);
            inputCount = inputsBefore;
            argCount = argsBefore;
            count--;
        }

        /**
         * Operands a task of the members so far needs: the memory inputs and the outputs it stores (every one,
         * unless {@link #stores} keeps fewer: a captured program's intermediates).
         */
        int refsSoFar() {
            if (intermediates.isEmpty()) return inputCount + count;
            int n = inputCount;
            for (boolean keep : stores(members(), inputList(), intermediates)) if (keep) n++;
            return n;
        }

        /** Which members store their output, and the coalesced dims: the run is complete. */
        void finish() {
            if (outRef.length < count) outRef = new int[2 * count];
            int k = inputCount;
            if (intermediates.isEmpty()) {
                for (int m = 0; m < count; m++) outRef[m] = k++;
            } else {
                boolean[] keep = stores(members(), inputList(), intermediates);
                for (int m = 0; m < count; m++) outRef[m] = keep[m] ? k++ : -1;
            }
            stored = k - inputCount;
            dims = dims();
        }

        /** Coalesced dims of the operands (inputs, then stored outputs); dense operands share one stride array. */
        private long[][] dims() {
            Layout out = member(0).output().layout();
            long numel = out.numel();
            int refs = inputCount + stored;
            boolean dense = numel > 1;
            for (int i = 0; i < inputCount && dense; i++) dense = inputs[i].layout().isContiguous();
            for (int m = 0; m < count && dense; m++) {
                dense = outRef[m] < 0 || member(m).output().layout().isContiguous();
            }
            if (dense) {
                // What Dims.coalesce makes of row-major operands of one shape: one dim, stride 1 each. Never
                // written (descriptors copy them), so a streamed run of one shape shares one set with the last.
                long[][] d = lastDense;
                if (d != null && d.length == refs + 1 && d[0][0] == numel) return d;
                d = new long[refs + 1][];
                d[0] = new long[]{numel};
                for (int r = 1; r <= refs; r++) d[r] = UNIT_STRIDE;
                return lastDense = d;
            }
            long[][] strides = new long[refs][];
            int s = 0;
            for (int i = 0; i < inputCount; i++) strides[s++] = inputs[i].strides();
            for (int m = 0; m < count; m++) if (outRef[m] >= 0) strides[s++] = member(m).output().strides();
            return Dims.coalesce(out.shape(), strides);
        }

        List<Tensor> inputList() {
            return java.util.Arrays.asList(inputs).subList(0, inputCount);
        }

        Source[] sourcesOf(int m) {
            return Arrays.copyOfRange(sources, sourceStart[m], sourceStart[m + 1]);
        }

        int[] paramSlotsOf(int m) {
            return new int[]{paramSlots[2 * m], paramSlots[2 * m + 1]};
        }

        private void addArg(long word) {
            if (argCount == args.length) args = Arrays.copyOf(args, argCount * 2);
            args[argCount++] = word;
        }

        int refCount() { return inputCount + stored; }

        boolean fitsOneTask() {
            return fitsOneTask(MAX_TABLE_REFS);
        }

        boolean fitsOneTask(int maxRefs) {
            return refCount() <= maxRefs && argCount <= MAX_ARGS && dims[0].length <= MAX_DIMS;
        }

        /** The last earlier member whose output {@code t} is, element for element, or -1. */
        private int producer(int before, Tensor t) {
            for (int j = before - 1; j >= 0; j--) if (sameView(member(j).output(), t)) return j;
            return -1;
        }

        private int inputIndex(Tensor t) {
            for (int i = 0; i < inputCount; i++) if (sameView(inputs[i], t)) return i;
            if (inputCount == inputs.length) inputs = Arrays.copyOf(inputs, inputCount * 2);
            inputs[inputCount] = t;
            return inputCount++;
        }

        /** The structure code's words in order (see {@link Run#code}), each handed to {@link #word}. */
        private void emitCode() {
            word((long) inputCount << 32 | count);
            for (int i = 0; i < inputCount; i++) word(inputs[i].dtype().ordinal());
            for (int m = 0; m < count; m++) {
                ElementwiseNode node = member(m);
                int from = sourceStart[m], to = sourceStart[m + 1];
                word(node.op().ordinal() | (long) node.computeType().ordinal() << 16
                        | (long) node.operandType().ordinal() << 24 | (long) node.output().dtype().ordinal() << 32
                        | (outRef[m] < 0 ? 1L << 40 : 0) | (long) (to - from) << 48);
                word((paramSlots[2 * m] + 1L) << 32 | (paramSlots[2 * m + 1] + 1L));
                for (int k = from; k < to; k++) word((long) sources[k].kind() << 32 | sources[k].index());
            }
        }

        // The code is walked once per task into a scratch array (reused with the run); a lookup then compares
        // arrays, and only a new structure copies it.
        private long[] code = new long[16];
        private int codeWords;
        /**
         * The entry this run's last lookup found: a streamed loop's consecutive tasks mostly share a structure,
         * and comparing with it first skips hashing (the hash is a dependent multiply per word).
         */
        Interned lastFound;

        private void word(long w) {
            if (codeWords == code.length) code = Arrays.copyOf(code, codeWords * 2);
            code[codeWords++] = w;
        }

        /** Walks the run into {@link #code}. */
        void emit() {
            codeWords = 0;
            emitCode();
        }

        /** The hash of {@link #code} (after {@link #emit}). */
        long hash() {
            long h = HASH_SEED;
            for (int i = 0; i < codeWords; i++) h = mix(h, code[i]);
            return h;
        }

        /** The hash of {@link #code}; walks the run, so it comes first. */
        long codeHash() {
            emit();
            return hash();
        }

        /** Whether {@code interned} is this run's structure code (after {@link #codeHash}). */
        boolean codeEquals(long[] interned) {
            return Arrays.equals(code, 0, codeWords, interned, 0, interned.length);
        }

        /**
         * Everything {@link #structureKey} says, as words: the operand count and dtypes, then per member its op,
         * compute, operand and output dtypes, whether it is stored, where each operand comes from, its parameter
         * slots. Equal codes have equal keys.
         */
        long[] code() {
            codeHash();
            return Arrays.copyOf(code, codeWords);
        }
    }

    private static final long[] NO_ARGS = {};
    /** The stride array of every dense coalesced operand (never written: TaskWriter.ref copies it). */
    private static final long[] UNIT_STRIDE = {1};

    /**
     * Which members of a run store their output: every one, unless {@code intermediates} says the output's
     * buffer is touched by no node outside the run and no member reads that buffer from memory (it is not among
     * the run's {@code inputs}). A run without inputs stores its last member's buffer, so that it has an
     * operand to tile over (a program that computes something nobody reads).
     */
    static boolean[] stores(List<ElementwiseNode> members, List<Tensor> inputs, Intermediates intermediates) {
        boolean[] keep = new boolean[members.size()];
        Arrays.fill(keep, true);
        if (intermediates.isEmpty()) return keep;
        int first = intermediates.position(members.getFirst()), last = intermediates.position(members.getLast());
        boolean any = !inputs.isEmpty();
        for (int m = 0; m < members.size(); m++) {
            Storage s = members.get(m).output().storage();
            boolean readFromMemory = false;
            for (Tensor t : inputs) readFromMemory |= t.storage() == s;
            keep[m] = readFromMemory || !intermediates.unstored(s, first, last);
            any |= keep[m];
        }
        if (!any) {
            Storage s = members.getLast().output().storage();
            for (int m = 0; m < members.size(); m++) keep[m] = members.get(m).output().storage() == s;
        }
        return keep;
    }

    /** The tasks of a fusion group, in order; every member's output stored. */
    static List<KernelTask> tasks(FusionGroup group) {
        return tasks(group, Intermediates.NONE);
    }

    /** The tasks of a fusion group, in order, storing only what {@link #stores} keeps; 4-operand runs. */
    static List<KernelTask> tasks(FusionGroup group, Intermediates intermediates) {
        return tasks(group, intermediates, false);
    }

    /** As above; {@code wide}: connected members may share one task of up to {@link #MAX_TABLE_REFS} operands. */
    static List<KernelTask> tasks(FusionGroup group, Intermediates intermediates, boolean wide) {
        List<KernelTask> out = new ArrayList<>();
        cut(group.nodes(), intermediates, wide, run -> out.add(task(run, List.copyOf(run.members()))));
        return out;
    }

    /** The plan's item of an analysed run (the cut's scratch): its members copied and its task made. */
    static TaskPlan.Run item(Run run) {
        List<ElementwiseNode> members = List.copyOf(run.members());
        return new TaskPlan.Run(members, task(run, members));
    }

    /** A fusion group cut greedily into runs that each fit one task (see {@link #cut}), as lists of members. */
    static List<List<ElementwiseNode>> runs(FusionGroup group) {
        return runs(group, Intermediates.NONE);
    }

    /**
     * The cut when only what {@link #stores} keeps counts as an output operand. Whether a member's output is
     * stored depends on where the run ends (a reader past the end needs it in memory), so the count is taken for
     * the run as it would be if it ended at the candidate node.
     */
    static List<List<ElementwiseNode>> runs(FusionGroup group, Intermediates intermediates) {
        return runs(group.nodes(), intermediates, false);
    }

    /**
     * The cut of a group's members ({@code nodes}, consecutive members of one fusion group), as lists. With
     * {@code wide}, a node joins a run past 4 operands (up to {@link #MAX_TABLE_REFS}) when data flow connects it
     * with a member already in the run, anywhere in the group (a recurrent step's gates, combined later).
     */
    static List<List<ElementwiseNode>> runs(List<ElementwiseNode> nodes, Intermediates intermediates, boolean wide) {
        List<List<ElementwiseNode>> out = new ArrayList<>();
        cut(nodes, intermediates, wide, run -> out.add(List.copyOf(run.members())));
        return out;
    }

    /** Takes each run of a cut, analysed and finished; the run is the cut's scratch, valid during the call only. */
    interface RunSink {
        void run(Run run);
    }

    /**
     * Cuts {@code nodes} greedily into runs that each fit one task (see {@link #runs(List, Intermediates, boolean)})
     * and hands each to {@code sink} analysed: the run grows member by member, and the member that makes it too
     * big is taken back and starts the next one, so every node is analysed once, by the same identity rules that
     * count its operands. Coalescing never adds dims, so a run of nodes that fit alone fits in dims.
     */
    static void cut(List<ElementwiseNode> nodes, Intermediates intermediates, boolean wide, RunSink sink) {
        Run run = SCRATCH.get();
        try {
            if (nodes.getFirst().output().layout().rank() > MAX_DIMS) {
                for (List<ElementwiseNode> r : runsByTrial(nodes, intermediates)) sink.run(run.analyse(r, intermediates));
                return;
            }
            int[] component = null;  // made when a run first reaches past 4 operands (a chain of unary ops never does)
            int start = 0;
            run.begin(nodes, 0, intermediates);
            for (int i = 0; i < nodes.size(); i++) {
                // A node that cannot fit starts the next run without being added and taken back: W1's adds (no
                // operand in common) and every other add of a + b would otherwise each be analysed twice.
                boolean overflows = false;
                if (i != start) {
                    int atLeast = run.refsWithNextAtLeast();
                    if (atLeast > MAX_REFS) {
                        if (wide && component == null) component = components(nodes);
                        overflows = atLeast > limit(wide, component, start, i);
                    }
                }
                if (!overflows) {
                    run.add();
                    if (i == start) continue;  // a single node always fits (GpuSupport)
                    int refs = run.refsSoFar();
                    if (wide && refs > MAX_REFS && component == null) component = components(nodes);
                    overflows = refs > limit(wide && refs > MAX_REFS, component, start, i) || run.argCount > MAX_ARGS;
                    if (overflows) run.retract();
                }
                if (overflows) {
                    run.finish();
                    sink.run(run);
                    start = i;
                    run.begin(nodes, i, intermediates);
                    run.add();
                }
            }
            run.finish();
            sink.run(run);
        } finally {
            run.clear();  // a thread's scratch must not keep buffers reachable
        }
    }

    /**
     * The most operands a run of members {@code [start, i)} takes with member {@code i}: past {@link #MAX_REFS}
     * (an operand table) only when {@code wide} and data flow connects member i with one of them.
     */
    private static int limit(boolean wide, int[] component, int start, int i) {
        if (!wide) return MAX_REFS;
        for (int j = start; j < i; j++) if (component[j] == component[i]) return MAX_TABLE_REFS;
        return MAX_REFS;
    }

    /**
     * Connected components of the members' data flow (a member and the earlier member whose output it reads
     * element for element are connected): {@code result[i]} names member i's component.
     */
    static int[] components(List<ElementwiseNode> nodes) {
        int[] parent = new int[nodes.size()];
        // Outputs' buffers in an array: the scan below compares buffers first, and most operands match none.
        Storage[] written = new Storage[parent.length];
        for (int i = 0; i < parent.length; i++) {
            parent[i] = i;
            written[i] = nodes.get(i).output().storage();
        }
        for (int i = 0; i < parent.length; i++) {
            ElementwiseNode node = nodes.get(i);
            for (int k = 0, n = node.inputCount(); k < n; k++) {
                Tensor t = node.input(k);
                Storage s = t.storage();
                for (int j = i - 1; j >= 0; j--) {
                    if (written[j] == s && sameView(nodes.get(j).output(), t)) {
                        parent[root(parent, i)] = root(parent, j);
                        break;
                    }
                }
            }
        }
        for (int i = 0; i < parent.length; i++) parent[i] = root(parent, i);
        return parent;
    }

    private static int root(int[] parent, int i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    }

    /**
     * The same cut found by analysing every trial run: needed past {@link #MAX_DIMS} dims, where whether
     * operands coalesce below the limit depends on the whole run.
     */
    static List<List<ElementwiseNode>> runsByTrial(FusionGroup group) {
        return runsByTrial(group.nodes(), Intermediates.NONE);
    }

    static List<List<ElementwiseNode>> runsByTrial(FusionGroup group, Intermediates intermediates) {
        return runsByTrial(group.nodes(), intermediates);
    }

    /** Past 8 dims runs stay within the 4 inline operands: too rare to be worth a table. */
    static List<List<ElementwiseNode>> runsByTrial(List<ElementwiseNode> nodes, Intermediates intermediates) {
        List<List<ElementwiseNode>> out = new ArrayList<>();
        List<ElementwiseNode> run = new ArrayList<>();
        for (ElementwiseNode node : nodes) {
            if (!run.isEmpty()) {
                List<ElementwiseNode> trial = new ArrayList<>(run);
                trial.add(node);
                if (!new Run(trial, intermediates).fitsOneTask(MAX_REFS)) {
                    out.add(List.copyOf(run));
                    run.clear();
                }
            }
            run.add(node);
        }
        if (!run.isEmpty()) out.add(List.copyOf(run));
        return out;
    }

    /** The identity rule of a run's operands: one buffer, one dtype, one layout (element for element). */
    static boolean sameView(Tensor u, Tensor t) {
        return u.storage() == t.storage() && u.dtype() == t.dtype() && u.layout().equals(t.layout());
    }

    /** One task for a run of members, every output stored (a single node always fits; see {@link GpuSupport}). */
    static KernelTask task(List<ElementwiseNode> members) {
        return task(members, Intermediates.NONE);
    }

    /** One task for a run of members, storing only what {@link #stores} keeps. */
    static KernelTask task(List<ElementwiseNode> members, Intermediates intermediates) {
        Run run = SCRATCH.get();
        try {
            return task(run.analyse(members, intermediates), List.copyOf(members));
        } finally {
            run.clear();
        }
    }

    /** The analysis of the streamed path, one per planning thread (a planner never nests tasks). */
    private static final ThreadLocal<Run> SCRATCH = ThreadLocal.withInitial(Run::new);

    /** The task of an analysed run whose members are {@code members} (an immutable copy, which the task keeps). */
    private static KernelTask task(Run run, List<ElementwiseNode> members) {
        checkFits(run);
        int[] tiling = tiling(members.getFirst().output().numel());
        long[] args = run.argCount == 0 ? NO_ARGS : Arrays.copyOf(run.args, run.argCount);
        return new KernelTask(operator(run), tiling[1], tiling[0], operandViews(run), args,
                List.<OpNode>copyOf(members));
    }

    private static void checkFits(Run run) {
        if (!run.fitsOneTask()) {
            throw new IllegalStateException("elementwise run of " + run.count + " nodes needs " + run.refCount()
                    + " operands, " + run.argCount + " args and " + run.dims[0].length + " dims");
        }
    }

    // ---- The streamed encoder's side (BatchPlanner.Encoder): an analysed run written into its descriptor straight
    // from the analysis, with no task object, operand list or copy of its members in between.

    /** The operator of an analysed run, which must fit one task (as {@link #task} checks). */
    static OperatorStructure operatorOf(Run run) {
        checkFits(run);
        return operator(run);
    }

    /** Elements of every operand of an analysed run (its tiling's extent). */
    static long numel(Run run) {
        return run.member(0).output().numel();
    }

    /** Operands an analysed run's task carries: past {@link #MAX_REFS} they travel in an operand table. */
    static int refCount(Run run) {
        return run.refCount();
    }

    /** Writes an analysed run's operands (at most {@link #MAX_REFS}: inline) and args into its descriptor. */
    static void writeInline(Run run, TaskBatch.TaskWriter w) {
        long[][] dims = run.dims;
        int r = 0;
        for (int i = 0; i < run.inputCount; i++, r++) ElementwiseOperands.write(w, r, run.inputs[i], dims[0], dims[r + 1]);
        for (int m = 0; m < run.count; m++) {
            if (run.outRef[m] >= 0) {
                ElementwiseOperands.write(w, r, run.member(m).output(), dims[0], dims[r + 1]);
                r++;
            }
        }
        writeArgs(run, w);
    }

    static void writeArgs(Run run, TaskBatch.TaskWriter w) {
        for (int i = 0; i < run.argCount; i++) w.arg(i, run.args[i]);
    }

    /** An analysed run's operands in order (memory inputs, then stored outputs), as views of the task. */
    static List<GpuView> operandViews(Run run) {
        Tensor[] views = Arrays.copyOf(run.inputs, run.refCount());
        int r = run.inputCount;
        for (int m = 0; m < run.count; m++) if (run.outRef[m] >= 0) views[r++] = run.member(m).output();
        return new ElementwiseOperands(views, run.dims);
    }

    /** Member {@code m} of an analysed run (its hazards are its members' reads and writes). */
    static ElementwiseNode member(Run run, int m) {
        return run.member(m);
    }

    static int memberCount(Run run) {
        return run.count;
    }

    /**
     * Tile size and count of an elementwise task: tiles start on multiples of the widest pack (16 one-byte
     * elements), so in a dense aligned task every tile is whole packs except the last one's tail.
     */
    static int[] tiling(long numel) {
        return Dims.tiling(numel, MIN_TILE, PACK_BYTES);
    }

    /** What every elementwise operator's key starts with (no other kind's key does). */
    static final String KEY_TAG = "ew:";

    /**
     * Operators by structure, one per structure for the life of the process, found by a 64-bit hash of the
     * structure's code ({@link Run#code}); the code itself is compared on a hit (two structures whose
     * hashes collide share a chain, never an operator). An entry holds the run's tensor-free description until
     * its source is first asked for (a native compile), then the source.
     */
    private static final java.util.concurrent.ConcurrentHashMap<Long, Interned> OPERATORS =
            new java.util.concurrent.ConcurrentHashMap<>();

    private record Interned(long hash, long[] code, OperatorStructure operator, Interned next) {}

    /**
     * Entries found recently, by the low bits of their hash: a hit costs one walk over the run (hash, then the
     * comparison) and no boxed key. Racy but safe: entries are immutable and any entry found is checked.
     */
    private static final Interned[] RECENT = new Interned[1024];

    /** The run's operator, looked up by its structure's hash: no String is built and nothing rendered here. */
    private static OperatorStructure operator(Run run) {
        run.emit();
        Interned last = run.lastFound;
        if (last != null && run.codeEquals(last.code())) return last.operator();
        long hash = run.hash();
        int slot = (int) (hash ^ hash >>> 32) & (RECENT.length - 1);
        Interned recent = RECENT[slot];
        if (recent != null && recent.hash() == hash && run.codeEquals(recent.code())) {
            run.lastFound = recent;
            return recent.operator();
        }
        for (Interned e = OPERATORS.get(hash); e != null; e = e.next()) {
            if (run.codeEquals(e.code())) {
                RECENT[slot] = e;
                run.lastFound = e;
                return e.operator();
            }
        }
        long[] code = run.code();
        Interned chain = OPERATORS.compute(hash, (h, head) -> {
            for (Interned e = head; e != null; e = e.next()) if (Arrays.equals(e.code(), code)) return head;
            return new Interned(hash, code, newOperator(structureKey(run), run), head);
        });
        for (Interned e = chain; ; e = e.next()) {
            if (Arrays.equals(e.code(), code)) {
                RECENT[slot] = e;
                run.lastFound = e;
                return e.operator();
            }
        }
    }

    private static final long HASH_SEED = 0x9E3779B97F4A7C15L;

    private static long mix(long h, long word) {
        h ^= word;
        h *= 0xBF58476D1CE4E5B9L;
        return h ^ h >>> 31;
    }

    /** A new, unrendered operator for {@code run} (interned by {@link #operator} only). */
    private static OperatorStructure newOperator(String structureKey, Run run) {
        ElementwiseSource.Member[] members = new ElementwiseSource.Member[run.count];
        StringBuilder name = new StringBuilder("ew");
        for (int m = 0; m < members.length; m++) {
            ElementwiseNode n = run.member(m);
            members[m] = new ElementwiseSource.Member(n.op(), n.computeType(), n.operandType(), n.output().dtype(),
                    run.sourcesOf(m), run.paramSlotsOf(m), run.outRef[m]);
            name.append('_').append(n.opName());
        }
        DType[] inputs = new DType[run.inputCount];
        for (int i = 0; i < inputs.length; i++) inputs[i] = run.inputs[i].dtype();
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
        StringBuilder k = new StringBuilder(32 + 16 * run.count);
        for (int i = 0; i < run.inputCount; i++) k.append((char) ('A' + run.inputs[i].dtype().ordinal()));
        k.append('|');
        for (int m = 0; m < run.count; m++) {
            ElementwiseNode node = run.member(m);
            k.append(node.op().ordinal()).append(':').append((char) ('A' + node.computeType().ordinal()))
                    .append((char) ('A' + node.operandType().ordinal()))
                    .append((char) ('A' + node.output().dtype().ordinal()));
            for (Source src : run.sourcesOf(m)) k.append(src.kind()).append(src.index());
            for (int slot : run.paramSlotsOf(m)) k.append('p').append(slot);
            if (run.outRef[m] < 0) k.append('-');  // kept in a register, not stored
            k.append(';');
        }
        return k.toString();
    }

    /** The structure of a run of members: its operator source less {@link #PREFIX}; the same for every shape. */
    static String structure(List<ElementwiseNode> members) {
        return structure(members, Intermediates.NONE);
    }

    static String structure(List<ElementwiseNode> members, Intermediates intermediates) {
        return operator(new Run(members, intermediates)).body();
    }

    /** The operator of a run of members, as tasks of that run name it (interned; unrendered until asked). */
    static OperatorStructure operator(List<ElementwiseNode> members) {
        return operator(new Run(members, Intermediates.NONE));
    }

    /** A fresh, unrendered operator for a run of members, not interned (tests: what rendering is deferred to). */
    static OperatorStructure uninternedOperator(List<ElementwiseNode> members) {
        Run run = new Run(members, Intermediates.NONE);
        return newOperator(structureKey(run), run);
    }

    /** The whole operator source of a run of members. */
    static String source(List<ElementwiseNode> members) {
        return PREFIX + structure(members);
    }

    /** The whole operator source of a run of members, storing only what {@link #stores} keeps. */
    static String source(List<ElementwiseNode> members, Intermediates intermediates) {
        return PREFIX + structure(members, intermediates);
    }

    /** The operands of a run's task, in order: memory inputs by first use, then the stored outputs. */
    static List<Tensor> operands(List<ElementwiseNode> members, Intermediates intermediates) {
        Run run = new Run(members, intermediates);
        List<Tensor> out = new ArrayList<>(run.inputList());
        for (int m = 0; m < members.size(); m++) if (run.outRef[m] >= 0) out.add(members.get(m).output());
        return out;
    }

    /** A run's task without device memory: operands in order, their coalesced dims, the argument words (host tests). */
    record RunLayout(List<Tensor> operands, long[][] dims, long[] args) {}

    static RunLayout layout(List<ElementwiseNode> members, Intermediates intermediates) {
        Run run = new Run(members, intermediates);
        List<Tensor> out = new ArrayList<>(run.inputList());
        for (int m = 0; m < members.size(); m++) if (run.outRef[m] >= 0) out.add(members.get(m).output());
        long[] args = Arrays.copyOf(run.args, run.argCount);
        return new RunLayout(out, run.dims, args);
    }

    /** A scalar operand converted to the operand type (CPU semantics), as the raw word the kernel reads. */
    static long scalarBits(Scalar s, DType opType, DType compute) {
        if (compute == DType.I64) return HostElements.round(opType, s.longValue());
        double v = s.kind() == DType.F64 ? HostElements.round(opType, s.doubleValue())
                : HostElements.round(opType, (double) s.longValue());
        return Double.doubleToRawLongBits(v);
    }
}
