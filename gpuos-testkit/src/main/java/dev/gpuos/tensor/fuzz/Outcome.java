package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;

import java.util.Arrays;

/**
 * What one tensor of a program turned out to be on one backend: its dtype, shape and values read back (as
 * doubles, row-major), or the error its step (or its read) threw.
 */
public record Outcome(DType dtype, long[] shape, double[] values, String error) {
    public static Outcome failed(String error) { return new Outcome(null, null, null, error); }

    public boolean ok() { return error == null; }

    /** e.g. {@code f32 [4, 1, 7]}, or the error. */
    public String describe() {
        return ok() ? dtype.name().toLowerCase(java.util.Locale.ROOT) + " " + Arrays.toString(shape) : "threw " + error;
    }
}
