package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * Reduces {@code input} over {@code axes} (distinct, ascending, normalised). {@code output} is contiguous; its
 * shape is the input's with reduced axes removed, or kept as size 1 when {@code keepdim}; either way its
 * elements are in the order of the kept input dimensions.
 */
public record ReduceNode(ReduceOp op, Tensor input, int[] axes, boolean keepdim, Tensor output) implements OpNode {
    public ReduceNode {
        axes = axes.clone();
    }

    @Override
    public int[] axes() { return axes.clone(); }

    @Override
    public String opName() { return op.opName(); }

    @Override
    public List<Tensor> inputs() { return List.of(input); }
}
