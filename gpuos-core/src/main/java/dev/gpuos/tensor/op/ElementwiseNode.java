package dev.gpuos.tensor.op;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * An elementwise op. Invariants: {@code operands.size() == op.arity()}; every tensor operand is already
 * broadcast to the output's shape (zero strides for broadcast dimensions). Every operand (scalars included) is
 * converted on load to {@code operandType} (the common dtype; this may round, e.g. 0.1 to F16) and then to
 * {@link #computeType()} (F32, F64 or I64), the expression is evaluated there, and the result is converted to the
 * output dtype on store.
 */
public final class ElementwiseNode implements OpNode {
    private final ElementwiseOp op;
    private final List<Operand> operands;
    private final Tensor output;
    private final DType operandType;
    private final double[] params;
    // Asked for several times per node while a batching backend plans: computed once.
    private final List<Tensor> inputs;
    private final List<Storage> reads;

    public ElementwiseNode(ElementwiseOp op, List<Operand> operands, Tensor output, DType operandType, double[] params) {
        this.op = op;
        this.operands = List.copyOf(operands);
        this.output = output;
        this.operandType = operandType;
        this.params = params.length == 0 ? params : params.clone();
        // Per op on the recording path: the usual node reads only tensors (its operand list is its input list)
        // from at most two buffers (two fields of a List12, no array).
        int tensors = 0;
        for (Operand o : this.operands) if (o instanceof Tensor) tensors++;
        if (tensors == this.operands.size() && tensors <= 2) {
            @SuppressWarnings("unchecked") List<Tensor> all = (List<Tensor>) (List<?>) this.operands;
            this.inputs = all;
            Storage s0 = tensors == 0 ? null : all.get(0).storage(), s1 = tensors < 2 ? null : all.get(1).storage();
            this.reads = s0 == null ? List.of() : s1 == null || s1 == s0 ? List.of(s0) : List.of(s0, s1);
            return;
        }
        Tensor[] in = new Tensor[tensors];
        Storage[] rd = new Storage[tensors];
        int t = 0, storages = 0;
        for (Operand o : this.operands) {
            if (o instanceof Tensor x) {
                in[t++] = x;
                Storage s = x.storage();
                boolean seen = false;
                for (int i = 0; i < storages && !seen; i++) seen = rd[i] == s;
                if (!seen) rd[storages++] = s;
            }
        }
        this.inputs = List.of(in);
        this.reads = List.of(storages == rd.length ? rd : java.util.Arrays.copyOf(rd, storages));
    }

    public ElementwiseOp op() { return op; }

    public List<Operand> operands() { return operands; }

    @Override
    public Tensor output() { return output; }

    public DType operandType() { return operandType; }

    /** F32 for F16/BF16/F32 operand types, F64 for F64, I64 for integers and BOOL. */
    public DType computeType() { return operandType.computeType(); }

    @Override
    public String opName() { return op.opName(); }

    @Override
    public List<Tensor> inputs() { return inputs; }

    @Override
    public List<Storage> reads() { return reads; }


    /** Op parameters (p0, p1 of the CUDA template), e.g. the slope of leaky_relu; a copy. */
    public double[] params() { return params.clone(); }

    @Override
    public String toString() {
        return "ElementwiseNode[" + op.opName() + " " + operands + " -> " + output + "]";
    }
}
