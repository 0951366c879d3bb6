package dev.gpuos.tensor;

/**
 * Thrown at the call site when shapes do not fit an op: operands that do not broadcast, a reshape to a different
 * element count, a view that cannot be expressed with strides, matmul inner dimensions that differ.
 */
public final class ShapeMismatchException extends IllegalArgumentException {
    public ShapeMismatchException(String message) { super(message); }
}
