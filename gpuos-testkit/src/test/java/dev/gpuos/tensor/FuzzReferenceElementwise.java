package dev.gpuos.tensor;

import dev.gpuos.tensor.RefElementwise.RefOperand;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.FuzzStep;

import java.util.ArrayList;
import java.util.List;

/**
 * Elementwise steps of {@link FuzzReference}: PyTorch's dtype rules from {@link RefElementwise}, each function
 * from its definition in double precision (integers with exact long semantics), rounded once to the result dtype.
 */
final class FuzzReferenceElementwise {
    private FuzzReferenceElementwise() {}

    static RefArray apply(FuzzStep s, java.util.Map<Integer, RefArray> live) {
        int[] in = s.in();
        Scalar[] sc = s.scalars();
        FuzzOp op = s.op();
        // Operands in order: tensors then scalars, except WHERE and CLAMP whose scalars stand for missing tensors.
        List<RefOperand> ops = new ArrayList<>();
        for (int id : in) ops.add(new RefOperand(live.get(id), 0, null));
        boolean paramsOnly = op == FuzzOp.LEAKY_RELU || op == FuzzOp.ELU || op == FuzzOp.SOFTPLUS;
        if (!paramsOnly) for (Scalar x : sc) ops.add(new RefOperand(null, x.doubleValue(), x.kind()));
        List<RefOperand> promoted = op == FuzzOp.WHERE ? ops.subList(1, ops.size()) : ops;
        DType p = RefElementwise.resultType(promoted);
        boolean compare = switch (op) { case EQ, NE, LT, LE, GT, GE -> true; default -> false; };
        boolean floatResult = switch (op) {
            case DIV, EXP, LOG, SQRT, RSQRT, SIN, COS, TANH, SIGMOID -> true;
            default -> false;
        };
        DType result = compare ? DType.BOOL : floatResult && !p.isFloating() ? DType.F32 : p;
        DType operandType = compare ? p : result;
        long[] shape = new long[0];
        for (RefOperand o : ops) if (!o.isScalar()) shape = RefArray.broadcast(shape, o.array().shape);
        RefArray out = RefArray.zeros(result, shape);
        boolean integral = !operandType.isFloating();
        double[] params = new double[sc.length];
        for (int i = 0; i < sc.length; i++) params[i] = sc[i].doubleValue();
        RefArray.forEachIndex(shape, idx -> {
            double[] v = new double[ops.size()];
            for (int i = 0; i < v.length; i++) {
                RefOperand o = ops.get(i);
                double raw = o.isScalar() ? o.scalar() : o.array().broadcastAt(idx);
                // WHERE's condition is read as BOOL, not converted to the common dtype.
                v[i] = op == FuzzOp.WHERE && i == 0 ? raw : RefArray.roundTo(operandType, raw);
            }
            double r = integral ? integral(op, v) : real(op, v, params);
            out.set(idx, RefArray.roundTo(result, r));
        });
        return out;
    }

    private static double real(FuzzOp op, double[] v, double[] p) {
        double a = v[0], b = v.length > 1 ? v[1] : 0;
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case FLOOR_DIVIDE -> RefElementwise.torchFloorDivide(a, b, 0);
            case REMAINDER -> RefElementwise.pyMod(a, b);
            case POW -> RefElementwise.cPow(a, b);
            case MAXIMUM -> RefElementwise.nanMax(a, b);
            case MINIMUM -> RefElementwise.nanMin(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case NEG -> -a;
            case ABS -> Math.abs(a);
            case RELU -> Double.isNaN(a) ? a : Math.max(a, 0);
            case EXP -> Math.exp(a);
            case LOG -> Math.log(a);
            case SQRT -> Math.sqrt(a);
            case RSQRT -> 1 / Math.sqrt(a);
            case SIN -> Math.sin(a);
            case COS -> Math.cos(a);
            case TANH -> Math.tanh(a);
            case SIGMOID -> RefElementwise.sigmoid(a);
            // The cancellation-free forms every backend computes (see ElementwiseOp.GELU_TANH).
            case GELU -> a * 0.5 * dev.gpuos.tensor.op.ScalarMath.erfc(-a / Math.sqrt(2));
            case GELU_TANH -> a / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a)));
            case SILU -> a * RefElementwise.sigmoid(a);
            case HARDSIGMOID -> RefElementwise.hardsigmoid(a);
            case HARDSWISH -> a * RefElementwise.hardsigmoid(a);
            case LEAKY_RELU -> a > 0 ? a : a * p[0];
            case ELU -> a > 0 ? a : p[0] * Math.expm1(a);
            case SOFTPLUS -> a * p[0] > p[1] ? a : Math.log1p(Math.exp(a * p[0])) / p[0];
            case CLAMP -> RefElementwise.nanMin(RefElementwise.nanMax(a, b), v[2]);
            case WHERE -> a != 0 ? v[1] : v[2];
            default -> throw new IllegalArgumentException("not elementwise: " + op);
        };
    }

    private static double integral(FuzzOp op, double[] v) {
        long a = (long) v[0], b = v.length > 1 ? (long) v[1] : 0;
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case FLOOR_DIVIDE -> b == 0 ? 0 : Math.floorDiv(a, b);
            case REMAINDER -> b == 0 ? 0 : Math.floorMod(a, b);
            case POW -> RefElementwise.intPow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case NEG -> -a;
            case ABS -> Math.abs(a);
            case RELU -> Math.max(a, 0);
            case CLAMP -> Math.min(Math.max(a, b), (long) v[2]);
            case WHERE -> a != 0 ? v[1] : v[2];
            default -> throw new IllegalArgumentException("no integral form: " + op);
        };
    }
}
