package dev.gpuos.tensor.op;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;

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
    // Asked for several times per node while a batching backend plans: found once. The usual node reads at most
    // two buffers, kept in fields (a list per node was 24 of its bytes); more are kept in an array.
    private final List<Tensor> inputs;
    private final Storage read0, read1;
    private final Storage[] moreReads;  // every buffer read, when more than two; else null
    private final int readCount;
    private List<Storage> reads;  // made when asked for (racy: any thread makes an equal list)

    public ElementwiseNode(ElementwiseOp op, List<Operand> operands, Tensor output, DType operandType, double[] params) {
        this.op = op;
        this.operands = List.copyOf(operands);
        this.output = output;
        this.operandType = operandType;
        this.params = params.length == 0 ? params : params.clone();
        // Per op on the recording path: the usual node reads only tensors (its operand list is its input list).
        int tensors = 0;
        for (Operand o : this.operands) if (o instanceof Tensor) tensors++;
        if (tensors == this.operands.size() && tensors <= 2) {
            @SuppressWarnings("unchecked") List<Tensor> all = (List<Tensor>) (List<?>) this.operands;
            this.inputs = all;
            Storage s0 = tensors == 0 ? null : all.get(0).storage(), s1 = tensors < 2 ? null : all.get(1).storage();
            this.read0 = s0;
            this.read1 = s1 == s0 ? null : s1;
            this.readCount = s0 == null ? 0 : read1 == null ? 1 : 2;
            this.moreReads = null;
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
        this.readCount = storages;
        this.read0 = storages > 0 ? rd[0] : null;
        this.read1 = storages > 1 ? rd[1] : null;
        this.moreReads = storages > 2 ? java.util.Arrays.copyOf(rd, storages) : null;
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
    public List<Storage> reads() {
        List<Storage> r = reads;
        if (r == null) {
            r = moreReads != null ? List.of(moreReads) : readCount == 2 ? List.of(read0, read1)
                    : readCount == 1 ? List.of(read0) : List.of();
            reads = r;
        }
        return r;
    }

    @Override
    public int readCount() { return readCount; }

    @Override
    public Storage read(int i) {
        if (moreReads != null) return moreReads[i];
        java.util.Objects.checkIndex(i, readCount);
        return i == 0 ? read0 : read1;
    }


    /** Op parameters (p0, p1 of the CUDA template), e.g. the slope of leaky_relu; a copy. */
    public double[] params() { return params.clone(); }

    @Override
    public String toString() {
        return "ElementwiseNode[" + op.opName() + " " + operands + " -> " + output + "]";
    }
}
