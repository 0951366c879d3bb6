package dev.gpuos.tensor.op;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.UnsupportedDTypeException;

/**
 * Reductions over a set of axes. Floating inputs accumulate in double and round once to the output dtype
 * (PyTorch's CPU uses cascaded float sums; the results agree within float rounding); integral inputs in I64.
 * max/min return NaN if any reduced element is NaN; argmax/argmin return the first index of the extremum,
 * and the first NaN if there is one, like PyTorch.
 */
public enum ReduceOp {
    SUM("sum"), PROD("prod"), MEAN("mean"), MAX("max"), MIN("min"), ARGMAX("argmax"), ARGMIN("argmin");

    private final String opName;

    ReduceOp(String opName) { this.opName = opName; }

    public String opName() { return opName; }

    /** Output dtype for an input dtype, or {@link UnsupportedDTypeException}. */
    public DType resultType(DType input) {
        return switch (this) {
            case SUM, PROD -> input.isFloating() ? input : DType.I64;
            case MEAN -> {
                if (!input.isFloating()) {
                    throw new UnsupportedDTypeException("mean needs a floating dtype, got " + input);
                }
                yield input;
            }
            case MAX, MIN -> input;
            case ARGMAX, ARGMIN -> DType.I64;
        };
    }

    /** Whether reducing zero elements is defined (sum 0, prod 1, mean NaN); max/min/argmax of nothing is an error. */
    public boolean allowsEmpty() {
        return this == SUM || this == PROD || this == MEAN;
    }
}
