package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AccuracyAndSamplesTest {

    @Test
    void exactRowsHaveNoError() {
        Accuracy a = new Accuracy();
        a.addRow(0, new float[]{1, -2, 0}, new double[]{1, -2, 0});
        assertEquals(0.0, a.maxError());
        assertTrue(a.within(Accuracy.Tolerance.ELEMENTWISE));
    }

    @Test
    void errorIsRelativeExceptForElementsTinyAgainstTheirRow() {
        Accuracy a = new Accuracy();
        a.addRow(0, new float[]{100.001f, 0.001f}, new double[]{100, 0});
        // 100.001f vs 100: ~1e-5 relative; 0.001 vs 0 is judged against 1e-3 * 100 = 0.1: 1e-2
        assertEquals(1e-2, a.maxError(), 1e-9);
        assertFalse(a.within(Accuracy.Tolerance.ACCUMULATING));
        assertTrue(a.worst().contains("element 1"), a.worst());
    }

    @Test
    void nanInfinityAndLengthMismatchFail() {
        Accuracy nan = new Accuracy();
        nan.addRow(0, new float[]{Float.NaN}, new double[]{1});
        assertEquals(Double.POSITIVE_INFINITY, nan.maxError());
        Accuracy inf = new Accuracy();
        inf.addRow(0, new float[]{Float.POSITIVE_INFINITY}, new double[]{1});
        assertFalse(inf.within(Accuracy.Tolerance.ACCUMULATING));
        Accuracy len = new Accuracy();
        len.addRow(3, new float[]{1}, new double[]{1, 2});
        assertFalse(len.within(Accuracy.Tolerance.ACCUMULATING));
        assertTrue(len.worst().contains("row 3"), len.worst());
        assertFalse(new Accuracy().within(Accuracy.Tolerance.ACCUMULATING), "nothing compared is not a pass");
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
