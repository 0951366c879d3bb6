package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every workload, small, on the batched CPU backend (the lazy path the GPU backend takes) vs its Java reference. */
class WorkloadCasesTest {

    static Stream<WorkloadCase> smallCases() {
        return Stream.of(new ElementwiseBatch(8, 5), new ElementwiseBatch(33, 3), new MixedChain(16, 4),
                new AttentionDecode(8, 3), new AttentionDecode(70, 2), new SmallReductions(3, 7, 4),
                new SmallReductions(1, 300, 2), new DependentChain(16, 50), new MlpInference(10, 3));
    }

    static Map<String, float[]> host(WorkloadCase c) {
        Map<String, float[]> host = new LinkedHashMap<>();
        for (InputSpec spec : c.inputs()) {
            host.put(spec.name(), spec.generate());
        }
        return host;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("smallCases")
    void tensorProgramMatchesReference(WorkloadCase c) {
        Map<String, float[]> host = host(c);
        CpuBackend backend = CpuBackend.batched(64, Duration.ofMillis(2));
        try (TensorScope scope = TensorScope.open(backend)) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (InputSpec spec : c.inputs()) {
                in.put(spec.name(), spec.upload(scope, host.get(spec.name())));
            }
            try (WorkloadCase.Recorded r = c.record(in)) {
                scope.sync();
                assertEquals(c.rows(), r.rows().size(), c + ": one output per row");
                Accuracy a = new Accuracy(c.tolerance());
                for (int k = 0; k < c.rows(); k++) {
                    float[] row = r.rows().get(k).toFloatArray();
                    a.addRow(k, row, c.reference(host, k));
                }
                assertTrue(a.within(), c + ": max rel err " + a.maxError() + " at " + a.worst());
                assertTrue(backend.submissionCount() >= 1, c + ": the batched backend never submitted");
            }
        }
    }

    /** The raw-task form of W1 and W5, interpreted on the host, computes what the tensor program computes. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("smallCases")
    void rawProgramMatchesReference(WorkloadCase c) {
        if (c.rawProgram().isEmpty()) {
            assertTrue(c instanceof MixedChain || c instanceof AttentionDecode || c instanceof SmallReductions
                    || c instanceof MlpInference, c + " should have a raw form");
            return;
        }
        BinaryProgram p = c.rawProgram().get();
        Map<String, float[]> host = host(c);
        List<float[]> buffers = p.buffers().stream()
                .map(b -> b.input() == null ? new float[(int) b.elements()] : host.get(b.input()).clone()).toList();
        for (BinaryProgram.Task t : p.tasks()) {
            float[] o = buffers.get(t.out().buffer()), a = buffers.get(t.a().buffer()), b = buffers.get(t.b().buffer());
            for (int j = 0; j < p.n(); j++) {
                float x = a[(int) t.a().element() + j], y = b[(int) t.b().element() + j];
                o[(int) t.out().element() + j] = p.operator().equals("add_f32") ? x + y : x * y;
            }
        }
        assertEquals(c.rows(), p.rows().size());
        Accuracy acc = new Accuracy(c.tolerance());
        for (int k = 0; k < c.rows(); k++) {
            BinaryProgram.Operand at = p.rows().get(k);
            float[] row = java.util.Arrays.copyOfRange(buffers.get(at.buffer()), (int) at.element(),
                    (int) at.element() + p.n());
            acc.addRow(k, row, c.reference(host, k));
        }
        assertEquals(0.0, acc.maxError(), c + ": raw program differs from the reference at " + acc.worst());
        assertTrue(p.ntiles() * p.tileSize() >= p.n() && p.tileSize() <= BinaryProgram.TILE);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("smallCases")
    void probeRowsAreSortedDistinctAndIncludeTheEnds(WorkloadCase c) {
        int[] rows = c.probeRows();
        assertEquals(0, rows[0]);
        assertEquals(c.rows() - 1, rows[rows.length - 1]);
        for (int i = 1; i < rows.length; i++) {
            assertTrue(rows[i] > rows[i - 1], c + ": probe rows not increasing");
        }
        assertTrue(rows.length <= 18, c + ": " + rows.length + " probe rows");
    }
}
