package dev.gpuos.tensor.op;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * An elementwise op. Invariants: {@code operands.size() == op.arity()}; every tensor operand is already
 * broadcast to the output's shape (zero strides for broadcast dimensions). Every operand (scalars included) is
 * converted on load to {@code operandType} (the common dtype; this may round, e.g. 0.1 to F16) and then to
 * {@link #computeType()} (F32, F64 or I64), the expression is evaluated there, and the result is converted to the
 * output dtype on store.
 *
 * @param params op parameters (p0, p1 of the CUDA template), e.g. the slope of leaky_relu; never mutated
 */
public record ElementwiseNode(ElementwiseOp op, List<Operand> operands, Tensor output, DType operandType,
                              double[] params) implements OpNode {
    public ElementwiseNode {
        operands = List.copyOf(operands);
        params = params.clone();
    }

    /** F32 for F16/BF16/F32 operand types, F64 for F64, I64 for integers and BOOL. */
    public DType computeType() { return operandType.computeType(); }

    @Override
    public String opName() { return op.opName(); }

    @Override
    public List<Tensor> inputs() {
        List<Tensor> out = new ArrayList<>();
        for (Operand o : operands) if (o instanceof Tensor t) out.add(t);
        return out;
    }

    @Override
    public double[] params() { return params.clone(); }
}
