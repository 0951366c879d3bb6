package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.tensor.cpu.CpuBackend;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner end to end on the batched CPU backend: rows, checks, result files, probe files. */
class WorkloadBenchmarkTest {

    /** W1 (8 x 4) under another label, for cases that change one thing about it. */
    abstract static class W1Variant extends WorkloadCase {
        final ElementwiseBatch inner = new ElementwiseBatch(8, 4);
        private final String description;

        W1Variant(String label, String description) {
            super("W1", label);
            this.description = description;
        }

        @Override public String description() { return description; }
        @Override public List<InputSpec> inputs() { return inner.inputs(); }
        @Override public int rows() { return inner.rows(); }
        @Override public long ops() { return inner.ops(); }
        @Override public Accuracy.Tolerance tolerance() { return inner.tolerance(); }
        @Override public Recorded record(Map<String, dev.gpuos.tensor.Tensor> in) { return inner.record(in); }
        @Override public double[] reference(Map<String, float[]> in, int row) { return inner.reference(in, row); }
    }

    /** W1 whose reference is off by one part in 10^3: the row must be marked, not reported as a timing. */
    static final class WrongReference extends W1Variant {
        WrongReference() {
            super("wrong", "W1 with a wrong reference");
        }

        @Override
        public double[] reference(Map<String, float[]> in, int row) {
            double[] r = inner.reference(in, row);
            r[0] *= 1.001;
            return r;
        }
    }

    /** W1 that counts its recordings: one per run, whatever the runner does around it. */
    static final class CountingCase extends W1Variant {
        long records;

        CountingCase() {
            super("counting", "W1 counting its recordings");
        }

        @Override
        public Recorded record(Map<String, dev.gpuos.tensor.Tensor> in) {
            records++;
            return inner.record(in);
        }
    }

    /** Counters per run cover the warm-ups the runner made too (W1 reported 11,111 tasks a run for 10,000). */
    @Test
    void countersPerRunCountWarmUps(@TempDir Path dir) throws Exception {
        CountingCase c = new CountingCase();
        var plan = new WorkloadBenchmark.Plan(List.of(c), 4, 3, Duration.ofSeconds(60));
        CpuBackend backend = CpuBackend.batched(32, Duration.ofMillis(2));
        List<ResultRow> rows = new WorkloadBenchmark(new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8), plan).runStreamed(dir, backend, () -> Map.of("records", c.records));
        ResultRow r = rows.getFirst();
        assertEquals(ResultRow.OK, r.status(), r.toString());
        assertEquals(3, r.times().count());
        assertEquals(1L, r.extra().get("records_first_run"), r.toString());
        assertEquals(1.0, (double) r.extra().get("records_per_run"), r.toString());
    }

    @Test
    void writesCheckedRowsAndFiles(@TempDir Path dir) throws Exception {
        List<WorkloadCase> cases = List.of(new ElementwiseBatch(16, 40), new DependentChain(8, 30),
                new MlpInference(6, 2), new WrongReference());
        var plan = new WorkloadBenchmark.Plan(cases, 1, 3, Duration.ofSeconds(60));
        var bytes = new ByteArrayOutputStream();
        CpuBackend backend = CpuBackend.batched(32, Duration.ofMillis(2));
        List<ResultRow> rows = new WorkloadBenchmark(new PrintStream(bytes, true, StandardCharsets.UTF_8), plan)
                .runStreamed(dir, backend, () -> Map.of("submissions", backend.submissionCount()));

        assertEquals(4, rows.size());
        for (int i = 0; i < 3; i++) {
            ResultRow r = rows.get(i);
            assertEquals(ResultRow.OK, r.status(), r.toString());
            assertEquals(3, r.times().count());
            assertTrue(r.times().median() > 0 && r.times().p10() <= r.times().median()
                    && r.times().median() <= r.times().p90(), r.toString());
            assertTrue((double) r.extra().get("submissions_per_run") >= 1, r.toString());
        }
        ResultRow wrong = rows.get(3);
        assertEquals(ResultRow.FAILED_CHECK, wrong.status());
        assertTrue(wrong.maxRelErr() > 1e-4 && wrong.note().contains("element 0"), wrong.note());

        String json = Files.readString(dir.resolve(WorkloadBenchmark.JSON));
        assertTrue(json.contains("\"status\": \"FAILED-CHECK\""), json);
        assertTrue(json.contains("\"W1_n16\""), "fingerprints keyed by case: " + json);
        List<String> csv = Files.readAllLines(dir.resolve(WorkloadBenchmark.CSV));
        assertEquals(5, csv.size(), "header + 4 rows");
        assertTrue(csv.get(0).startsWith("workload,case,config,status,median_ms"), csv.get(0));

        // W1 n=16 x 40 rows: probe rows 0, 2, 4, ..., 38, 39 -> 21 rows of 16 floats
        WorkloadCase w1 = cases.getFirst();
        Path probe = dir.resolve(WorkloadBenchmark.PROBE_DIR).resolve(OutputCheck.probeFile(w1, "gpuos"));
        assertEquals(w1.probeRows().length * 16L * 4, Files.size(probe));
        byte[] raw = Files.readAllBytes(probe);
        float first = java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(0);
        float[] a = w1.inputs().get(0).generate(), b = w1.inputs().get(1).generate();
        assertEquals(a[0] + b[0], first, "first probe element is a[0] + b[0]");
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("W6"), "a progress line per case");
    }

    @Test
    void jsonWriterEscapesAndWritesNullForNonFinite() {
        String s = ResultFiles.json(Map.of("k\"", List.of(1.5, Double.NaN, "a\nb")));
        assertEquals("{\n  \"k\\\"\": [1.5, null, \"a\\nb\"]\n}\n", s);
        assertEquals("\"a,b\"", ResultFiles.csvField("a,b"));
        assertEquals("\"say \"\"x\"\"\"", ResultFiles.csvField("say \"x\""));
    }

    @Test
    void issuePlanHasTheIssueSizes() {
        var plan = WorkloadBenchmark.Plan.issue();
        assertEquals(7 + 1 + 3 + 4 + 1 + 1, plan.cases().size());
        assertTrue(plan.repeats() >= 7);
        assertEquals(List.of("W1", "W2", "W3", "W4", "W5", "W6"),
                plan.cases().stream().map(WorkloadCase::workload).distinct().toList());
    }
}
