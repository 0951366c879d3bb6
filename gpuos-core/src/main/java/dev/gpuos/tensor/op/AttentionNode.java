package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * Scaled dot-product attention, softmax(query @ keys^T * scale + bias) @ values, as one op (PyTorch's
 * {@code F.scaled_dot_product_attention} with a float mask). Invariants: query [..., L, E], keys [..., S, E],
 * values [..., S, Ev] with identical batch dimensions (already broadcast, so batch strides may be zero) and S >= 1;
 * bias null or a view of shape [..., L, S] (already broadcast); query, keys and bias of one floating dtype,
 * values of any floating dtype; {@code output} is contiguous [..., L, Ev] of the values' dtype.
 */
public record AttentionNode(Tensor query, Tensor keys, Tensor values, Tensor bias, double scale, Tensor output)
        implements OpNode {
    @Override
    public String opName() { return "attention"; }

    @Override
    public List<Tensor> inputs() {
        return bias == null ? List.of(query, keys, values) : List.of(query, keys, values, bias);
    }
}
