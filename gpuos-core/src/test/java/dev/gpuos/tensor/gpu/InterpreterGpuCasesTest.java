package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GPU interpreter test's cases build on the CPU backend, so the one GPU run does not stop at a test bug. */
class InterpreterGpuCasesTest {
    @Test
    void everyCaseBuildsAndRunsOnTheCpu() {
        var cases = InterpreterGpuTest.everyOpCases();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (var c : cases) {
                try {
                    c.build().apply(s).toDoubleArray();
                } catch (RuntimeException e) {
                    throw new AssertionError(c.label() + ": " + e, e);
                }
            }
        }
        assertTrue(cases.size() > 700, cases.size() + " cases");
        System.out.println("[interp] " + cases.size() + " GPU interpreter cases build on the CPU");
    }
}
