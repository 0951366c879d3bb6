package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * softmax or log_softmax of {@code input} along {@code dim} (normalised), max-subtracted for stability.
 * Output has the input's shape and dtype and is contiguous.
 */
public record SoftmaxNode(Tensor input, int dim, boolean log, Tensor output) implements OpNode {
    @Override
    public String opName() { return log ? "log_softmax" : "softmax"; }

    @Override
    public List<Tensor> inputs() { return List.of(input); }
}
