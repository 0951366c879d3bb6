package dev.gpuos.tensor;

/**
 * Thrown at the call site when the backend that owns the operands cannot run an op (for instance an integer
 * matmul on a GPU backend). The message names the op and the backend.
 */
public final class UnsupportedOnBackendException extends UnsupportedOperationException {
    public UnsupportedOnBackendException(String message) { super(message); }
}
