package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link StableCutsTest} on the GPU, with values: {@link CutProgram} recorded with a 20 us time bound and random
 * pauses, run after run; every run's outputs equal the CPU backend's, and no run after the first compiles an
 * operator. Then, for the record (printed, not asserted: it depends on timing), the same runs on a backend made
 * with {@code -Dgpuos.plan.stableCuts=false}: operators compiled and milliseconds per run.
 */
@Tag("gpu")
class StableCutsGpuTest extends SharedGpuOS {
    private static final int RUNS = 8, LAYERS = 8;
    private static final long MAX_PAUSE_NANOS = 60_000;

    @Test
    void aTimeBoundAnywhereCompilesNothingNewAndComputesTheCpuValues() {
        List<double[]> expected = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        try (TensorScope cpu = TensorScope.open(CpuBackend.eager())) {
            for (Tensor t : new CutProgram(0, 0).record(cpu, LAYERS)) {
                expected.add(t.toDoubleArray());
                shapes.add(t.shape());
            }
        }
        GpuBackend gpu = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofNanos(20_000), null);
        String rows = runs(gpu, expected, shapes, true);
        System.out.println("stable cuts on:  " + rows);

        String was = System.getProperty(GpuBackend.STABLE_CUTS);
        System.setProperty(GpuBackend.STABLE_CUTS, "false");
        try {
            GpuBackend anywhere = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofNanos(20_000), null);
            System.out.println("stable cuts off: " + runs(anywhere, expected, shapes, false));
        } finally {
            if (was == null) System.clearProperty(GpuBackend.STABLE_CUTS);
            else System.setProperty(GpuBackend.STABLE_CUTS, was);
        }
    }

    /** RUNS recordings on {@code gpu}, each checked against the CPU's values; returns a row per run. */
    private static String runs(GpuBackend gpu, List<double[]> expected, List<long[]> shapes, boolean assertNoCompile) {
        StringBuilder rows = new StringBuilder();
        int compiledAfterFirst = -1;
        double rtol = ToleranceTable.accumulating(DType.F32);
        for (int run = 0; run < RUNS; run++) {
            GpuBackend.Stats before = gpu.stats();
            int compiled = gpu.operatorsCompiled().size();
            long t0 = System.nanoTime();
            try (TensorScope s = TensorScope.open(gpu)) {
                List<Tensor> out = new CutProgram(run, MAX_PAUSE_NANOS).record(s, LAYERS);
                gpu.sync();
                double ms = (System.nanoTime() - t0) / 1e6;
                for (int i = 0; i < out.size(); i++) {
                    assertArrayEquals(shapes.get(i), out.get(i).shape(), "run " + run + " output " + i);
                    double[] e = expected.get(i), g = out.get(i).toDoubleArray();
                    double largest = 0;
                    for (double v : e) largest = Math.max(largest, Math.abs(v));
                    double tol = rtol * Math.max(largest, 1);  // normwise, as ToleranceTable compares accumulating results
                    for (int k = 0; k < e.length; k++) {
                        assertTrue(Math.abs(e[k] - g[k]) <= tol, "run " + run + " output " + i + " element " + k
                                + ": cpu " + e[k] + ", gpu " + g[k]);
                    }
                }
                GpuBackend.Stats after = gpu.stats();
                List<String> names = gpu.operatorsCompiled();
                rows.append(String.format(Locale.ROOT, "run %d: %.1f ms, %d compiled, %d submissions, %d tasks; ", run, ms,
                        names.size() - compiled, after.submissions() - before.submissions(), after.tasks() - before.tasks()));
                if (run == 0) compiledAfterFirst = names.size();
                else if (assertNoCompile) {
                    assertEquals(compiledAfterFirst, names.size(), "run " + run + " compiled "
                            + names.subList(Math.min(compiledAfterFirst, names.size()), names.size()));
                }
            }
        }
        return rows.toString();
    }
}
