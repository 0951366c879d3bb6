package dev.gpuos.tensor;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToleranceTableTest {

    @Test
    void integersAreExactAndFloatsLoosenWithLessPrecision() {
        for (ToleranceTable.Kind k : ToleranceTable.Kind.values()) {
            for (DType t : new DType[]{DType.BOOL, DType.I32, DType.I64}) assertEquals(0.0, ToleranceTable.relative(t, k));
            double f64 = ToleranceTable.relative(DType.F64, k), f32 = ToleranceTable.relative(DType.F32, k);
            double f16 = ToleranceTable.relative(DType.F16, k), bf16 = ToleranceTable.relative(DType.BF16, k);
            assertTrue(0 < f64 && f64 < f32 && f32 < f16 && f16 <= bf16, k + ": " + f64 + " " + f32 + " " + f16 + " " + bf16);
            // Each bound catches a result computed one precision lower: F64 an F32 rounding (2^-24), F32 a 16-bit one.
            assertTrue(f64 < Math.scalb(1.0, -24) && f32 < Math.scalb(1.0, -11), k.toString());
            // And admits one ulp of its own type where both sides round once (BF16: 2^-7).
            assertTrue(bf16 >= Math.scalb(1.0, -7), k.toString());
        }
        assertTrue(ToleranceTable.accumulating(DType.F32) > ToleranceTable.elementwise(DType.F32));
    }

    @Test
    void thePyTorchNamedRowsAreTheTable() {
        Map<String, Double> m = ToleranceTable.byPyTorchName();
        assertEquals(8, m.size());
        assertEquals(ToleranceTable.elementwise(DType.F32), m.get("elementwise/float32"));
        assertEquals(ToleranceTable.accumulating(DType.BF16), m.get("normwise/bfloat16"));
        assertEquals(ToleranceTable.accumulating(DType.F64), m.get("normwise/float64"));
    }
}
