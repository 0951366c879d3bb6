package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedDTypeException;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 6 on the GPU: the in-kernel interpreter against the native generated operators on the same GpuOS, and
 * the zero-pause claim. Two backends share one GpuOS: {@code interp} interprets every elementwise structure
 * (policy NEVER: no promotion), {@code nativeOnly} compiles each one. Each case runs interpreted FIRST, so the
 * structure is new to the GpuOS when the interpreter takes it. Cases: every elementwise op x accepted dtype x four
 * layouts (contiguous, transposed, strided, broadcast; scalar operands), casts between all dtypes, fused runs,
 * reductions (warp and block teams, several axes), 150 random chains through the API.
 */
@Tag("gpu")
class InterpreterGpuTest extends SharedGpuOS {
    static GpuBackend interp, nativeOnly;

    @BeforeAll
    static void backends() {
        interp = new GpuBackend(os, TieredOperators.Policy.NEVER);
        nativeOnly = new GpuBackend(os, (TieredOperators.Policy) null);
    }

    /** A case: builds its result from operands of one scope; compared with the native operators or the CPU. */
    record Case(String label, boolean againstNative, Function<TensorScope, Tensor> build) {}

    private enum Kind { CONTIGUOUS, TRANSPOSED, STRIDED, EXPANDED }

    static final long[] SHAPE = {3, 70, 11};  // 2310 elements: 3 tiles of the native tiling

