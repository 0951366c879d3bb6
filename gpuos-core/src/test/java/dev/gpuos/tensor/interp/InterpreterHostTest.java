package dev.gpuos.tensor.interp;

import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.BFloat16;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedDTypeException;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.ReduceOp;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The interpreter core, compiled by nvcc into a host program ({@link HostInterpreter}), against the CPU backend:
 * every elementwise op x every accepted dtype (tensor operands, scalar operands, transposed and broadcast
 * views), casts between all dtypes, and fused runs of 2-3 members (stored-value semantics, same-dtype copies,
 * params). Integers and BOOL must agree bit for bit; floats within the dtype's tolerance (the host's libm is
 * not Java's). Skips without nvcc.
 */
class InterpreterHostTest {
    static final long ROWS = 3, COLS = 37;

    /** One case: the members, their CPU results (computed by the CPU backend), and what to send. */
    private record Built(String label, List<ElementwiseNode> members, HostInterpreter.Case hostCase, List<Tensor> operands) {
        Built(String label, List<ElementwiseNode> members, HostInterpreter.Case hostCase) {
            this(label, members, hostCase, ProgramCompiler.operands(members));
        }

        int outputs() {
            return members.isEmpty() ? 1 : members.size();
        }
    }

    private final SplittableRandom rnd = new SplittableRandom(6);

