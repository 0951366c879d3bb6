package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.ToleranceTable;

import java.util.Arrays;
import java.util.Optional;

/**
 * Compares two runs of one program tensor by tensor: dtypes, shapes and errors must agree; integer and BOOL
 * values exactly; floating values within the dtype's tolerance ({@link ToleranceTable}: F32 1e-5, reductions and
 * other accumulating ops 1e-4, F16/BF16 1e-2, F64 1e-9), or the bound of the least precise floating value the
 * element was computed from, if looser (an F32 sin converted to F64 keeps its F32 error); NaN only where the other has NaN, and
 * infinities equal.
 *
 * <p>A floating element passes when {@code |actual - expected| <= tol * max(|expected|, scale)}. The scale is
 * the largest finite magnitude among the step's inputs (at least 1): rounding differences in operands of that
 * size, carried through a subtraction, are what a correct backend may show. For accumulating ops the scale also
 * includes the largest magnitude of the result itself (a normwise check, like the workload checks), because their
 * rounding grows with the terms summed, not with each element.
 */
public final class Tolerance {
    private Tolerance() {}

    /** The first tensor where the runs disagree, in program order. */
    public static Optional<Mismatch> compare(FuzzProgram program, FuzzRun expected, FuzzRun actual) {
        if (expected.crash() != null || actual.crash() != null) {
            if (expected.crash() != null && actual.crash() != null) return Optional.empty();
            return Optional.of(new Mismatch(program.steps().getLast(), "run crashed: expected "
                    + (expected.crash() == null ? "no crash" : expected.crash()) + ", actual "
                    + (actual.crash() == null ? "no crash" : actual.crash())));
        }
        java.util.Map<Integer, Double> inherited = new java.util.HashMap<>();
        for (FuzzStep step : program.steps()) {
            if (step.out() < 0) continue;
            Outcome e = expected.outcomes().get(step.out()), a = actual.outcomes().get(step.out());
            if (e == null || a == null) continue;
            double floor = inheritedTolerance(step, expected, inherited);
            String why = compare(step, e, a, scale(step, expected), floor);
            if (e.ok() && e.dtype().isFloating()) {
                inherited.put(step.out(), Math.max(floor, tolerance(e.dtype(), step.op().kind() == FuzzOp.Kind.ACCUMULATING)));
            }
            if (why != null) return Optional.of(new Mismatch(step, why));
        }
        return Optional.empty();
    }

    /**
     * The largest tolerance among the step's floating inputs, as they inherited it: a value computed in F32
     * (where correct backends differ by an ulp or two in sin, exp, division...) keeps that relative error when it
     * is converted to F64 or combined with F64 values, so an F64 result is held to the bound of its least precise
     * ancestor, not to 1e-9.
     */
    private static double inheritedTolerance(FuzzStep step, FuzzRun expected, java.util.Map<Integer, Double> inherited) {
        double floor = 0;
        for (int id : step.in()) {
            Outcome o = expected.outcomes().get(id);
            if (o == null || !o.ok() || !o.dtype().isFloating()) continue;
            floor = Math.max(floor, inherited.getOrDefault(id, tolerance(o.dtype(), false)));
        }
        return floor;
    }

    private static double scale(FuzzStep step, FuzzRun expected) {
        double scale = 1;
        for (int id : step.in()) {
            Outcome o = expected.outcomes().get(id);
            if (o != null && o.ok()) scale = Math.max(scale, maxFinite(o.values()));
        }
        return scale;
    }

    static String compare(FuzzStep step, Outcome e, Outcome a, double inputScale) {
        return compare(step, e, a, inputScale, 0);
    }

    static String compare(FuzzStep step, Outcome e, Outcome a, double inputScale, double inheritedTolerance) {
        if (!e.ok() || !a.ok()) {
            if (!e.ok() && !a.ok() && errorClass(e).equals(errorClass(a))) return null;
            return "expected " + e.describe() + ", actual " + a.describe();
        }
        if (e.dtype() != a.dtype() || !Arrays.equals(e.shape(), a.shape())) {
            return "expected " + e.describe() + ", actual " + a.describe();
        }
        boolean accumulating = step.op().kind() == FuzzOp.Kind.ACCUMULATING;
        double tol = tolerance(e.dtype(), accumulating);
        if (tol > 0) tol = Math.max(tol, inheritedTolerance);  // integers stay exact: float-to-int inputs are exact
        double scale = accumulating ? Math.max(inputScale, maxFinite(e.values())) : inputScale;
        double[] ev = e.values(), av = a.values();
        for (int i = 0; i < ev.length; i++) {
            if (!close(ev[i], av[i], tol, scale)) {
                return "element " + i + " of " + e.describe() + ": expected " + ev[i] + ", actual " + av[i]
                        + " (tolerance " + tol + " x max(|expected|, " + scale + "))"
                        + (ev.length <= 16 ? "\n    expected " + Arrays.toString(ev) + "\n    actual   " + Arrays.toString(av) : "");
            }
        }
        return null;
    }

    static boolean close(double e, double a, double tol, double scale) {
        if (Double.isNaN(e) || Double.isNaN(a)) return Double.isNaN(e) && Double.isNaN(a);
        if (Double.isInfinite(e) || Double.isInfinite(a)) return e == a;
        return Math.abs(a - e) <= tol * Math.max(Math.abs(e), scale);
    }

    public static double tolerance(DType t, boolean accumulating) {
        return ToleranceTable.relative(t, accumulating ? ToleranceTable.Kind.ACCUMULATING : ToleranceTable.Kind.ELEMENTWISE);
    }

    private static String errorClass(Outcome o) {
        int colon = o.error().indexOf(':');
        return colon < 0 ? o.error() : o.error().substring(0, colon);
    }

    static double maxFinite(double[] v) {
        double m = 0;
        for (double x : v) if (Double.isFinite(x)) m = Math.max(m, Math.abs(x));
        return m;
    }

    /** The first disagreement: the step whose tensor differs, and how. */
    public record Mismatch(FuzzStep step, String detail) {
        @Override
        public String toString() { return "t" + step.out() + " (" + step.op().apiName() + "): " + detail; }
    }
}
