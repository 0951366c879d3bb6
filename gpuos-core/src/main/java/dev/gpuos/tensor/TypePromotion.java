package dev.gpuos.tensor;

import java.util.List;

/**
 * {@code torch.result_type} for a list of operands. PyTorch keeps three separate promotions: tensors with at least
 * one dimension, zero-dimensional tensors, and wrapped numbers ({@link Scalar}s). A lower-priority group only
 * matters when its category is higher: {@code i32_tensor + 2.5} is F32 (the default float type, not F64), and
 * {@code f16_tensor + 2.5} stays F16, while {@code i32_tensor + f64_zero_dim_tensor} is F64.
 */
public final class TypePromotion {
    private TypePromotion() {}

    public static DType resultType(List<? extends Operand> operands) {
        DType dimResult = null, zeroDimResult = null, wrappedResult = null;
        // An index loop and instanceof tests, not a pattern switch: this runs once per op on the streamed path.
        for (int i = 0; i < operands.size(); i++) {
            Operand operand = operands.get(i);
            if (operand instanceof Tensor t) {
                if (t.rank() > 0) dimResult = promoteNullable(dimResult, t.dtype());
                else zeroDimResult = promoteNullable(zeroDimResult, t.dtype());
            } else {
                Scalar s = (Scalar) operand;
                wrappedResult = promoteNullable(wrappedResult, s.kind() == DType.F64 ? DType.DEFAULT_FLOAT : s.kind());
            }
        }
        DType result = combineCategories(dimResult, combineCategories(zeroDimResult, wrappedResult));
        if (result == null) throw new IllegalArgumentException("result type of an empty operand list");
        return result;
    }

    public static DType resultType(Operand... operands) {
        return resultType(List.of(operands));
    }

    private static DType promoteNullable(DType a, DType b) {
        return a == null ? b : DType.promote(a, b);
    }

    // Mirrors c10's combine_categories: the higher-priority group wins unless the lower one is of a higher category.
    private static DType combineCategories(DType higher, DType lower) {
        if (higher == null) return lower;
        if (lower == null) return higher;
        if (higher.isFloating()) return higher;
        if (higher == DType.BOOL || lower.isFloating()) return DType.promote(higher, lower);
        return higher;
    }
}
