package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.ToleranceTable;

/**
 * Compares output rows with a reference, the same way {@code bench/pytorch/cases.py} does. One row is the
 * result of one op, iteration or request. The error of an element is
 * {@code |x - r| / max(|r|, floor * max|row of r|, 1e-30)}:
 * <ul>
 *   <li>elementwise ops ({@code floor} 1e-3): relative per element, except where the reference is tiny against
 *       its row;</li>
 *   <li>accumulating ops ({@code floor} 1): relative to the row's largest magnitude, i.e. the normwise
 *       {@code max|x - r| / max|r|} per row. A matmul or sum rounds relative to the size of its terms, not of its
 *       result, so an output element that cancels to near zero carries an absolute error that a per-element
 *       bound would call huge (seen on the H100: 2e-8 absolute on an attention output of 2.6e-5).</li>
 * </ul>
 * NaN, infinities where the reference is finite, and rows of the wrong length count as infinite error.
 */
public final class Accuracy {
    /** F32 bounds ({@link ToleranceTable}): elementwise ops, and ops that accumulate (reductions, matmul, softmax). */
    public enum Tolerance {
        ELEMENTWISE(ToleranceTable.elementwise(DType.F32), 1e-3), ACCUMULATING(ToleranceTable.accumulating(DType.F32), 1.0);

        public final double bound;
        /** Fraction of the row's largest reference magnitude below which errors are taken as absolute. */
        public final double floor;

        Tolerance(double bound, double floor) {
            this.bound = bound;
            this.floor = floor;
        }
    }

    private final Tolerance tolerance;
    private double maxError;
    private long compared;
    private String worst = "";

    public Accuracy(Tolerance tolerance) {
        this.tolerance = tolerance;
    }

    /** Adds one row; returns its error. */
    public double addRow(int row, float[] actual, double[] reference) {
        if (actual.length != reference.length) {
            maxError = Double.POSITIVE_INFINITY;
            worst = "row " + row + " has " + actual.length + " elements, the reference " + reference.length;
            return Double.POSITIVE_INFINITY;
        }
        double scale = 0;
        for (double r : reference) {
            // The row's scale comes from its finite values: a NaN or infinity there (which the element must
            // match exactly, see elementError) would make every other element's floor NaN or infinite.
            if (Double.isFinite(r)) scale = Math.max(scale, Math.abs(r));
        }
        double floor = Math.max(tolerance.floor * scale, 1e-30);
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

    public Tolerance tolerance() {
        return tolerance;
    }

    public boolean within() {
        return compared > 0 && maxError <= tolerance.bound;
    }
}
