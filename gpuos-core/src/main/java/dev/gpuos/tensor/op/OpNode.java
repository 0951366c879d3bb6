package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * One recorded op: what a backend executes, and what a batching backend needs to schedule it. Every node names
 * the tensors it reads ({@link #inputs()}) and the one view it writes ({@link #output()}); the buffers behind
 * them ({@link #reads()}, {@link #writes()}) give the read-after-write, write-after-read and write-after-write
 * dependencies between nodes. Scalar immediates and op parameters travel inside the node.
 *
 * <p>Nodes are created only after validation, so a backend may assume shapes and dtypes are consistent:
 * see each record for its invariants.
 */
public sealed interface OpNode
        permits ElementwiseNode, FillNode, UploadNode, ReduceNode, SoftmaxNode, NormNode, MatmulNode, IndexSelectNode,
        AttentionNode {

    /** A short name for messages and profiles, e.g. "add" or "matmul". */
    String opName();

    /** Tensors read, in operand order (scalars excluded). */
    List<Tensor> inputs();

    /** How many tensors it reads: {@code inputs().size()}, without the list (the planner asks per node). */
    default int inputCount() {
        return inputs().size();
    }

    /** Tensor {@code k} read: {@code inputs().get(k)}. */
    default Tensor input(int k) {
        return inputs().get(k);
    }

    /** The view written. Its storage may hold other views too (cat writes slices of one buffer). */
    Tensor output();

    /** Distinct buffers read. */
    default List<Storage> reads() {
        List<Storage> out = new ArrayList<>();
        for (Tensor t : inputs()) {
            if (!out.contains(t.storage())) out.add(t.storage());
        }
        return out;
    }

    /**
     * How many distinct buffers it reads: {@code reads().size()}, without making the list (the planner asks per
     * node and buffer; {@link ElementwiseNode} keeps its buffers in fields).
     */
    default int readCount() {
        return reads().size();
    }

    /** Distinct buffer {@code i} read: {@code reads().get(i)}. */
    default Storage read(int i) {
        return reads().get(i);
    }

    /** Buffers written (one for every current node). */
    default List<Storage> writes() {
        return List.of(output().storage());
    }
}
