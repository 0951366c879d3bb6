package dev.gpuos.tensor;

/**
 * An input of an op: either a {@link Tensor} or an immediate {@link Scalar}. Scalars stay immediates all the way
 * to the backend, so a GPU code generator can bake them into the generated expression instead of allocating
 * a buffer for them.
 */
public sealed interface Operand permits Tensor, Scalar {
}
