package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * Batched matrix product. Invariants: {@code a} is [..., n, k], {@code b} is [..., k, m] with identical batch
 * dimensions (already broadcast, so batch strides may be zero), same dtype; {@code output} is contiguous
 * [..., n, m] of that dtype. Any strides are allowed in a and b (transposed views included).
 */
public record MatmulNode(Tensor a, Tensor b, Tensor output) implements OpNode {
    @Override
    public String opName() { return "matmul"; }

    @Override
    public List<Tensor> inputs() { return List.of(a, b); }
}
