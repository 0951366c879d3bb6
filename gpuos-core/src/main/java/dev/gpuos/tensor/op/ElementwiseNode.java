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
    private final Tensor output;
    private final DType operandType;
    private final double[] params;
    // Per op on the recording path, and asked for several times per node while a batching backend plans. The
    // usual node is a binary op of two tensors: it keeps them in fields (an operand list per node was 24 bytes and
    // an object the planner touched again per pass), and the distinct buffers it reads are theirs. Any other node
    // (a scalar operand, a ternary op) keeps its operands, tensors and buffers in a Wide.
    private final Tensor in0, in1;  // the usual node's operands, or null
    private final Wide wide;  // null for the usual node
    private final byte readCount;

    /** A node that is not two tensors: its operands as given, its tensors and the distinct buffers they are in. */
    private record Wide(List<Operand> operands, List<Tensor> inputs, Storage[] reads) {}

    public ElementwiseNode(ElementwiseOp op, List<Operand> operands, Tensor output, DType operandType, double[] params) {
        this(op, twoTensors(operands) ? null : List.copyOf(operands), twoTensors(operands) ? (Tensor) operands.get(0) : null,
                twoTensors(operands) ? (Tensor) operands.get(1) : null, output, operandType, params);
    }

    private static boolean twoTensors(List<Operand> operands) {
        return operands.size() == 2 && operands.get(0) instanceof Tensor && operands.get(1) instanceof Tensor;
    }

    /** A binary op of two tensors ({@code a} and {@code b} not null): no operand list. */
    public ElementwiseNode(ElementwiseOp op, Tensor a, Tensor b, Tensor output, DType operandType, double[] params) {
        this(op, null, java.util.Objects.requireNonNull(a, "a"), java.util.Objects.requireNonNull(b, "b"), output,
                operandType, params);
    }

    private ElementwiseNode(ElementwiseOp op, List<Operand> general, Tensor a, Tensor b, Tensor output,
                            DType operandType, double[] params) {
        this.op = op;
        this.output = output;
        this.operandType = operandType;
        this.params = params.length == 0 ? params : params.clone();
        if (general == null) {
            this.in0 = a;
            this.in1 = b;
            this.wide = null;
            this.readCount = (byte) (a.storage() == b.storage() ? 1 : 2);
            return;
        }
        int tensors = 0;
        for (Operand o : general) if (o instanceof Tensor) tensors++;
        Tensor[] in = new Tensor[tensors];
        Storage[] rd = new Storage[tensors];
        int t = 0, storages = 0;
        for (Operand o : general) {
            if (o instanceof Tensor x) {
                in[t++] = x;
                Storage s = x.storage();
                boolean seen = false;
                for (int i = 0; i < storages && !seen; i++) seen = rd[i] == s;
                if (!seen) rd[storages++] = s;
            }
        }
        this.in0 = null;
        this.in1 = null;
        this.wide = new Wide(general, List.of(in), java.util.Arrays.copyOf(rd, storages));
        this.readCount = (byte) storages;
    }

    public ElementwiseOp op() { return op; }

    /** The operands in order, scalars included (a list made per call for a binary op of two tensors). */
    public List<Operand> operands() { return wide == null ? List.of(in0, in1) : wide.operands; }

    /** How many operands, scalars included: {@code operands().size()} without the list. */
    public int operandCount() { return wide == null ? 2 : wide.operands.size(); }

    /** Operand {@code k}: {@code operands().get(k)} without the list. */
    public Operand operand(int k) {
        if (wide != null) return wide.operands.get(k);
        java.util.Objects.checkIndex(k, 2);
        return k == 0 ? in0 : in1;
    }

    @Override
    public Tensor output() { return output; }

    public DType operandType() { return operandType; }

    /** F32 for F16/BF16/F32 operand types, F64 for F64, I64 for integers and BOOL. */
    public DType computeType() { return operandType.computeType(); }

    @Override
    public String opName() { return op.opName(); }

    @Override
    public List<Tensor> inputs() { return wide == null ? List.of(in0, in1) : wide.inputs; }

    @Override
    public int inputCount() { return wide == null ? 2 : wide.inputs.size(); }

    @Override
    public Tensor input(int k) {
        if (wide != null) return wide.inputs.get(k);
        java.util.Objects.checkIndex(k, 2);
        return k == 0 ? in0 : in1;
    }

    @Override
    public List<Storage> reads() {
        if (wide != null) return List.of(wide.reads);
        return readCount == 2 ? List.of(in0.storage(), in1.storage()) : List.of(in0.storage());
    }

    @Override
    public int readCount() { return readCount; }

    @Override
    public Storage read(int i) {
        if (wide != null) return wide.reads[i];
        java.util.Objects.checkIndex(i, readCount);
        return i == 0 ? in0.storage() : in1.storage();
    }

    /** Op parameters (p0, p1 of the CUDA template), e.g. the slope of leaky_relu; a copy. */
    public double[] params() { return params.clone(); }

    @Override
    public String toString() {
        return "ElementwiseNode[" + op.opName() + " " + operands() + " -> " + output + "]";
    }
}
