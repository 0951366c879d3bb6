package dev.gpuos.bench.opcheck;

import dev.gpuos.tensor.DType;

import java.util.List;
import java.util.function.Function;

/**
 * One entry point of the tensor API (a {@link dev.gpuos.tensor.Tensor} method) and how to build its cases for one
 * dtype. The dump tries every dtype in {@code dtypes}; one that GPUOS rejects with
 * {@link dev.gpuos.tensor.UnsupportedDTypeException} is recorded as rejected (op_compare.py checks PyTorch rejects
 * it too), so "every dtype the op supports" is what the API says, not what this table guesses.
 *
 * @param api    {@code name(ParamType,...)} of the Tensor method
 * @param kernel the ElementwiseOp/ReduceOp constant (or node kind) it runs
 */
public record OpFamily(String api, String kernel, List<DType> dtypes, Function<DType, List<OpCase>> cases) {
    public static final List<DType> ALL = List.of(DType.values());
}
