package dev.gpuos.tensor.interp;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Compiles a run of elementwise members (what the GPU backend renders into one generated operator) into an op
 * program with the SAME task interface: the same operands in the same order (memory inputs by first use, then
 * one output per member), the same argument words in the same slots (per member: its scalar operands, then
 * the parameter words its CUDA template names). A task written for the native operator therefore runs the
 * program unchanged, with the program's address added in the last argument word.
 *
 * <p>Semantics follow the native renderer exactly: an operand is loaded as stored, converted to the member's
 * compute type through its operand type; the result is converted to the output dtype and stored, and a later
 * member that consumes it sees those stored bits (fusion never changes results); a same-dtype CAST moves bits.
 *
 * <p>Registers: member m's stored bits live in register m (at most 3 members fit a 4-operand task), operand k
 * of the member being computed in register members + k, its result in members + 3.
 */
public final class ProgramCompiler {
    private ProgramCompiler() {}

    /** Thrown for a run the interpreter cannot take (it then runs natively). */
    public static final class NotInterpretable extends RuntimeException {
        NotInterpretable(String why) {
            super(why);
        }
    }

    public static Program compile(List<ElementwiseNode> members) {
        List<Tensor> inputs = new ArrayList<>();
        int args = 0;
        int m = members.size();
        if (m > 3) throw new NotInterpretable(m + " members: at most 3 fit one task");
        ByteArrayOutputStream code = new ByteArrayOutputStream(256);
        emit(code, Opcode.PROGRAM, 0, 0, 0, 0, 0, 0, 0); // patched below
        int registers = 0;
        for (int j = 0; j < m; j++) {
            ElementwiseNode node = members.get(j);
            DType compute = node.computeType(), opType = node.operandType(), out = node.output().dtype();
            int cc = Opcode.computeCode(compute);
            List<Operand> operands = node.operands();
            int[] regOf = new int[operands.size()];
            int[] rawRef = new int[operands.size()];   // for a same-dtype CAST: the source's raw register
            DType[] storage = new DType[operands.size()];
            boolean[] scalar = new boolean[operands.size()];
            int[] argSlot = new int[operands.size()];
            for (int k = 0; k < operands.size(); k++) {
                int reg = m + k;
                regOf[k] = reg;
                if (operands.get(k) instanceof Scalar s) {
                    scalar[k] = true;
                    argSlot[k] = args++;
                    continue;
                }
                Tensor t = (Tensor) operands.get(k);
                int producer = producer(members, j, t);
                storage[k] = t.dtype();
                if (producer >= 0) {
                    rawRef[k] = producer;
                } else {
                    int input = inputIndex(inputs, t);
                    emit(code, Opcode.LOAD, reg, input, 0, 0, code(t.dtype()), 0, 0);
                    rawRef[k] = reg;
                }
            }
            String template = node.op().cudaExpression(compute);
            int[] params = {InterpreterSource.NO_PARAM, InterpreterSource.NO_PARAM};
            for (int p = 0; p < 2; p++) {
                if (template != null && template.contains("p" + p)) params[p] = args++;
            }
            int result = m + 3;
            registers = Math.max(registers, result + 1);
            boolean rawCopy = node.op() == ElementwiseOp.CAST && !scalar[0] && storage[0] == out;
            if (rawCopy) {
                emitStore(code, Opcode.STORE_RAW, j, rawRef[0], j, code(out), 0);
                continue;
            }
            if (template == null) throw new NotInterpretable(node.opName() + " has no " + compute + " form");
            for (int k = 0; k < operands.size(); k++) {
                if (scalar[k]) emit(code, Opcode.ARG, regOf[k], argSlot[k], 0, 0, 0, 0, cc);
                else emit(code, Opcode.CVT, regOf[k], rawRef[k], 0, 0, code(storage[k]), code(opType), cc);
            }
            Opcode eval = switch (compute) {
                case F32 -> Opcode.EVAL_F32;
                case F64 -> Opcode.EVAL_F64;
                default -> Opcode.EVAL_I64;
            };
            int a = regOf[0], b = regOf.length > 1 ? regOf[1] : a, c = regOf.length > 2 ? regOf[2] : a;
            emit(code, eval, result, a, b, c, node.op().ordinal(), params[0], params[1]);
            emitStore(code, Opcode.STORE, j, result, j, code(out), cc);
        }
        byte[] bytes = code.toByteArray();
        int n = bytes.length / 8;
        if (n > InterpreterSource.MAX_INSTRS) throw new NotInterpretable(n + " instructions");
        // Output operands come after the inputs: STOREs were emitted with the member index in b; shift them.
        for (int i = 1; i < n; i++) {
            int op = bytes[8 * i];
            if (op == Opcode.STORE.code() || op == Opcode.STORE_RAW.code()) bytes[8 * i + 3] += (byte) inputs.size();
        }
        int refs = inputs.size() + m;
        if (refs > 4) throw new NotInterpretable(refs + " operands");
        if (args > InterpreterSource.PROGRAM_ARG) throw new NotInterpretable(args + " argument words: the last one carries the program");
        bytes[1] = (byte) registers;
        bytes[2] = (byte) (n & 0xff);
        bytes[3] = (byte) (n >> 8);
        bytes[4] = (byte) refs;
        bytes[5] = (byte) args;
        bytes[6] = (byte) InterpreterSource.VERSION;
        bytes[7] = (byte) InterpreterSource.MAGIC;
        return new Program(bytes, refs, args, registers);
    }

