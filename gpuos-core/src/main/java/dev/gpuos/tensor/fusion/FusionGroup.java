package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;

import java.util.List;

/**
 * Consecutive elementwise nodes of one submission that one generated kernel can run: all have the same output
 * shape, and a node that consumes an earlier member's output reads it element for element (same layout), so
 * the value can stay in a register.
 *
 * @param nodes  members in recording order
 * @param inputs tensors read from memory (not produced inside the group), in first-use order
 */
public record FusionGroup(List<ElementwiseNode> nodes, List<Tensor> inputs) {
    public FusionGroup {
        nodes = List.copyOf(nodes);
        inputs = List.copyOf(inputs);
    }

    public long[] shape() { return nodes.getFirst().output().shape(); }
}
