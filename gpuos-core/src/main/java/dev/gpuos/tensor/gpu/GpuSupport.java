package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.UnsupportedOnBackendException;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the GPU backend cannot run, decided at the call site. Every op and dtype is supported; the limits are
 * those of a task descriptor: an operand carries at most 8 dimensions (after coalescing, which usually shrinks
 * a view a lot), and each dimension at most 2^31-1 elements.
 */
final class GpuSupport {
    private GpuSupport() {}

    static final int MAX_DIMS = 8;

    static void check(OpNode node, String backendName) {
        if (node instanceof AttentionNode a && a.values().size(-1) > FamilyTasks.ATTENTION_MAX_VALUE_DIM) {
            throw unsupported(node, backendName, "value rows of " + a.values().size(-1) + " elements; attention on the"
                    + " GPU accumulates at most " + FamilyTasks.ATTENTION_MAX_VALUE_DIM);
        }
        // Per op: an elementwise node's tensor operands are broadcast to its output's shape (ElementwiseNode's
        // invariant), so a non-empty output of at most 2^31-1 elements and 8 dims bounds every one of them.
        if (node instanceof ElementwiseNode) {
            Layout out = node.output().layout();
            long numel = out.numel();
            if (numel > 0 && numel <= Integer.MAX_VALUE && out.rank() <= MAX_DIMS) return;
        }
        checkSizes(node, node.output(), backendName);
        for (Tensor t : node.inputs()) checkSizes(node, t, backendName);
        // Every op's operands have at most as many dims as the output or input rank: within the limit, done.
        if (node.output().rank() <= MAX_DIMS && maxInputRank(node) <= MAX_DIMS) return;
        int dims = switch (node) {
            case ElementwiseNode n -> {
                List<long[]> strides = new ArrayList<>();
                strides.add(n.output().strides());
                for (Operand o : n.operands()) if (o instanceof Tensor t) strides.add(t.strides());
                yield Dims.coalesce(n.output().shape(), strides.toArray(long[][]::new))[0].length;
            }
            case ReduceNode n -> n.input().rank();
            case SoftmaxNode n -> n.input().rank();
            case NormNode n -> n.input().rank();
            case MatmulNode n -> n.output().rank();
            case IndexSelectNode n -> n.input().rank();
            case AttentionNode n -> n.output().rank();
            case FillNode n -> Dims.coalesce(n.output().shape(), n.output().strides())[0].length;
            case UploadNode n -> 1;
        };
        if (dims > MAX_DIMS && coalescedDims(node) > MAX_DIMS) {
            throw unsupported(node, backendName, "needs " + dims + " dimensions; a task operand holds at most " + MAX_DIMS);
        }
    }

    /** Exact dims after the builders' coalescing, for the rare views of more than 8 dims. */
    private static int coalescedDims(OpNode node) {
        return switch (node) {
            case ReduceNode n -> FamilyTasks.reduce(n).refs().getFirst().sizes().length;
            case SoftmaxNode n -> FamilyTasks.softmax(n).refs().getFirst().sizes().length;
            case NormNode n -> FamilyTasks.norm(n).refs().getFirst().sizes().length;
            case MatmulNode n -> FamilyTasks.matmul(n).refs().getFirst().sizes().length;
            default -> Integer.MAX_VALUE;
        };
    }

    private static void checkSizes(OpNode node, Tensor t, String backendName) {
        Layout layout = t.layout();
        for (int d = 0, rank = layout.rank(); d < rank; d++) {
            long s = layout.size(d);
            if (s > Integer.MAX_VALUE) {
                throw unsupported(node, backendName, "dimension of " + s + " elements in "
                        + Arrays.toString(t.shape()) + " exceeds a task operand's 2^31-1");
            }
        }
    }

    private static int maxInputRank(OpNode node) {
        int r = 0;
        for (Tensor t : node.inputs()) r = Math.max(r, t.rank());
        return r;
    }

    private static UnsupportedOnBackendException unsupported(OpNode node, String backendName, String why) {
        return new UnsupportedOnBackendException(node.opName() + " is not supported on the " + backendName
                + " backend: " + why);
    }
}
