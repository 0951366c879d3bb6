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
        List<Operand> operands = List.of(operandArray);
        if (operands.size() != op.arity()) {
            throw new IllegalArgumentException(op.opName() + " takes " + op.arity() + " operands, got " + operands.size());
        }
        Tensor first = null;
        long[] shape = null;
        List<Tensor> tensors = new ArrayList<>();
        for (Operand o : operands) {
            if (o instanceof Tensor t) {
                tensors.add(t);
                if (first == null) first = t;
            }
        }
        if (first == null) throw new IllegalArgumentException(op.opName() + " needs at least one tensor operand");
        Dispatch.commonBackend(op.opName(), tensors.toArray(Tensor[]::new));
        for (Tensor t : tensors) shape = shape == null ? t.shape() : Layout.broadcastShapes(shape, t.shape());
        if (op == ElementwiseOp.WHERE && !(operands.getFirst() instanceof Tensor c && c.dtype() == DType.BOOL)) {
            throw new UnsupportedDTypeException("where needs a BOOL condition tensor, got " + describe(operands.getFirst()));
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
        Tensor in = broadcastView(source, output.shape());
        return new ElementwiseNode(ElementwiseOp.CAST, List.of(in), output, source.dtype(), NO_PARAMS);
    }

    private static Tensor build(ElementwiseOp op, List<Operand> operands, Tensor first, long[] shape, DType result,
                                DType operandType, double[] params) {
        List<Operand> broadcast = new ArrayList<>(operands.size());
        for (Operand o : operands) broadcast.add(o instanceof Tensor t ? broadcastView(t, shape) : o);
        Tensor out = Dispatch.allocateResult(first, result, shape);
        return Dispatch.submitFresh(new ElementwiseNode(op, broadcast, out, operandType, params));
    }

    private static Tensor broadcastView(Tensor t, long[] shape) {
        return new Tensor(t.storage(), t.layout().broadcastTo(shape), t.dtype(), t.scope());
    }

    private static String describe(Operand o) {
        return o instanceof Tensor t ? t.toString() : "scalar " + o;
    }
}
