package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.tensor.interp.InterpreterSource;
import dev.gpuos.tensor.interp.Program;
import dev.gpuos.tensor.interp.ProgramCompiler;
import dev.gpuos.tensor.interp.ProgramStore;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.ReduceOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Two tiers for elementwise runs and reductions (issue 6). A task whose operator is not native yet runs at once
 * on the INTERPRETER, a built-in operator registered when this object is made (one generation swap, before any
 * work) and then part of every later generation: the run (or the reduce op) is compiled to an op program (microseconds), the
 * program is written to mapped host memory and copied to device memory while the worker runs, and the task names
 * it ({@link ProgramStore}: nothing waits for the copy). No swap, no pause.
 *
 * <p>The native operator is compiled and swapped in by a background thread when the {@link Policy} says the
 * pause is worth it: once a structure was interpreted {@code promoteAfterUses} times, or
 * {@code promoteAfterNanos} after it was first seen. A promotion takes EVERY structure still interpreted, so
 * one link and one pause serve them all. Tasks resolved after the swap returned use the native operator; the
 * tasks already submitted keep their program, which stays where it is until the GpuOS closes.
 *
 * <p>The planner finds and makes entries by the operator's structural key ({@link OperatorStructure#key}) and
 * never renders a native source: the source is rendered, and hashed into the operator's name, by the
 * promoter when it compiles (issue 6: rendering and hashing were most of the planning time of a new
 * structure's first, interpreted result).
 *
 * <p>Threads: {@link #resolve} is called by the planner (one thread at a time); promotion runs on one daemon
 * thread. They share only {@link Entry#nativeRef} (volatile) and the entry map. The promoter never takes the
 * library's lock, so interpreted and already-native tasks keep flowing while it compiles; a task needing a
 * native-only operator that is not registered yet (a new matmul dtype) waits for GpuOS's swap lock, as it
 * would for any registration.
 *
 * <p>Default: off (GpuBackend reads {@code gpuos.interp}); the GPU checks of this tier had not run when it
 * was written.
 */
public final class TieredOperators {
    private static final Logger LOG = Logger.getLogger(TieredOperators.class.getName());

    /** When a structure's native operator is worth a generation swap. */
    public record Policy(int promoteAfterUses, long promoteAfterNanos) {
        /** Never promote: everything new stays interpreted (for measuring the interpreter). */
        public static final Policy NEVER = new Policy(Integer.MAX_VALUE, Long.MAX_VALUE);
        public static final Policy DEFAULT = new Policy(64, TimeUnit.MILLISECONDS.toNanos(20));

        /**
         * {@code gpuos.interp} = {@code on} enables tiering (default off); {@code gpuos.interp.uses} and
         * {@code gpuos.interp.ms} override the defaults. Null when tiering is off.
         */
        public static Policy fromSystemProperties() {
            if (!"on".equalsIgnoreCase(System.getProperty("gpuos.interp", "off"))) return null;
            int uses = Integer.getInteger("gpuos.interp.uses", DEFAULT.promoteAfterUses);
            long ms = Long.getLong("gpuos.interp.ms", TimeUnit.NANOSECONDS.toMillis(DEFAULT.promoteAfterNanos));
            return new Policy(uses, ms == Long.MAX_VALUE ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(ms));
        }
    }

    /** Cumulative counts; {@code hostProgramTasks}: interpreted tasks that read their program from mapped host memory. */
    public record Stats(long interpretedTasks, long nativeTasks, long programs, long promotions, long promotedOperators,
                        long failedPromotions, long hostProgramTasks) {}

    /** The interpreter's operator name: its source hashed, so backends over one GpuOS share it. */
    static final String INTERPRETER_NAME = OperatorLibrary.uniqueName("gpuos_interp", InterpreterSource.operatorSource());

    /**
     * System property read when a tier is made: {@code true} makes its tasks read every op program from mapped host
     * memory, never from the device copy (tests of that path; measuring what the PCIe read costs).
     */
    public static final String PROGRAMS_IN_HOST = "gpuos.interp.programsInHost";

    private static final class Entry {
        final OperatorStructure structure;  // its source is rendered by the promoter, not by the planner
        final ProgramStore.Stored program;  // null: not interpretable
        final long firstNanos = System.nanoTime();
        final AtomicLong uses = new AtomicLong();
        volatile OperatorRef nativeRef;
        volatile boolean failed;     // the native compile failed: stay interpreted

        Entry(OperatorStructure structure, ProgramStore.Stored program, OperatorRef nativeRef) {
            this.structure = structure;
            this.program = program;
            this.nativeRef = nativeRef;
        }
    }

    private final GpuOS os;
    private final OperatorLibrary natives;
    private final Policy policy;
    private final ProgramStore programs;
    private final OperatorRef interpreter;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final ScheduledExecutorService promoter = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "gpuos-tier-promoter");
        t.setDaemon(true);
        return t;
    });
    private final LongAdder interpretedTasks = new LongAdder(), nativeTasks = new LongAdder(),
            hostProgramTasks = new LongAdder();
    private final AtomicLong promotions = new AtomicLong(), promotedOperators = new AtomicLong(),
            failedPromotions = new AtomicLong();

    TieredOperators(GpuOS os, OperatorLibrary natives, Policy policy) {
        long smem = os.sharedMemoryBytes(), need = InterpreterSource.smemBytes(Layouts.BLOCK_THREADS);
        if (smem < need) {
            throw new IllegalArgumentException("the interpreter needs " + need + " bytes of shared memory per block; "
                    + "this GpuOS offers " + smem);
        }
        this.os = os;
        this.natives = natives;
        this.policy = policy;
        this.programs = new ProgramStore(os, Boolean.getBoolean(PROGRAMS_IN_HOST));
        this.interpreter = ensureInterpreter(os);
    }

    private static OperatorRef ensureInterpreter(GpuOS os) {
        if (os.hasOperator(INTERPRETER_NAME)) return os.operator(INTERPRETER_NAME);
        try {
            return os.register(INTERPRETER_NAME, InterpreterSource.operatorSource());
        } catch (IllegalArgumentException raced) {
            return os.operator(INTERPRETER_NAME); // another backend over this GpuOS registered it meanwhile
        }
    }

    public OperatorRef interpreter() {
        return interpreter;
    }

    /**
     * The operators of a submission's tasks. An elementwise task whose structure has no native operator yet is
     * REPLACED in {@code tasks} by the same task naming its program, and gets the interpreter; every other task
     * gets its native operator from the library (registered there if new, as without tiering).
     */
    OperatorRef[] resolve(List<KernelTask> tasks) {
        OperatorRef[] ops = new OperatorRef[tasks.size()];
        List<KernelTask> nativeTasks = new ArrayList<>();
        List<Integer> nativeAt = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            KernelTask task = tasks.get(i);
            String key = key(task);
            Entry e = key == null ? null : entries.computeIfAbsent(key, k -> newEntry(task));
            OperatorRef ref = e == null ? null : e.nativeRef;
            if (ref != null) {
                ops[i] = ref;
                this.nativeTasks.increment();
            } else if (e != null && e.program != null) {
                long[] args = Arrays.copyOf(task.args(), Layouts.MAX_ARGS);
                long program = e.program.address();
                args[InterpreterSource.PROGRAM_ARG] = program;
                if (e.program.isHostCopy(program)) hostProgramTasks.increment();
                tasks.set(i, new KernelTask(task.operator(), task.ntiles(), task.tileSize(), task.refs(), args, task.nodes()));
                ops[i] = interpreter;
                interpretedTasks.increment();
                long uses = e.uses.incrementAndGet();
                if (uses == 1 && policy.promoteAfterNanos() != Long.MAX_VALUE) {
                    promoter.schedule(this::promotePending, policy.promoteAfterNanos(), TimeUnit.NANOSECONDS);
                }
                if (uses == policy.promoteAfterUses()) promoter.execute(this::promotePending);
            } else {
                nativeTasks.add(task);
                nativeAt.add(i);
            }
        }
        if (!nativeTasks.isEmpty()) {
            OperatorRef[] refs = natives.getAll(nativeTasks);
            for (int k = 0; k < refs.length; k++) ops[nativeAt.get(k)] = refs[k];
            this.nativeTasks.add(refs.length);
        }
        return ops;
    }

    /**
     * The entry key of a task the interpreter may take (null: native only): its operator's structural key, so
     * that nothing is rendered or hashed to find, or to make, an entry.
     */
    static String key(KernelTask task) {
        String key = task.operator().key();
        if (task.nodes().size() == 1 && task.nodes().getFirst() instanceof ReduceNode r) {
            // One native operator per dtype serves every reduce op; one program per (dtype, op).
            return task.args().length == 4 && r.op() != ReduceOp.ARGMAX && r.op() != ReduceOp.ARGMIN
                    ? key + "#reduce:" + r.op() : null;
        }
        if (!key.startsWith(ElementwiseKernels.KEY_TAG)) return null;
        // The interpreter reads the 4 inline operands: a structure with an operand table runs natively.
        if (OperandTables.wide(task)) return null;
        for (OpNode n : task.nodes()) if (!(n instanceof ElementwiseNode)) return null;
        return key;
    }

    private static Program compile(KernelTask task) {
        if (task.nodes().getFirst() instanceof ReduceNode r) return ProgramCompiler.compileReduce(r.op(), r.input().dtype());
        @SuppressWarnings("unchecked")
        List<ElementwiseNode> members = (List<ElementwiseNode>) (List<?>) task.nodes();
        return ProgramCompiler.compile(members);
    }

    /** Host time spent making op programs of new structures (part of the planner's operator lookup). */
    final LongAdder programCompileNanos = new LongAdder();
    /** Host time spent storing them (into mapped host memory, starting the copy to device memory). */
    final LongAdder programStoreNanos = new LongAdder();

    /**
     * The entry of a structure seen for the first time: its op program, compiled and stored. Nothing here
     * renders the native source or hashes it (issue 6: that cost sat on the path to the first result). So only
     * this backend's own library is asked whether the structure is native already (a map probe on its key); one
     * that another backend over the GpuOS registered is adopted by the next promotion, which looks the hashed
     * name up before it compiles anything.
     */
    private Entry newEntry(KernelTask task) {
        OperatorRef known = natives.lookup(task.operator());
        if (known != null) return new Entry(task.operator(), null, known);  // warm: native already
        ProgramStore.Stored stored = null;
        if (task.args().length <= InterpreterSource.PROGRAM_ARG) {
            try {
                long t0 = System.nanoTime();
                Program p = compile(task);
                long t1 = System.nanoTime();
                programCompileNanos.add(t1 - t0);
                if (sameInterface(p, task)) {
                    stored = programs.store(key(task), p);
                    programStoreNanos.add(System.nanoTime() - t1);
                } else {
                    LOG.warning("op program of " + task.name() + " disagrees with the native task's operands or "
                            + "arguments; it runs natively only");
                }
            } catch (ProgramCompiler.NotInterpretable why) {
                LOG.fine(() -> task.name() + " runs natively: " + why.getMessage());
            } catch (RuntimeException uploadFailed) {
                LOG.log(Level.WARNING, task.name() + ": its op program could not be stored; it runs natively", uploadFailed);
            }
        }
        return new Entry(task.operator(), stored, null);
    }

    /**
     * True if the program's task interface (the same operands in the same order, the same argument words) is the native task's: the
     * compiler follows ElementwiseKernels' layout, and this guards against the two drifting apart.
     */
    private static boolean sameInterface(Program p, KernelTask task) {
        if (p.refs() != task.refs().size() || p.args() != task.args().length) return false;
        if (task.nodes().getFirst() instanceof ReduceNode) return true;  // FamilyTasks.reduce's fixed interface
        @SuppressWarnings("unchecked")
        List<ElementwiseNode> members = (List<ElementwiseNode>) (List<?>) task.nodes();
        List<dev.gpuos.tensor.Tensor> operands = ProgramCompiler.operands(members);
        if (operands.size() != task.refs().size()) return false;
        for (int i = 0; i < operands.size(); i++) {
            dev.gpuos.tensor.Tensor t = operands.get(i);
            GpuView v = task.refs().get(i);
            if (GpuView.code(t.dtype()) != v.dtype() || GpuStorage.of(t).block() != v.buffer()
                    || t.storageOffset() * t.dtype().byteSize() != v.byteOffset()) return false;
        }
        return Arrays.equals(ProgramCompiler.args(members), task.args());
    }

    /** Registers every still-interpreted structure with one generation swap (promoter thread only). */
    private void promotePending() {
        Map<String, String> fresh = new LinkedHashMap<>();
        Map<String, List<Entry>> byName = new LinkedHashMap<>();  // several reduce ops share one native operator
        for (Entry e : entries.values()) {
            if (e.nativeRef != null || e.failed || e.program == null) continue;
            String unique = e.structure.uniqueName();  // renders and hashes, here on the promoter thread
            if (os.hasOperator(unique)) {
                e.nativeRef = os.operator(unique);
                continue;
            }
            fresh.put(unique, e.structure.source());
            byName.computeIfAbsent(unique, k -> new ArrayList<>()).add(e);
        }
        if (fresh.isEmpty()) return;
        try {
            for (OperatorRef ref : os.registerAll(fresh)) for (Entry e : byName.get(ref.name())) e.nativeRef = ref;
            promotions.incrementAndGet();
            promotedOperators.addAndGet(fresh.size());
        } catch (IllegalArgumentException nameTaken) {
            // Another backend over this GpuOS registered one of these meanwhile: adopt those, retry the rest.
            for (List<Entry> es : byName.values()) {
                for (Entry e : es) if (os.hasOperator(e.structure.uniqueName())) e.nativeRef = os.operator(e.structure.uniqueName());
            }
            promoter.execute(this::promotePending);
        } catch (IllegalStateException closed) {
            // The GpuOS closed under a scheduled promotion: nothing left to promote into.
            LOG.fine(() -> "promotion skipped: " + closed.getMessage());
        } catch (RuntimeException failure) {
            for (List<Entry> es : byName.values()) for (Entry e : es) e.failed = true;
            failedPromotions.incrementAndGet();
            LOG.log(Level.WARNING, "native versions of " + fresh.size() + " interpreted operators failed; they stay interpreted", failure);
        }
    }

    /** Promotes every interpreted structure now and waits for the swap (tests, benchmarks, warm-up). */
    public void promoteNow() {
        try {
            promoter.submit(this::promotePending).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    public Stats stats() {
        return new Stats(interpretedTasks.sum(), nativeTasks.sum(), programs.size(), promotions.get(),
                promotedOperators.get(), failedPromotions.get(), hostProgramTasks.sum());
    }
}