    /**
     * A reduction program: the task interface is the native reduce family's (refs: the input viewed as
     * [kept..., reduced...] and the flat output; args: op, kept dims, whole-block flag, groups), so a task built
     * for the native operator runs it unchanged. Sum, prod, mean, max and min; argmax/argmin run natively.
     */
    public static Program compileReduce(ReduceOp op, DType input) {
        if (op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN) throw new NotInterpretable(op.opName() + " runs natively");
        ByteArrayOutputStream code = new ByteArrayOutputStream(16);
        emit(code, Opcode.PROGRAM, 0, 2, 0, 2, 4, InterpreterSource.VERSION, InterpreterSource.MAGIC);
        emit(code, Opcode.REDUCE, 0, 0, 0, 0, op.ordinal(), code(input), 0);
        return new Program(code.toByteArray(), 2, 4, 0);
    }

    private static void emitStore(ByteArrayOutputStream code, Opcode op, int dst, int src, int member, int dtype, int cc) {
        emit(code, op, dst, src, member, 0, dtype, 0, cc);
    }

    private static void emit(ByteArrayOutputStream code, Opcode op, int dst, int a, int b, int c, int x, int y, int z) {
        code.write(op.code());
        code.write(dst);
        code.write(a);
        code.write(b);
        code.write(c);
        code.write(x);
        code.write(y);
        code.write(z);
    }

    /** The DTypeCode of a dtype (the codes the layout header exports as GPUOS_DTYPE_*). */
    static int code(DType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            case F64 -> 3;
            case I32 -> 4;
            case I64 -> 5;
            case BOOL -> 6;
        };
    }

    /** As the native renderer: the last earlier member whose output {@code t} is, element for element, or -1. */
    private static int producer(List<ElementwiseNode> members, int before, Tensor t) {
        for (int j = before - 1; j >= 0; j--) {
            Tensor o = members.get(j).output();
            if (o.storage() == t.storage() && o.dtype() == t.dtype() && o.layout().equals(t.layout())) return j;
        }
        return -1;
    }

    private static int inputIndex(List<Tensor> inputs, Tensor t) {
        for (int i = 0; i < inputs.size(); i++) {
            Tensor u = inputs.get(i);
            if (u.storage() == t.storage() && u.dtype() == t.dtype() && u.layout().equals(t.layout())) return i;
        }
        inputs.add(t);
        return inputs.size() - 1;
    }

    /** The task's operands in order: memory inputs by first use, then one output per member. */
    public static List<Tensor> operands(List<ElementwiseNode> members) {
        List<Tensor> inputs = new ArrayList<>();
        for (int j = 0; j < members.size(); j++) {
            for (Operand o : members.get(j).operands()) {
                if (o instanceof Tensor t && producer(members, j, t) < 0) inputIndex(inputs, t);
            }
        }
        List<Tensor> all = new ArrayList<>(inputs);
        for (ElementwiseNode n : members) all.add(n.output());
        return all;
    }

    /** The task's argument words: per member, its scalar operands, then the parameters its template names. */
    public static long[] args(List<ElementwiseNode> members) {
        List<Long> args = new ArrayList<>();
        for (ElementwiseNode node : members) {
            for (Operand o : node.operands()) {
                if (o instanceof Scalar s) args.add(scalarBits(s, node.operandType(), node.computeType()));
            }
            String template = node.op().cudaExpression(node.computeType());
            double[] params = node.params();
            for (int p = 0; p < 2; p++) {
                if (template != null && template.contains("p" + p)) {
                    args.add(Double.doubleToRawLongBits(p < params.length ? params[p] : 0));
                }
            }
        }
        return args.stream().mapToLong(Long::longValue).toArray();
    }

    /** A scalar operand's argument word, as the native path writes it (ElementwiseKernels.scalarBits). */
    public static long scalarBits(Scalar s, DType opType, DType compute) {
        if (compute == DType.I64) return HostElements.round(opType, s.longValue());
        double v = s.kind() == DType.F64 ? HostElements.round(opType, s.doubleValue())
                : HostElements.round(opType, (double) s.longValue());
        return Double.doubleToRawLongBits(v);
    }
}