    @Test
    void everyOpAndDtypeAgreesWithTheCpuBackend() throws Exception {
        HostInterpreter.assumeNvcc();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<Built> cases = new ArrayList<>();
            for (ElementwiseOp op : ElementwiseOp.values()) {
                if (op == ElementwiseOp.CAST) continue;
                for (DType t : DType.values()) {
                    try {
                        op.checkAccepts(t);
                    } catch (UnsupportedDTypeException e) {
                        continue;
                    }
                    for (int variant = 0; variant < 3; variant++) {
                        if (variant == 1 && op.arity() == 1) continue;
                        cases.add(single(s, op, t, variant));
                    }
                }
            }
            for (DType from : DType.values()) {
                for (DType to : DType.values()) cases.add(cast(s, from, to));
            }
            check(cases);
        }
    }

    @Test
    void fusedRunsKeepStoredValuesAndMoveBitsOnSameDtypeCopies() throws Exception {
        HostInterpreter.assumeNvcc();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<Built> cases = new ArrayList<>();
            // f16 input: add a scalar (stored as F16), exp of the stored value, cast to F32: 1 input + 3 outputs.
            Tensor x = input(s, DType.F16, false);
            Tensor a = out(s, DType.F16), b = out(s, DType.F16), c = out(s, DType.F32);
            cases.add(run("f16 add-exp-cast", List.of(
                    node(ElementwiseOp.ADD, List.of(x, Scalar.of(0.3)), a),
                    node(ElementwiseOp.EXP, List.of(a), b),
                    new ElementwiseNode(ElementwiseOp.CAST, List.of(b), c, DType.F16, new double[0]))));
            // i32 square, same-dtype copy (bits), compare with a scalar into BOOL.
            Tensor i = input(s, DType.I32, true);  // used twice: one operand
            Tensor m = out(s, DType.I32), cp = out(s, DType.I32), g = out(s, DType.BOOL);
            cases.add(run("i32 mul-copy-gt", List.of(
                    node(ElementwiseOp.MUL, List.of(i, i), m),
                    new ElementwiseNode(ElementwiseOp.CAST, List.of(m), cp, DType.I32, new double[0]),
                    node(ElementwiseOp.GT, List.of(cp, Scalar.of(3L)), g))));
            // where over a bool condition and mixed float dtypes, then leaky_relu with a param, then softplus (2 params).
            Tensor cond = input(s, DType.BOOL, false), p = input(s, DType.BF16, true);
            Tensor w = out(s, DType.F32), l = out(s, DType.F32);
            cases.add(run("where-leaky", List.of(
                    node(ElementwiseOp.WHERE, List.of(cond, p, Scalar.of(0.7)), w),
                    node(ElementwiseOp.LEAKY_RELU, List.of(w), l, 0.125))));
            Tensor z = input(s, DType.F64, true);
            Tensor sp = out(s, DType.F64), sq = out(s, DType.F64), neg = out(s, DType.F64);
            cases.add(run("f64 softplus-sqrt-neg", List.of(
                    node(ElementwiseOp.SOFTPLUS, List.of(z), sp, 2.0, 1.5),
                    node(ElementwiseOp.SQRT, List.of(sp), sq),
                    node(ElementwiseOp.NEG, List.of(sq), neg))));
            check(cases);
        }
    }

    /** Random runs of 1-3 members: random ops, dtypes, scalars, casts and views, as many as fit one task. */
    @Test
    void randomFusedRunsAgreeWithTheCpuBackend() throws Exception {
        HostInterpreter.assumeNvcc();
        ElementwiseOp[] ops = ElementwiseOp.values();
        DType[] dtypes = DType.values();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<Built> cases = new ArrayList<>();
            for (int trial = 0; cases.size() < 400 && trial < 5000; trial++) {
                SplittableRandom r = new SplittableRandom(1000 + trial);
                List<ElementwiseNode> members = new ArrayList<>();
                List<Tensor> inputs = new ArrayList<>();
                Tensor cur = input(s, dtypes[r.nextInt(dtypes.length)], r.nextBoolean(), false);
                inputs.add(cur);
                int m = 1 + r.nextInt(3);
                StringBuilder label = new StringBuilder("fuzz " + trial + ":");
                for (int j = 0; j < m; j++) {
                    ElementwiseOp op = ops[r.nextInt(ops.length)];
                    if (op == ElementwiseOp.CAST) {
                        DType to = dtypes[r.nextInt(dtypes.length)];
                        Tensor o = out(s, to);
                        members.add(new ElementwiseNode(op, List.of(cur), o, cur.dtype(), new double[0]));
                        label.append(" cast->").append(to);
                        cur = o;
                        continue;
                    }
                    List<Operand> operands = new ArrayList<>();
                    for (int k = 0; k < op.arity(); k++) {
                        boolean cond = op == ElementwiseOp.WHERE && k == 0;
                        int roll = r.nextInt(3);
                        if (k == (op == ElementwiseOp.WHERE ? 1 : 0)) operands.add(cur);
                        else if (cond) operands.add(cur.dtype() == DType.BOOL ? cur : input(s, DType.BOOL, r.nextBoolean(), false));
                        else if (roll == 0) operands.add(scalarOf(cur.dtype()));
                        else if (roll == 1) operands.add(cur);
                        else operands.add(input(s, dtypes[r.nextInt(dtypes.length)], false, r.nextBoolean()));
                    }
                    DType promoted;
                    try {
                        promoted = op.promotedType(operands);
                        op.checkAccepts(promoted);
                    } catch (UnsupportedDTypeException e) {
                        break;
                    }
                    Tensor o = out(s, op.resultType(promoted));
                    members.add(new ElementwiseNode(op, operands, o, op.operandType(promoted),
                            new double[]{r.nextDouble(0.01, 2), r.nextDouble(-1, 3)}));
                    label.append(' ').append(op.opName()).append(operands.stream().map(x -> x instanceof Scalar sc ? "(" + sc + ")" : "[" + ((Tensor) x).dtype() + "]").toList());
                    cur = o;
                }
                if (members.isEmpty() || ProgramCompiler.operands(members).size() > 4) continue;
                if (ProgramCompiler.args(members).length > InterpreterSource.PROGRAM_ARG) continue;
                cases.add(run(label.toString(), members));
            }
            assertTrue(cases.size() >= 300, "only " + cases.size() + " fuzz cases fit one task");
            check(cases);
        }
    }

    /** sum, prod, mean, max, min of every dtype over the last dim of a contiguous and of a transposed input. */
    @Test
    void reductionsAgreeWithTheCpuBackend() throws Exception {
        HostInterpreter.assumeNvcc();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<Built> cases = new ArrayList<>();
            for (ReduceOp op : new ReduceOp[]{ReduceOp.SUM, ReduceOp.PROD, ReduceOp.MEAN, ReduceOp.MAX, ReduceOp.MIN}) {
                for (DType t : DType.values()) {
                    if (op == ReduceOp.MEAN && !t.isFloating()) continue;
                    for (boolean transposed : new boolean[]{false, true}) {
                        Tensor x = input(s, t, transposed);          // ROWS x COLS (a transposed view when asked)
                        Tensor o = s.zeros(op.resultType(t), ROWS);
                        ReduceNode node = new ReduceNode(op, x, new int[]{1}, false, o);
                        Program program = ProgramCompiler.compileReduce(op, t);
                        long[] args = {op.ordinal(), 1, 0, ROWS};
                        HostInterpreter.Case c = new HostInterpreter.Case(program, args, ROWS, List.of(ref(x), ref(o)));
                        ((CpuBackend) x.backend()).submit(node);
                        cases.add(new Built(op.opName() + " " + t + (transposed ? " transposed" : ""), List.of(), c, List.of(x, o)));
                    }
                }
            }
            check(cases);
        }
    }

    @Test
    void programsFitTheRegisterFileAndCarryTheNativeTaskInterface() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = input(s, DType.F32, false);
            Tensor a = out(s, DType.F32), b = out(s, DType.F32), c = out(s, DType.F32);
            List<ElementwiseNode> run = List.of(
                    node(ElementwiseOp.MUL, List.of(x, Scalar.of(1.5)), a),
                    node(ElementwiseOp.ELU, List.of(a), b, 0.7),
                    node(ElementwiseOp.CLAMP, List.of(b, Scalar.of(-0.5), Scalar.of(2.0)), c));
            Program p = ProgramCompiler.compile(run);
            assertEquals(4, p.refs());
            assertEquals(4, p.args(), "mul's scalar, elu's alpha, clamp's two bounds");
            assertEquals(ProgramCompiler.args(run).length, p.args());
            assertTrue(p.registers() <= InterpreterSource.MAX_REGS, p.disassemble());
            assertTrue(p.instructions() <= InterpreterSource.MAX_INSTRS, p.disassemble());
            assertEquals(Opcode.PROGRAM.code(), p.code()[0]);
        }
    }

    // ---- building cases

    private Built single(TensorScope s, ElementwiseOp op, DType t, int variant) {
        List<Operand> operands = new ArrayList<>();
        for (int k = 0; k < op.arity(); k++) {
            DType dt = op == ElementwiseOp.WHERE && k == 0 ? DType.BOOL : t;
            if (variant == 1 && k == 1) operands.add(scalarOf(dt));
            else operands.add(input(s, dt, variant == 2 && k == 0, variant == 2 && k == 1));
        }
        double[] params = switch (op) {
            case LEAKY_RELU -> new double[]{0.01};
            case ELU -> new double[]{1.3};
            case SOFTPLUS -> new double[]{1.0, 2.0};
            default -> new double[0];
        };
        DType promoted = op.promotedType(operands);
        Tensor o = out(s, op.resultType(promoted));
        ElementwiseNode n = new ElementwiseNode(op, operands, o, op.operandType(promoted), params);
        return run(op.opName() + " " + t + " variant " + variant, List.of(n));
    }

    private Built cast(TensorScope s, DType from, DType to) {
        Tensor x = input(s, from, true);
        return run("cast " + from + "->" + to, List.of(
                new ElementwiseNode(ElementwiseOp.CAST, List.of(x), out(s, to), from, new double[0])));
    }

    private static ElementwiseNode node(ElementwiseOp op, List<Operand> operands, Tensor out, double... params) {
        DType promoted = op.promotedType(operands);
        return new ElementwiseNode(op, operands, out, op.operandType(promoted), params);
    }

    private Operand scalarOf(DType t) {
        return switch (t.category()) {
            case FLOATING -> Scalar.of(rnd.nextDouble(-3, 3));
            case INTEGRAL -> Scalar.of((long) rnd.nextInt(-9, 10));
            case BOOL -> Scalar.of(rnd.nextBoolean());
        };
    }

    private Tensor input(TensorScope s, DType t, boolean transposed) {
        return input(s, t, transposed, false);
    }

    /** ROWS x COLS values of dtype t: contiguous, a transposed view of a COLS x ROWS base, or a broadcast row. */
    private Tensor input(TensorScope s, DType t, boolean transposed, boolean broadcast) {
        long n = broadcast ? COLS : ROWS * COLS;
        double[] v = new double[(int) n];
        double[] special = {0.0, -0.0, 1.0, -1.0, 0.5, 2.5, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1e-6};
        for (int i = 0; i < n; i++) {
            double x = switch (t.category()) {
                case FLOATING -> i < special.length && !broadcast ? special[i] : rnd.nextDouble(-4, 4);
                // Some beyond F16's and BF16's integers, so rounding through a float operand type shows.
                case INTEGRAL -> rnd.nextInt(4) == 0 ? rnd.nextInt(-100_000, 100_001) : rnd.nextInt(-20, 21);
                case BOOL -> rnd.nextBoolean() ? 1 : 0;
            };
            v[i] = HostElements.round(t, x);
        }
        if (broadcast) return s.tensor(v, t, COLS).expand(ROWS, COLS);
        if (transposed) return s.tensor(v, t, COLS, ROWS).transpose(0, 1);
        return s.tensor(v, t, ROWS, COLS);
    }

    private static Tensor out(TensorScope s, DType t) {
        return s.zeros(t, ROWS, COLS);
    }

    private Built run(String label, List<ElementwiseNode> members) {
        Program program = ProgramCompiler.compile(members);
        List<Tensor> operands = ProgramCompiler.operands(members);
        List<HostInterpreter.Ref> refs = new ArrayList<>();
        for (Tensor t : operands) refs.add(ref(t));
        HostInterpreter.Case c = new HostInterpreter.Case(program, ProgramCompiler.args(members), ROWS * COLS, refs);
        // Only now compute the expected results on the CPU (the operand bytes above are the inputs as sent).
        CpuBackend cpu = (CpuBackend) operands.getFirst().backend();
        for (ElementwiseNode n : members) cpu.submit(n);
        return new Built(label, members, c);
    }

    /** An operand as the host program gets it: its storage bytes from element 0 of the view on. */
    private static HostInterpreter.Ref ref(Tensor t) {
        Tensor base = t;
        // The views used here start at storage offset 0; their storage holds exactly the base's elements.
        long elements = t.storage().byteSize() / t.dtype().byteSize();
        byte[] data = bytesOf(t, elements);
        int dtype = ProgramCompiler.code(t.dtype());
        boolean contiguous = t.layout().isContiguous();
        return new HostInterpreter.Ref(dtype, base.shape(), base.strides(), contiguous, data);
    }

    private static byte[] bytesOf(Tensor t, long elements) {
        byte[] out = new byte[(int) (elements * t.dtype().byteSize())];
        var seg = java.lang.foreign.MemorySegment.ofArray(out);
        t.backend().read(t.storage(), 0, seg);
        return out;
    }

    private static void check(List<Built> cases) throws Exception {
        List<List<byte[]>> got = HostInterpreter.run(cases.stream().map(Built::hostCase).toList());
        List<String> failures = new ArrayList<>();
        for (int c = 0; c < cases.size(); c++) {
            Built b = cases.get(c);
            List<Tensor> operands = b.operands();
            int firstOut = operands.size() - b.outputs();
            for (int k = firstOut; k < operands.size(); k++) {
                Tensor expected = operands.get(k);
                byte[] want = bytesOf(expected, expected.numel());
                String diff = compare(expected.dtype(), want, got.get(c).get(k));
                if (diff != null) failures.add(b.label() + " output " + (k - firstOut) + ": " + diff + "\n" + b.hostCase().program().disassemble());
            }
        }
        System.out.println("[interp] host interpreter: " + cases.size() + " cases, " + failures.size() + " differ");
        if (!failures.isEmpty()) fail(failures.size() + " of " + cases.size() + " cases differ:\n" + String.join("\n", failures.subList(0, Math.min(8, failures.size()))));
    }

    private static String compare(DType t, byte[] want, byte[] got) {
        ByteBuffer w = ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN), g = ByteBuffer.wrap(got).order(ByteOrder.LITTLE_ENDIAN);
        int n = want.length / t.byteSize();
        for (int i = 0; i < n; i++) {
            if (!t.isFloating()) {
                long a = intAt(t, w, i), b = intAt(t, g, i);
                if (a != b) return "element " + i + ": expected " + a + ", interpreted " + b;
                continue;
            }
            double a = floatAt(t, w, i), b = floatAt(t, g, i);
            if (Double.isNaN(a) && Double.isNaN(b) || a == b) continue;
            double tol = ToleranceTable.elementwise(t);
            if (!(Math.abs(a - b) <= tol * Math.max(Math.abs(a), 1e-3))) {
                return "element " + i + ": expected " + a + ", interpreted " + b;
            }
        }
        return null;
    }

    private static long intAt(DType t, ByteBuffer b, int i) {
        return switch (t) {
            case I64 -> b.getLong(8 * i);
            case I32 -> b.getInt(4 * i);
            default -> b.get(i);
        };
    }

    private static double floatAt(DType t, ByteBuffer b, int i) {
        return switch (t) {
            case F64 -> b.getDouble(8 * i);
            case F32 -> b.getFloat(4 * i);
            case F16 -> Float.float16ToFloat(b.getShort(2 * i));
            default -> BFloat16.toFloat(b.getShort(2 * i));
        };
    }
}