    private static Tensor values(TensorScope s, DType t, long seed, Kind kind) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] base = switch (kind) {
            case CONTIGUOUS -> SHAPE;
            case TRANSPOSED -> new long[]{SHAPE[2], SHAPE[1], SHAPE[0]};
            case STRIDED -> new long[]{SHAPE[0], SHAPE[1], 2 * SHAPE[2]};
            case EXPANDED -> new long[]{1, SHAPE[1], 1};
        };
        double[] v = Twins.values(r, t, Twins.count(base), true);
        Tensor x = switch (t) {
            case BOOL -> {
                boolean[] b = new boolean[v.length];
                for (int i = 0; i < b.length; i++) b[i] = v[i] != 0;
                yield s.tensor(b, base);
            }
            case I32, I64 -> s.tensor(Arrays.stream(v).mapToLong(d -> (long) d).toArray(), t, base);
            default -> s.tensor(v, t, base);
        };
        return switch (kind) {
            case CONTIGUOUS -> x;
            case TRANSPOSED -> x.permute(2, 1, 0);
            case STRIDED -> x.slice(2, 0, 2 * SHAPE[2], 2);
            case EXPANDED -> x.expand(SHAPE);
        };
    }

    static List<Case> everyOpCases() {
        List<Case> cases = new ArrayList<>();
        for (ElementwiseOp op : ElementwiseOp.values()) {
            if (op == ElementwiseOp.CAST) continue;
            for (DType t : DType.values()) {
                try {
                    op.checkAccepts(t);
                } catch (UnsupportedDTypeException e) {
                    continue;
                }
                for (Kind kind : Kind.values()) {
                    boolean scalar = kind == Kind.EXPANDED && op.arity() > 1;
                    long seed = op.ordinal() * 1000L + t.ordinal() * 10L + kind.ordinal();
                    cases.add(new Case(op.opName() + " " + t + " " + kind + (scalar ? " scalar" : ""), t == DType.F32, s -> {
                        Operand[] operands = new Operand[op.arity()];
                        for (int k = 0; k < operands.length; k++) {
                            DType kt = op == ElementwiseOp.WHERE && k == 0 ? DType.BOOL : t;
                            if (k == 1 && scalar) {
                                operands[k] = t.isFloating() ? Scalar.of(1.75) : Scalar.of(3L);
                            } else {
                                operands[k] = values(s, kt, seed + k, k == 0 ? kind : Kind.values()[(kind.ordinal() + k) % 4]);
                            }
                        }
                        return Tensor.elementwise(op, new double[]{0.2, 2.0}, operands);
                    }));
                }
            }
        }
        for (DType from : DType.values()) {
            for (DType to : DType.values()) {
                cases.add(new Case("cast " + from + " -> " + to, from == to || to == DType.F32, s -> values(s, from, 77 + from.ordinal(), Kind.STRIDED).to(to).contiguous()));
            }
        }
        // Fused runs (2-3 members per task, stored-value semantics, params, mixed dtypes).
        cases.add(new Case("f16 mul-sin-add", true, s -> values(s, DType.F16, 1, Kind.TRANSPOSED).mul(1.5).sin().add(0.25)));
        cases.add(new Case("f32 gelu-mul-tanh", true, s -> values(s, DType.F32, 2, Kind.CONTIGUOUS).gelu().mul(values(s, DType.F32, 3, Kind.EXPANDED)).tanh()));
        cases.add(new Case("i32 mul-rem-gt", true, s -> values(s, DType.I32, 4, Kind.STRIDED).mul(7).remainder(5).gt(1)));
        cases.add(new Case("bf16 where-relu", true, s -> Tensor.elementwise(ElementwiseOp.WHERE, new double[0],
                values(s, DType.BOOL, 5, Kind.CONTIGUOUS), values(s, DType.BF16, 6, Kind.CONTIGUOUS), Scalar.of(-0.5)).relu()));
        cases.add(new Case("f64 exp-log1p-sub", true, s -> values(s, DType.F64, 7, Kind.EXPANDED).exp().sub(1.0).abs()));
        cases.add(new Case("i64 pow-floordiv", true, s -> Tensor.elementwise(ElementwiseOp.POW, new double[0],
                values(s, DType.I64, 8, Kind.CONTIGUOUS), Scalar.of(3L)).floorDivide(values(s, DType.I64, 9, Kind.TRANSPOSED))));
        // Reductions (the interpreter's REDUCE programs): warp teams, block teams (long rows), several and middle axes.
        for (ReduceOp op : new ReduceOp[]{ReduceOp.SUM, ReduceOp.PROD, ReduceOp.MEAN, ReduceOp.MAX, ReduceOp.MIN}) {
            for (DType t : DType.values()) {
                if (op == ReduceOp.MEAN && !t.isFloating()) continue;
                long seed = 5000 + op.ordinal() * 10L + t.ordinal();
                cases.add(new Case(op.opName() + " " + t + " last axis", true, s -> reduce(op, values(s, t, seed, Kind.TRANSPOSED), new int[]{2})));
                cases.add(new Case(op.opName() + " " + t + " axes 0,2", true, s -> reduce(op, values(s, t, seed + 1, Kind.STRIDED), new int[]{0, 2})));
                cases.add(new Case(op.opName() + " " + t + " long rows", true, s -> reduce(op, values(s, t, seed + 2, Kind.CONTIGUOUS).reshape(3, 2310 / 3), new int[]{1})));
            }
        }
        // Random chains through the API (the recorder fuses and cuts them into runs as it would for a user).
        ElementwiseOp[] ops = ElementwiseOp.values();
        for (int trial = 0; trial < 150; trial++) {
            long seed = 90_000 + trial;
            cases.add(new Case("random chain seed " + seed, trial < 40, s -> {
                SplittableRandom r = new SplittableRandom(seed);
                DType[] all = DType.values();
                Tensor cur = values(s, all[r.nextInt(all.length)], seed, Kind.values()[r.nextInt(4)]);
                int steps = 1 + r.nextInt(5);
                for (int i = 0; i < steps; i++) {
                    ElementwiseOp op = ops[r.nextInt(ops.length)];
                    try {
                        if (op == ElementwiseOp.CAST) {
                            cur = cur.to(all[r.nextInt(all.length)]);
                            continue;
                        }
                        Operand[] operands = new Operand[op.arity()];
                        for (int k = 0; k < operands.length; k++) {
                            if (op == ElementwiseOp.WHERE && k == 0) operands[k] = cur.dtype() == DType.BOOL ? cur : values(s, DType.BOOL, seed + 10 + i, Kind.EXPANDED);
                            else if (k == (op == ElementwiseOp.WHERE ? 1 : 0)) operands[k] = cur;
                            else if (r.nextBoolean()) operands[k] = cur.dtype().isFloating() ? Scalar.of(r.nextDouble(-2, 2)) : Scalar.of((long) r.nextInt(-5, 6));
                            else operands[k] = values(s, all[r.nextInt(all.length)], seed + 20 + i * 3 + k, Kind.values()[r.nextInt(4)]);
                        }
                        cur = Tensor.elementwise(op, new double[]{0.3, 1.5}, operands);
                    } catch (UnsupportedDTypeException skip) {
                        // the API refuses this dtype for this op: the chain goes on without it
                    }
                }
                return cur;
            }));
        }
        return cases;
    }

    private static Tensor reduce(ReduceOp op, Tensor x, int[] axes) {
        return switch (op) {
            case SUM -> x.sum(axes, false);
            case PROD -> x.prod(axes, false);
            case MEAN -> x.mean(axes, false);
            case MAX -> x.max(axes, false);
            default -> x.min(axes, false);
        };
    }

    /**
     * Every case interpreted; then the flagged ones (F32 of every op, same-dtype and to-F32 casts, fused runs,
     * reductions, 40 random chains: about 140 structures to compile) natively on the same GpuOS, the rest on the
     * CPU backend (the native operators are checked against it by GpuBackendOpsTest). Against native: integers
     * and BOOL bit for bit, floats within the dtype's tolerance (bit-identical ones counted). Against the CPU:
     * integers exactly, floats within the elementwise (reductions: reduction) tolerance.
     */
    @Test
    void interpretedAgreesWithNativeAndTheCpuForEveryOpDtypeLayoutFusedRunAndReduction() {
        List<Case> cases = everyOpCases();
        TieredOperators.Stats before = interp.tiers().stats();
        List<Tensor> outI = new ArrayList<>(), outN = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        int bitExactFloat = 0, nativeFloat = 0, nativeCases = 0;
        try (TensorScope si = TensorScope.open(interp); TensorScope sn = TensorScope.open(nativeOnly);
             TensorScope sc = TensorScope.open(CpuBackend.eager())) {
            for (Case c : cases) outI.add(c.build().apply(si));
            List<Object> got = new ArrayList<>();
            for (Tensor t : outI) got.add(t.dtype().isFloating() ? t.toDoubleArray() : t.toLongArray());
            TieredOperators.Stats mid = interp.tiers().stats();
            assertTrue(mid.interpretedTasks() - before.interpretedTasks() >= cases.size() / 2,
                    "the interpreter ran only " + (mid.interpretedTasks() - before.interpretedTasks()) + " tasks for " + cases.size() + " cases");
            assertEquals(0, mid.promotions(), "policy NEVER must not promote");
            for (Case c : cases) outN.add(c.build().apply(c.againstNative() ? sn : sc));
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                Tensor ref = outN.get(i);
                if (c.againstNative()) nativeCases++;
                if (!ref.dtype().isFloating()) {
                    long[] g = (long[]) got.get(i), w = ref.toLongArray();
                    if (!Arrays.equals(g, w)) failures.add(c.label() + ": integers differ " + firstDiff(g, w));
                    continue;
                }
                double[] g = (double[]) got.get(i), w = ref.toDoubleArray();
                boolean reduction = c.label().contains("axis") || c.label().contains("axes") || c.label().contains("rows");
                double tol = reduction ? Twins.reductionTolerance(ref.dtype()) : Twins.elementwiseTolerance(ref.dtype());
                boolean exact = g.length == w.length;
                for (int k = 0; k < Math.min(g.length, w.length); k++) {
                    if (Double.doubleToLongBits(g[k]) == Double.doubleToLongBits(w[k])) continue;
                    exact = false;
                    if (Double.isNaN(g[k]) && Double.isNaN(w[k])) continue;
                    if (!(Math.abs(g[k] - w[k]) <= tol * Math.max(1, Math.abs(w[k])))) {
                        failures.add(c.label() + ": element " + k + " interpreted " + g[k] + (c.againstNative() ? " native " : " cpu ") + w[k]);
                        break;
                    }
                }
                if (g.length != w.length) failures.add(c.label() + ": " + g.length + " elements, expected " + w.length);
                if (c.againstNative()) {
                    nativeFloat++;
                    if (exact) bitExactFloat++;
                }
            }
        }
        System.out.printf("[interp] %d cases (%d against native operators, the rest against the CPU backend), %d differ; "
                + "float cases bit-identical to native: %d of %d%n", cases.size(), nativeCases, failures.size(), bitExactFloat, nativeFloat);
        assertTrue(failures.isEmpty(), failures.size() + " cases differ:\n" + String.join("\n", failures.subList(0, Math.min(10, failures.size()))));
    }

    /**
     * Op programs read from mapped host memory (what a new structure's first tasks do, before the program's copy to
     * device memory has landed) give bit-identical results to programs read from device memory: every fourth case,
     * on a tier whose tasks always name the host copy, against the {@code interp} backend. A structure used again
     * after a read-back (a synchronous copy on the same stream: every earlier copy landed) names the device copy.
     */
    @Test
    void programsReadFromMappedHostMemoryGiveTheSameResultsAsFromDeviceMemory() {
        GpuBackend hostPrograms;
        System.setProperty(TieredOperators.PROGRAMS_IN_HOST, "true");
        try {
            hostPrograms = new GpuBackend(os, TieredOperators.Policy.NEVER);
        } finally {
            System.clearProperty(TieredOperators.PROGRAMS_IN_HOST);
        }
        List<Case> cases = everyOpCases();
        List<String> failures = new ArrayList<>();
        int compared = 0;
        try (TensorScope sh = TensorScope.open(hostPrograms); TensorScope si = TensorScope.open(interp)) {
            for (int i = 0; i < cases.size(); i += 4) {
                Case c = cases.get(i);
                Tensor h = c.build().apply(sh), d = c.build().apply(si);
                long[] hb = bits(h), db = bits(d);
                compared++;
                if (!Arrays.equals(hb, db)) failures.add(c.label() + ": " + firstDiff(hb, db));
            }
            TieredOperators.Stats st = hostPrograms.tiers().stats();
            assertTrue(st.interpretedTasks() > compared / 2, "only " + st.interpretedTasks() + " interpreted tasks");
            assertEquals(st.interpretedTasks(), st.hostProgramTasks(), "every task of the host-only tier reads host memory");

            Tensor x = values(si, DType.F32, 31, Kind.CONTIGUOUS);
            x.toFloatArray();
            long hostBefore = interp.tiers().stats().hostProgramTasks();
            float[] first = x.mul(0.75).softplus().toFloatArray();   // new to `interp`: its first task may read either copy
            long afterFirst = interp.tiers().stats().hostProgramTasks();
            assertTrue(afterFirst - hostBefore <= 1);
            float[] again = x.mul(0.75).softplus().toFloatArray();   // the read-back above landed every copy
            assertEquals(afterFirst, interp.tiers().stats().hostProgramTasks(), "a landed program is read from device memory");
            assertArrayEquals(first, again);
        }
        System.out.printf("[interp] %d cases with programs in mapped host memory, %d differ from device-resident programs%n",
                compared, failures.size());
        assertTrue(failures.isEmpty(), failures.size() + " cases differ:\n" + String.join("\n", failures.subList(0, Math.min(10, failures.size()))));
    }

    /** Every element's bits, widened to long (floats as their double bits). */
    private static long[] bits(Tensor t) {
        if (!t.dtype().isFloating()) return t.toLongArray();
        return Arrays.stream(t.toDoubleArray()).mapToLong(Double::doubleToRawLongBits).toArray();
    }

    private static String firstDiff(long[] g, long[] w) {
        for (int i = 0; i < Math.min(g.length, w.length); i++) {
            if (g[i] != w[i]) return "at " + i + ": interpreted " + g[i] + ", native " + w[i];
        }
        return "in length";
    }

    /**
     * The zero-pause timeline. A stream of tasks of another operator (each stamps %globaltimer into its slot) runs
     * throughout. Meanwhile a never-seen expression runs interpreted at once (register to first correct result
     * timed, no generation swap), then is promoted (one swap: the only gap in the stamps comparable to a
     * pause) and later runs natively with the same result.
     */
    @Test
    void newExpressionRunsAtOnceWhileOtherTasksKeepCompleting() throws Exception {
        GpuBackend tiered = new GpuBackend(os, new TieredOperators.Policy(Integer.MAX_VALUE, Long.MAX_VALUE));
        OperatorRef stamp = os.register("interp_timeline_stamp", """
                GPUOS_OP {
                    if (threadIdx.x == 0) ((unsigned long long*)task->refs[0].data)[task->args[0]] = gpuos::global_ns();
                }""");
        final int capacity = 1 << 22;  // ~2 stamps per microsecond for a few hundred ms
        DeviceBlock stamps = os.allocate(8L * capacity);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong issued = new AtomicLong();
        CompletableFuture<Void> stream = CompletableFuture.runAsync(() -> {
            TaskBatch[] batches = {new TaskBatch(64), new TaskBatch(64)};
            CompletableFuture<?>[] inFlight = new CompletableFuture<?>[2];
            int k = 0;
            while (!stop.get() && issued.get() + 32 <= capacity) {
                int slot = k++ & 1;
                if (inFlight[slot] != null) inFlight[slot].join();
                TaskBatch b = batches[slot].clear();
                for (int i = 0; i < 32; i++) {
                    b.add(stamp, 1, 1).refContiguous(0, stamps, 0, DTypeCode.I64, capacity).arg(0, issued.getAndIncrement());
                }
                inFlight[slot] = os.submitAsync(b);
            }
            for (CompletableFuture<?> f : inFlight) if (f != null) f.join();
        });
        try (TensorScope s = TensorScope.open(tiered); TensorScope cpu = TensorScope.open(CpuBackend.eager())) {
            Tensor x = values(s, DType.F32, 11, Kind.CONTIGUOUS), xc = values(cpu, DType.F32, 11, Kind.CONTIGUOUS);
            x.toFloatArray();
            float[] expected = xc.mul(1.37).cos().add(0.61).toFloatArray();
            Thread.sleep(50);
            long swapsBefore = os.stats().swaps();
            long i0 = issued.get(), t0 = System.nanoTime();
            float[] first = x.mul(1.37).cos().add(0.61).toFloatArray();  // a structure no one has compiled
            long latency = System.nanoTime() - t0;
            long i1 = issued.get();
            assertEquals(swapsBefore, os.stats().swaps(), "the interpreted run must not swap generations");
            assertEquals(1, tiered.tiers().stats().interpretedTasks(), "the new expression ran on the interpreter");
            assertClose(expected, first, 1e-5);
            Thread.sleep(50);
            long i2 = issued.get();
            tiered.tiers().promoteNow();  // the native version enters with one swap
            long i3 = issued.get();
            assertEquals(swapsBefore + 1, os.stats().swaps());
            Thread.sleep(50);
            float[] later = x.mul(1.37).cos().add(0.61).toFloatArray();
            assertEquals(1, tiered.tiers().stats().nativeTasks(), "after the swap the expression runs natively");
            assertClose(expected, later, 1e-5);
            stop.set(true);
            stream.join();
            long n = issued.get();
            long[] t = new long[(int) n];
            try (Arena a = Arena.ofConfined()) {
                MemorySegment host = a.allocate(8 * n);
                os.download(host, stamps, 0);
                for (int i = 0; i < n; i++) t[i] = host.getAtIndex(ValueLayout.JAVA_LONG, i);
            }
            long interpGap = maxGap(t, i0, Math.min(n, i1 + 64)), quietGap = maxGap(t, Math.min(n, i1 + 64), i2),
                    swapGap = maxGap(t, i2, Math.min(n, i3 + 64));
            System.out.printf("[interp] register->first correct result %.3f ms; stream of %d stamp tasks: max gap %.1f us "
                            + "while the new op was interpreted (tasks %d..%d), %.1f us after, %.1f us around the promotion swap "
                            + "(pause %.3f ms)%n", latency / 1e6, n, interpGap / 1e3, i0, i1, quietGap / 1e3, swapGap / 1e3,
                    os.stats().lastPauseNanos() / 1e6);
            assertTrue(i1 > i0, "the stream kept issuing while the new op ran");
            assertTrue(interpGap < 250_000, "a gap of " + interpGap / 1e3 + " us in the stream while interpreting: a pause");
        } finally {
            stop.set(true);
            stream.join();
            os.release(stamps);
        }
    }

    /** The longest time without a task start among the device stamps of tasks [from, to) (blocks run in parallel). */
    private static long maxGap(long[] t, long from, long to) {
        if (to - from < 2) return 0;
        long[] w = Arrays.copyOfRange(t, (int) from, (int) to);
        Arrays.sort(w);
        long max = 0;
        for (int i = 1; i < w.length; i++) max = Math.max(max, w[i] - w[i - 1]);
        return max;
    }

    private static void assertClose(float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(want[i]) && Float.isNaN(got[i]) || want[i] == got[i]) continue;  // NaN, equal infinities
            assertTrue(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])),
                    "element " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    @Test
    void policyPromotesAfterUsesAndBatchesEveryPendingStructureIntoOneSwap() throws Exception {
        GpuBackend tiered = new GpuBackend(os, new TieredOperators.Policy(3, Long.MAX_VALUE));
        try (TensorScope s = TensorScope.open(tiered)) {
            Tensor x = values(s, DType.F32, 21, Kind.CONTIGUOUS);
            float[] a0 = x.mul(2.5).sigmoid().hardswish().toFloatArray();       // structure A, use 1 (interpreted)
            float[] b0 = x.sub(0.125).silu().neg().toFloatArray();        // structure B, use 1
            long swaps = os.stats().swaps();
            x.mul(2.5).sigmoid().hardswish().toFloatArray();                    // A use 2
            x.mul(2.5).sigmoid().hardswish().toFloatArray();                    // A use 3: the policy fires (background)
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (tiered.tiers().stats().promotions() == 0 && System.nanoTime() < deadline) Thread.sleep(5);
            TieredOperators.Stats st = tiered.tiers().stats();
            assertEquals(1, st.promotions(), "one promotion");
            assertEquals(2, st.promotedOperators(), "A and B entered together");
            assertEquals(swaps + 1, os.stats().swaps(), "with one swap");
            long nativeBefore = st.nativeTasks();
            assertClose(a0, x.mul(2.5).sigmoid().hardswish().toFloatArray(), 1e-5);
            assertClose(b0, x.sub(0.125).silu().neg().toFloatArray(), 1e-5);
            assertEquals(nativeBefore + 2, tiered.tiers().stats().nativeTasks(), "both run natively now");
        }
    }
}
