package dev.gpuos.bench.workloads;

/**
 * Compares output rows with a reference, the same way {@code bench/pytorch/cases.py} does. One row is the
 * result of one op, iteration or request. The error of an element is
 * {@code |x - r| / max(|r|, 1e-3 * max|row of r|, 1e-30)}: relative where the reference is not tiny compared
 * with its row, so that a sum that happens to land near zero is not held to a relative bound it cannot meet.
 * NaN, infinities where the reference is finite, and rows of the wrong length count as infinite error.
 */
public final class Accuracy {
    /** f32 tolerances of the issue: elementwise ops, and ops that accumulate (reductions, matmul, softmax). */
    public enum Tolerance {
        ELEMENTWISE(1e-5), ACCUMULATING(1e-4);

        public final double bound;

        Tolerance(double bound) {
            this.bound = bound;
        }
    }

    private double maxError;
    private long compared;
    private String worst = "";

    /** Adds one row; returns its error. */
    public double addRow(int row, float[] actual, double[] reference) {
        if (actual.length != reference.length) {
            maxError = Double.POSITIVE_INFINITY;
            worst = "row " + row + " has " + actual.length + " elements, the reference " + reference.length;
            return Double.POSITIVE_INFINITY;
        }
        double scale = 0;
        for (double r : reference) {
            scale = Math.max(scale, Math.abs(r));
        }
        double floor = Math.max(1e-3 * scale, 1e-30);
        double rowMax = 0;
        for (int i = 0; i < actual.length; i++) {
            double e = elementError(actual[i], reference[i], floor);
            if (!(e <= rowMax)) {
                rowMax = e;
                if (!(e <= maxError)) {
                    worst = "row " + row + " element " + i + ": " + actual[i] + " vs " + reference[i];
                }
            }
        }
        compared += actual.length;
        if (!(rowMax <= maxError)) {
            maxError = rowMax;
        }
        return rowMax;
    }

    static double elementError(float actual, double reference, double floor) {
        if (Double.isNaN(reference)) {
            return Float.isNaN(actual) ? 0 : Double.POSITIVE_INFINITY;
        }
        if (!Float.isFinite(actual)) {
            return actual == reference ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.abs(actual - reference) / Math.max(Math.abs(reference), floor);
    }

    public double maxError() {
        return maxError;
    }

    public long compared() {
        return compared;
    }

    /** Where the largest error was (empty if every element matched exactly). */
    public String worst() {
        return worst;
    }

    public boolean within(Tolerance tolerance) {
        return compared > 0 && maxError <= tolerance.bound;
    }
}
