package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/** Writes a {@link FillPattern} into a contiguous output (zeros, ones, full, arange, rand, randn). */
public record FillNode(FillPattern pattern, Tensor output) implements OpNode {
    @Override
    public String opName() {
        return switch (pattern) {
            case FillPattern.Constant c -> "full";
            case FillPattern.Arange a -> "arange";
            case FillPattern.Uniform u -> "rand";
            case FillPattern.Normal n -> "randn";
        };
    }

    @Override
    public List<Tensor> inputs() { return List.of(); }
}
