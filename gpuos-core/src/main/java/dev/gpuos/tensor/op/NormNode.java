package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * layer_norm or rms_norm over the last {@code normalizedDims} dimensions of {@code input}. {@code weight} and
 * {@code bias} (each nullable; bias always null for RMS) have exactly those trailing dimensions.
 * layer_norm: y = (x - mean) / sqrt(var + eps) * w + b with the biased variance; rms_norm:
 * y = x / sqrt(mean(x^2) + eps) * w. Statistics are computed in double. Output is contiguous, input's dtype.
 */
public record NormNode(Kind kind, Tensor input, Tensor weight, Tensor bias, int normalizedDims, double eps,
                       Tensor output) implements OpNode {
    public enum Kind { LAYER, RMS }

    @Override
    public String opName() { return kind == Kind.LAYER ? "layer_norm" : "rms_norm"; }

    @Override
    public List<Tensor> inputs() {
        List<Tensor> in = new ArrayList<>();
        in.add(input);
        if (weight != null) in.add(weight);
        if (bias != null) in.add(bias);
        return in;
    }
}
