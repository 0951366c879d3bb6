package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Consecutive elementwise nodes of one submission that one generated kernel can run: all have the same output
 * shape, and a node that consumes an earlier member's output reads it element for element (same layout), so
 * the value can stay in a register.
 *
 * @param nodes  members in recording order
 * @param flows  whether a member reads a buffer an earlier member writes (data flow inside the group); false for
 *               independent members (W1's adds), which a backend may then cut without looking for flow again
 */
public record FusionGroup(List<ElementwiseNode> nodes, boolean flows) {
    public FusionGroup {
        // A plan's own groups are read-only views of the list it planned (ElementwiseFusion.Slice): no copy.
        if (!(nodes instanceof ElementwiseFusion.Slice)) nodes = List.copyOf(nodes);
    }

    /**
     * Tensors read from memory (not produced inside the group), in first-use order. Computed when asked for:
     * the streamed planner never asks (it cuts the group into runs that find their own inputs).
     */
    public List<Tensor> inputs() {
        List<Tensor> inputs = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (Operand o : nodes.get(i).operands()) {
                if (o instanceof Tensor t && ElementwiseFusion.producer(nodes, i, t) < 0 && !inputs.contains(t)) inputs.add(t);
            }
        }
        return List.copyOf(inputs);
    }

    public long[] shape() { return nodes.getFirst().output().shape(); }
}
