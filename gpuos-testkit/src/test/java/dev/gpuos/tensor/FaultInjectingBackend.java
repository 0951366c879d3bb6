package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A test-only backend that runs everything on an eager CPU backend but computes one elementwise op wrongly
 * ({@code faulty} runs as {@code instead}), to check that the fuzzer notices and that its shrinker isolates the
 * culprit. Its storages wrap the CPU's, so tensors made on it stay on it; each node is rewritten onto the CPU
 * storages before it runs.
 */
final class FaultInjectingBackend implements Backend {
    private final CpuBackend cpu = CpuBackend.eager();
    private final ElementwiseOp faulty;
    private final ElementwiseOp instead;

    FaultInjectingBackend(ElementwiseOp faulty, ElementwiseOp instead) {
        this.faulty = faulty;
        this.instead = instead;
    }

    private final class Wrapped implements Storage {
        final Storage inner;

        Wrapped(Storage inner) { this.inner = inner; }

        @Override public Backend backend() { return FaultInjectingBackend.this; }
        @Override public long byteSize() { return inner.byteSize(); }
        @Override public boolean isReleased() { return inner.isReleased(); }
        @Override public void release() { inner.release(); }
    }

    @Override public String name() { return "cpu-with-fault"; }

    @Override
    public Storage allocate(DType dtype, long elementCount) { return new Wrapped(cpu.allocate(dtype, elementCount)); }

    @Override
    public void submit(OpNode node) { cpu.submit(unwrap(node)); }

    @Override
    public void read(Storage storage, long byteOffset, MemorySegment destination) {
        cpu.read(((Wrapped) storage).inner, byteOffset, destination);
    }

    @Override public void flush() {}

    @Override public void sync() {}

    private static Tensor u(Tensor t) {
        return t == null ? null : new Tensor(((Wrapped) t.storage()).inner, t.layout(), t.dtype(), t.scope());
    }

    private OpNode unwrap(OpNode node) {
        return switch (node) {
            case ElementwiseNode n -> {
                List<Operand> ops = new ArrayList<>();
                for (Operand o : n.operands()) ops.add(o instanceof Tensor t ? u(t) : o);
                yield new ElementwiseNode(n.op() == faulty ? instead : n.op(), ops, u(n.output()), n.operandType(), n.params());
            }
            case FillNode n -> new FillNode(n.pattern(), u(n.output()));
            case UploadNode n -> new UploadNode(n.hostData(), u(n.output()));
            case ReduceNode n -> new ReduceNode(n.op(), u(n.input()), n.axes(), n.keepdim(), u(n.output()));
            case SoftmaxNode n -> new SoftmaxNode(u(n.input()), n.dim(), n.log(), u(n.output()));
            case NormNode n -> new NormNode(n.kind(), u(n.input()), u(n.weight()), u(n.bias()), n.normalizedDims(), n.eps(), u(n.output()));
            case MatmulNode n -> new MatmulNode(u(n.a()), u(n.b()), u(n.output()));
            case IndexSelectNode n -> new IndexSelectNode(u(n.input()), n.dim(), u(n.index()), u(n.output()));
            case AttentionNode n -> new AttentionNode(u(n.query()), u(n.keys()), u(n.values()), u(n.bias()), n.scale(), u(n.output()));
        };
    }
}
