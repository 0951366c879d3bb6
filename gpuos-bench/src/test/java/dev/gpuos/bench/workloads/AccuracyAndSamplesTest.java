package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AccuracyAndSamplesTest {

    @Test
    void exactRowsHaveNoError() {
        Accuracy a = new Accuracy(Accuracy.Tolerance.ELEMENTWISE);
        a.addRow(0, new float[]{1, -2, 0}, new double[]{1, -2, 0});
        assertEquals(0.0, a.maxError());
        assertTrue(a.within());
    }

    @Test
    void elementwiseErrorIsRelativeExceptForElementsTinyAgainstTheirRow() {
        Accuracy a = new Accuracy(Accuracy.Tolerance.ELEMENTWISE);
        a.addRow(0, new float[]{100.001f, 0.001f}, new double[]{100, 0});
        // 100.001f vs 100: ~1e-5 relative; 0.001 vs 0 is judged against 1e-3 * 100 = 0.1: 1e-2
        assertEquals(1e-2, a.maxError(), 1e-9);
        assertFalse(a.within());
        assertTrue(a.worst().contains("element 1"), a.worst());
    }

    @Test
    void accumulatingErrorIsRelativeToTheRowScale() {
        // The H100 case: an attention output that cancelled to 2.6e-5 in a row of scale ~0.03, 2e-8 off.
        Accuracy a = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        a.addRow(0, new float[]{0.03f, -2.5534413e-5f}, new double[]{0.03, -2.555770152666694e-5});
        assertTrue(a.within(), "max rel err " + a.maxError());
        assertEquals(2.3288e-8 / 0.03, a.maxError(), 1e-9);
        Accuracy wrong = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        wrong.addRow(0, new float[]{0.03f, 0.0001f}, new double[]{0.03, -2.555770152666694e-5});
        assertFalse(wrong.within(), "a wrong small element is still 4e-3 of its row");
    }

    @Test
    void nanAndInfinityInTheReferenceMustMatchButLeaveTheRestOfTheRowChecked() {
        // The H100 case: sqrt(cos(x)) is NaN wherever cos(x) < 0, on both sides.
        Accuracy a = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        assertEquals(0, a.addRow(0, new float[]{Float.NaN, 0.5f, Float.POSITIVE_INFINITY},
                new double[]{Double.NaN, 0.5, Double.POSITIVE_INFINITY}), 0);
        Accuracy off = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        double e = off.addRow(0, new float[]{Float.NaN, 0.6f}, new double[]{Double.NaN, 0.5});
        assertTrue(e > Accuracy.Tolerance.ACCUMULATING.bound, "a wrong finite element next to a NaN still fails: " + e);
    }

    @Test
    void nanInfinityAndLengthMismatchFail() {
        Accuracy nan = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        nan.addRow(0, new float[]{Float.NaN}, new double[]{1});
        assertEquals(Double.POSITIVE_INFINITY, nan.maxError());
        Accuracy inf = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        inf.addRow(0, new float[]{Float.POSITIVE_INFINITY}, new double[]{1});
        assertFalse(inf.within());
        Accuracy len = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
        len.addRow(3, new float[]{1}, new double[]{1, 2});
        assertFalse(len.within());
        assertTrue(len.worst().contains("row 3"), len.worst());
        assertFalse(new Accuracy(Accuracy.Tolerance.ACCUMULATING).within(), "nothing compared is not a pass");
    }

    @Test
    void percentilesAreNumpyLinear() {
        double[] v = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
        Samples s = Samples.of(v);
        assertEquals(5.5, s.median(), 1e-12);   // numpy.percentile(range(1, 11), 50)
        assertEquals(1.9, s.p10(), 1e-12);      // numpy.percentile(range(1, 11), 10)
        assertEquals(9.1, s.p90(), 1e-12);
        assertEquals(1, s.min());
        assertEquals(10, s.max());
        assertEquals(3.0, Samples.of(new double[]{3}).p90());
    }

    @Test
    void erfMatchesKnownValues() {
        // erf values from Abramowitz & Stegun table 7.1 / mpmath
        assertEquals(0.5204998778130465, Erf.erf(0.5), 1e-15);
        assertEquals(0.8427007929497149, Erf.erf(1.0), 1e-15);
        assertEquals(-0.9953222650189527, Erf.erf(-2.0), 1e-15);
        assertEquals(0.9999779095030014, Erf.erf(3.0), 1e-15);
        assertEquals(0.9999999845827421, Erf.erf(4.0), 1e-15);
        assertEquals(0.0, Erf.erf(0.0));
    }
}
