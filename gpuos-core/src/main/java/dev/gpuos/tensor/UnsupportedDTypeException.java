package dev.gpuos.tensor;

/** Thrown at the call site when an op does not accept an operand's dtype (e.g. {@code neg} of BOOL). */
public final class UnsupportedDTypeException extends IllegalArgumentException {
    public UnsupportedDTypeException(String message) { super(message); }
}
