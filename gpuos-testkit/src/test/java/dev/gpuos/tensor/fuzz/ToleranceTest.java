package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The comparison rules: dtype tolerances, exact integers, NaN positions, infinities, errors, normwise scale. */
class ToleranceTest {
    static final FuzzStep EXP = new FuzzStep(1, FuzzOp.EXP, new int[]{0}, new long[0], new Scalar[0], null);
    static final FuzzStep SUM = new FuzzStep(1, FuzzOp.SUM, new int[]{0}, new long[0], new Scalar[0], null);
    static final long[] SHAPE = {3};

    static Outcome of(DType t, double... v) { return new Outcome(t, SHAPE, v, null); }

    @Test
    void floatsWithinTheirDtypeTolerance() {
        assertNull(Tolerance.compare(EXP, of(DType.F32, 1, 2, 100), of(DType.F32, 1 + 5e-6, 2, 100.0009), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, 1, 2, 100), of(DType.F32, 1 + 2e-5, 2, 100), 1));
        assertNull(Tolerance.compare(EXP, of(DType.BF16, 1, 2, 3), of(DType.BF16, 1.008, 2, 3), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F16, 1, 2, 3), of(DType.F16, 1.02, 2, 3), 1));
    }

    @Test
    void integersExactlyAndDtypesShapesMustAgree() {
        assertNotNull(Tolerance.compare(EXP, of(DType.I64, 1, 2, 3), of(DType.I64, 1, 2, 4), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.I64, 1, 2, 3), of(DType.I32, 1, 2, 3), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, 1, 2, 3),
                new Outcome(DType.F32, new long[]{1, 3}, new double[]{1, 2, 3}, null), 1));
    }

    @Test
    void nanOnlyWhereTheOtherHasNanAndInfinitiesEqual() {
        assertNull(Tolerance.compare(EXP, of(DType.F32, Double.NaN, 1, Double.POSITIVE_INFINITY),
                of(DType.F32, Double.NaN, 1, Double.POSITIVE_INFINITY), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, Double.NaN, 1, 2), of(DType.F32, 0, 1, 2), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, 1, 1, 2), of(DType.F32, Double.NaN, 1, 2), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, Double.POSITIVE_INFINITY, 1, 2),
                of(DType.F32, Double.NEGATIVE_INFINITY, 1, 2), 1));
    }

    @Test
    void errorsMustMatchByClass() {
        assertNull(Tolerance.compare(EXP, Outcome.failed("ShapeMismatchException: on cpu"),
                Outcome.failed("ShapeMismatchException: on gpu"), 1));
        assertNotNull(Tolerance.compare(EXP, Outcome.failed("ShapeMismatchException: x"), of(DType.F32, 1, 2, 3), 1));
    }

    @Test
    void accumulatingOpsAreCheckedAgainstTheLargestResult() {
        // 1e-3 off on an element of 0.01 is 10% of it, but 1e-5 of the row's largest value (100): fine for a sum.
        assertNull(Tolerance.compare(SUM, of(DType.F32, 0.01, 50, 100), of(DType.F32, 0.01 + 1e-3, 50, 100), 1));
        assertNotNull(Tolerance.compare(EXP, of(DType.F32, 0.01, 50, 100), of(DType.F32, 0.01 + 1e-3, 50, 100), 1));
    }

    @Test
    void anF64ValueComputedFromF32KeepsTheF32Bound() {
        // t0 (input f32) -> t1 = sin (f32) -> t2 = t1.to(F64): the F64 result carries sin's F32 rounding.
        FuzzStep input = new FuzzStep(0, FuzzOp.INPUT, new int[0], new long[0], new Scalar[0], null);
        FuzzStep sin = new FuzzStep(1, FuzzOp.SIN, new int[]{0}, new long[0], new Scalar[0], null);
        FuzzStep cast = new FuzzStep(2, FuzzOp.CAST, new int[]{1}, new long[0], new Scalar[0], null);
        FuzzProgram program = new FuzzProgram(7, java.util.List.of(input, sin, cast));
        double cpu = 0.8413447737693787, gpu = 0.8413447141647339;  // one F32 ulp apart
        FuzzRun expected = new FuzzRun(java.util.Map.of(0, of(DType.F32, 1), 1, of(DType.F32, cpu), 2, of(DType.F64, cpu)), null);
        FuzzRun actual = new FuzzRun(java.util.Map.of(0, of(DType.F32, 1), 1, of(DType.F32, gpu), 2, of(DType.F64, gpu)), null);
        assertTrue(Tolerance.compare(program, expected, actual).isEmpty());
        // An F64 value computed from F64 inputs is still held to 1e-9.
        FuzzRun f64e = new FuzzRun(java.util.Map.of(0, of(DType.F64, 1), 1, of(DType.F64, cpu), 2, of(DType.F64, cpu)), null);
        FuzzRun f64a = new FuzzRun(java.util.Map.of(0, of(DType.F64, 1), 1, of(DType.F64, gpu), 2, of(DType.F64, gpu)), null);
        assertTrue(Tolerance.compare(program, f64e, f64a).isPresent());
    }
}
