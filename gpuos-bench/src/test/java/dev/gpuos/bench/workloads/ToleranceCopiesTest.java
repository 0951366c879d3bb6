package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.ToleranceTable;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The workload checks use the library's one tolerance table: Accuracy reads it, and the PyTorch side's
 * bench/pytorch/cases.py, which runs without Java, keeps the same two F32 numbers (this test is what keeps them
 * equal). opcheck's comparison needs no copy: op_compare.py reads the table from the dump's manifest.
 */
class ToleranceCopiesTest {

    @Test
    void accuracyBoundsAreTheTablesF32Rows() {
        assertEquals(ToleranceTable.elementwise(DType.F32), Accuracy.Tolerance.ELEMENTWISE.bound);
        assertEquals(ToleranceTable.accumulating(DType.F32), Accuracy.Tolerance.ACCUMULATING.bound);
    }

    @Test
    void thePyTorchScriptKeepsTheSameF32Bounds() throws Exception {
        Path script = Path.of("..", "bench", "pytorch", "cases.py").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(script), script + " is missing");
        String source = Files.readString(script);
        assertEquals(ToleranceTable.elementwise(DType.F32), constant(source, "ELEMENTWISE"), "cases.py ELEMENTWISE");
        assertEquals(ToleranceTable.accumulating(DType.F32), constant(source, "ACCUMULATING"), "cases.py ACCUMULATING");
    }

    private static double constant(String source, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\s*=\\s*([0-9.eE+-]+)").matcher(source);
        assertTrue(m.find(), "no top-level " + name + " = ... in cases.py");
        return Double.parseDouble(m.group(1));
    }
}
