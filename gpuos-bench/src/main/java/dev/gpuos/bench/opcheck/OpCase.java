package dev.gpuos.bench.opcheck;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One comparison case: seeded inputs, the GPUOS call on them and the PyTorch expression that computes the same
 * thing. {@code torch} is a Python expression over the input names ({@code a}, {@code b}, ...), {@code torch} and
 * {@code F} (torch.nn.functional); {@code bench/pytorch/op_compare.py} evaluates it on the same inputs.
 *
 * @param id     unique, file-name safe, e.g. {@code add-tensor/F16/broadcast}
 * @param api    the {@link Tensor} method this case calls, as {@code name(ParamType,...)} (what the coverage test
 *               matches against reflection)
 * @param kernel the table entry it runs ({@code ElementwiseOp}/{@code ReduceOp} constant name), or the node kind
 * @param dtype  the dtype the case is filed under (the first input's)
 * @param check  how op_compare.py measures the error
 * @param params scalar arguments, for the manifest
 * @param run    the GPUOS call on the input views, in {@code inputs} order
 */
public record OpCase(String id, String api, String kernel, DType dtype, String torch, Check check, List<Input> inputs,
                     Map<String, Object> params, Function<List<Tensor>, Tensor> run) {

    /** How the comparison measures error (integer and bool outputs are always compared exactly). */
    public enum Check {
        /** Per element |x - r| / max(|r|, floor): elementwise ops, casts, selections. */
        ELEMENTWISE,
        /** Per row of the last dimension, max |x - r| / max |r|: accumulating ops (reductions, matmul, norms). */
        NORMWISE
    }

    /** The memory layout of an input view over its (contiguous) storage. */
    public enum View {
        CONTIGUOUS,
        /** The last two dimensions swapped: storage holds the transpose. */
        TRANSPOSED,
        /** Every second element of a longer last dimension, starting at element 1 (non-zero offset). */
        STRIDED,
        /** A size-1 first dimension broadcast to the shape (stride 0). */
        EXPANDED
    }

    /**
     * One input tensor: the view {@code shape} over a storage filled with {@code values}.
     *
     * @param bound for {@link Values#INDEX}: indices are in [0, bound)
     */
    public record Input(String name, DType dtype, long[] shape, Values values, View view, long bound) {
        public static Input of(String name, DType dtype, long[] shape, Values values) {
            return new Input(name, dtype, shape, values, View.CONTIGUOUS, 0);
        }

        public Input as(View v) {
            return new Input(name, dtype, shape, values, v, bound);
        }
    }
}
