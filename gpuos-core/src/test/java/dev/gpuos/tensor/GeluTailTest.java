package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ScalarMath;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gelu and gelu(tanh) compute the cancellation-free forms on every backend (erfc, and 1 / (1 + exp(-2y))), so a
 * negative tail is a tiny negative number on the CPU as on the GPU, not -0.0: multiplied by -inf both give +inf.
 * The GPU fuzzer found the CPU's old 1 + tanh form giving NaN there against the GPU's +inf (issue 15, seed 24398:
 * log(bool) * geluTanh(floorDivide(3.875, -0.5))).
 */
class GeluTailTest {

    @Test
    void negativeTailsAreTinyNegativeNumbersNotZero() {
        for (Backend backend : new Backend[]{CpuBackend.eager(), CpuBackend.batched(64, Duration.ofHours(1))}) {
            try (TensorScope s = TensorScope.open(backend)) {
                Tensor x = s.tensor(new float[]{-8f, -9f, -3f, 2f});
                float[] tanhForm = x.geluTanh().toFloatArray(), erfForm = x.gelu().toFloatArray();
                for (int i = 0; i < 4; i++) {
                    double a = x.toFloatArray()[i];
                    double wantTanh = a / (1 + Math.exp(-1.5957691216057308 * (a + 0.044715 * a * a * a)));
                    double wantErf = a * 0.5 * ScalarMath.erfc(-a / Math.sqrt(2));
                    assertEquals(wantTanh, tanhForm[i], 1e-5 * Math.abs(wantTanh), backend.name() + " geluTanh(" + a + ")");
                    assertEquals(wantErf, erfForm[i], 1e-5 * Math.abs(wantErf), backend.name() + " gelu(" + a + ")");
                }
                assertTrue(tanhForm[0] < 0 && tanhForm[0] > -1e-20, "geluTanh(-8) = " + tanhForm[0]);
                assertTrue(erfForm[1] < 0 && erfForm[1] > -1e-17, "gelu(-9) = " + erfForm[1]);
                float[] fuzzCase = s.tensor(new float[]{Float.NEGATIVE_INFINITY}).mul(x.narrow(0, 0, 1).geluTanh())
                        .toFloatArray();
                assertEquals(Float.POSITIVE_INFINITY, fuzzCase[0], backend.name() + ": -inf * geluTanh(-8), as on the GPU");
            }
        }
    }

    @Test
    void erfcKeepsItsDigitsWhereOneMinusErfCancels() {
        assertEquals(0.4795001221869535, ScalarMath.erfc(0.5), 1e-15);
        assertEquals(1.8427007929497148, ScalarMath.erfc(-1), 1e-15);
        assertEquals(2.209049699858544e-05, ScalarMath.erfc(3), 1e-12 * 2.2e-5);
        assertEquals(1.5374597944280349e-12, ScalarMath.erfc(5), 1e-12 * 1.5e-12);
        assertEquals(2.1519736712498913e-17, ScalarMath.erfc(6), 1e-12 * 2.2e-17);
        assertEquals(2.088487583762545e-45, ScalarMath.erfc(10), 1e-12 * 2.1e-45);
        assertEquals(0.0, ScalarMath.erfc(30));
        assertEquals(0.0, ScalarMath.erfc(Double.POSITIVE_INFINITY));
        assertEquals(2.0, ScalarMath.erfc(Double.NEGATIVE_INFINITY));
        assertTrue(Double.isNaN(ScalarMath.erfc(Double.NaN)));
    }
}
