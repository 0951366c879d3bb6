package dev.gpuos.tensor;

import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;

import java.util.ArrayList;
import java.util.List;

/** Validation and node building for elementwise ops (the table itself is {@link ElementwiseOp}). */
final class ElementwiseOps {
    private ElementwiseOps() {}

    static final double[] NO_PARAMS = new double[0];

    static Tensor apply(ElementwiseOp op, double[] params, Operand... operandArray) {
        Dispatch.require("elementwise", "op", op);
        Dispatch.require(op.opName(), "params", params);
        Dispatch.require(op.opName(), "operands", operandArray);
        // Short params read past the array on the CPU but as whatever the task word holds on the GPU.
        int needed = paramsNeeded(op);
        if (params.length < needed) {
            throw new IllegalArgumentException(op.opName() + " takes " + needed + (needed == 1 ? " parameter" : " parameters")
                    + ", got " + params.length);
        }
        checkOperands(op, operandArray.length);
        for (int i = 0; i < operandArray.length; i++) {
            if (operandArray[i] == null) Dispatch.require(op.opName(), operandName(op, i), null);
        }
        return apply(op, params, List.of(operandArray));
    }

    /** A binary op (most calls): the operand list without a varargs array. */
    static Tensor apply(ElementwiseOp op, double[] params, Operand a, Operand b) {
        checkOperands(op, 2);
        if (a == null) Dispatch.require(op.opName(), operandName(op, 0), null);
        if (b == null) Dispatch.require(op.opName(), operandName(op, 1), null);
        if (a instanceof Tensor x && b instanceof Tensor y && x.dtype() == y.dtype()
                && x.layout().hasShape(y.layout().shapeArray())) {
            return binary(op, params, x, y);
        }
        return apply(op, params, List.of(a, b));
    }

    /**
     * Two tensors of one dtype and shape (most ops of a streamed loop): what {@link #apply(ElementwiseOp, double[],
     * List)} does for them (the same checks in the same order), with no operand list (the node keeps both in fields).
     */
    private static Tensor binary(ElementwiseOp op, double[] params, Tensor x, Tensor y) {
        x.ensureOpen();
        y.ensureOpen();
        Dispatch.checkSameBackend(op.opName(), x.backend(), y);
        DType promoted = x.dtype();  // one dtype: what TypePromotion gives whatever the ranks
        op.checkAccepts(promoted);
        Layout layout = x.layout();
        Tensor out = Dispatch.allocateResult(x, op.resultType(promoted), Layout.contiguousLike(layout, layout.shapeArray()));
        return Dispatch.submitFresh(new ElementwiseNode(op, x, y, out, op.operandType(promoted), params));
    }

    /** p0 and p1 as any compute type's expression reads them: 0, 1 or 2. */
    private static int paramsNeeded(ElementwiseOp op) {
        int mask = op.paramsRead(DType.F32) | op.paramsRead(DType.F64) | op.paramsRead(DType.I64);
        return (mask & 2) != 0 ? 2 : mask & 1;
    }

    private static void checkOperands(ElementwiseOp op, int count) {
        if (count != op.arity()) {
            throw new IllegalArgumentException(op.opName() + " takes " + op.arity() + " operands, got " + count);
        }
    }

    /** {@code operands}: immutable, of the op's arity, no null. */
    private static Tensor apply(ElementwiseOp op, double[] params, List<Operand> operands) {
        // The per-op path: no shape copies unless shapes differ (see HostCostBenchmark.tensorRecord).
        Tensor first = null;
        long[] shape = null;
        Backend backend = null;
        for (int i = 0; i < operands.size(); i++) {
            if (!(operands.get(i) instanceof Tensor t)) continue;
            t.ensureOpen();
            if (first == null) {
                first = t;
                backend = t.backend();
                shape = t.layout().shapeArray();
            } else {
                Dispatch.checkSameBackend(op.opName(), backend, t);
                if (!t.layout().hasShape(shape)) shape = Layout.broadcastShapes(shape, t.layout().shapeArray());
            }
        }
        if (first == null) throw new IllegalArgumentException(op.opName() + " needs at least one tensor operand");
        if (op == ElementwiseOp.WHERE && !(operands.get(0) instanceof Tensor c && c.dtype() == DType.BOOL)) {
            throw new UnsupportedDTypeException("where needs a BOOL condition tensor, got " + describe(operands.get(0)));
        }
        DType promoted = op.promotedType(operands);
        op.checkAccepts(promoted);
        return build(op, operands, first, shape, op.resultType(promoted), op.operandType(promoted), params);
    }

    /** Conversion (and contiguous copy when {@code target == t.dtype()}). */
    static Tensor cast(Tensor t, DType target) {
        t.ensureOpen();
        // A conversion loads in the source dtype; all the rounding happens on store.
        return build(ElementwiseOp.CAST, List.of(t), t, t.shape(), target, t.dtype(), NO_PARAMS);
    }

    /** Builds a node writing into {@code output} (an existing view, e.g. a slice for cat); not submitted. */
    static ElementwiseNode castInto(Tensor source, Tensor output) {
        Dispatch.require("copyFrom", "source", source);
        Tensor in = broadcastView(source, output.shape());
        return new ElementwiseNode(ElementwiseOp.CAST, List.of(in), output, source.dtype(), NO_PARAMS);
    }

    private static Tensor build(ElementwiseOp op, List<Operand> operands, Tensor first, long[] shape, DType result,
                                DType operandType, double[] params) {
        List<Operand> broadcast = operands;  // immutable: the node keeps it unless a view must be broadcast
        for (int i = 0; i < operands.size(); i++) {
            if (operands.get(i) instanceof Tensor t && !t.layout().hasShape(shape)) {
                Operand[] views = new Operand[operands.size()];
                for (int k = 0; k < views.length; k++) {
                    views[k] = operands.get(k) instanceof Tensor u ? broadcastView(u, shape) : operands.get(k);
                }
                broadcast = List.of(views);
                break;
            }
        }
        Tensor out = Dispatch.allocateResult(first, result, Layout.contiguousLike(first.layout(), shape));
        return Dispatch.submitFresh(new ElementwiseNode(op, broadcast, out, operandType, params));
    }

    /** {@code t} itself when it already has {@code shape} (views are immutable), else its broadcast view. */
    private static Tensor broadcastView(Tensor t, long[] shape) {
        if (t.layout().hasShape(shape)) return t;
        return new Tensor(t.storage(), t.layout().broadcastTo(shape), t.dtype(), t.scope());
    }

    /** The parameter name of operand {@code i} in Tensor's methods, for messages. */
    private static String operandName(ElementwiseOp op, int i) {
        String[] names = switch (op) {
            case WHERE -> new String[]{"condition", "x", "y"};
            case CLAMP -> new String[]{"this tensor", "min", "max"};
            case POW -> new String[]{"this tensor", "exponent"};
            default -> new String[]{"this tensor", "other"};
        };
        return i < names.length ? names[i] : "operand " + i;
    }

    private static String describe(Operand o) {
        return o instanceof Tensor t ? t.toString() : "scalar " + o;
    }
}
