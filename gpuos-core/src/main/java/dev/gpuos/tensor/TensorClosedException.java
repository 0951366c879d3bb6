package dev.gpuos.tensor;

/** Thrown when a tensor is used after its owning {@link TensorScope} was closed (or its storage was released). */
public final class TensorClosedException extends IllegalStateException {
    public TensorClosedException(String message) { super(message); }
}
