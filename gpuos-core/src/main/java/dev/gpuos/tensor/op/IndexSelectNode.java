package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * output = input.index_select(dim, index). {@code index} is 1-D I32 or I64; {@code output} is contiguous with
 * the input's shape except {@code output.size(dim) == index.numel()}. Index values are data, so their range
 * can only be checked when the node runs: the CPU backend throws IndexOutOfBoundsException there.
 */
public record IndexSelectNode(Tensor input, int dim, Tensor index, Tensor output) implements OpNode {
    @Override
    public String opName() { return "index_select"; }

    @Override
    public List<Tensor> inputs() { return List.of(input, index); }
}
