package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The configuration a user writes: the case's tensor-API program, ops recorded and batched by the backend, one
 * sync at the end. Inputs are uploaded (and synced) before the clock starts; each run's results live in a scope
 * of their own, closed after the run.
 */
final class StreamedRun {
    private final Backend backend;
    private final Supplier<Map<String, Long>> counters;
    private final Path probeDir;

    /** @param counters cumulative backend counters (submissions, tasks, ...); per-run deltas go to the row */
    StreamedRun(Backend backend, Supplier<Map<String, Long>> counters, Path probeDir) {
        this.backend = backend;
        this.counters = counters;
        this.probeDir = probeDir;
    }

    ResultRow run(WorkloadCase c, String config, Map<String, float[]> host, Repeats repeats) throws Exception {
        try (TensorScope inputScope = TensorScope.open(backend)) {
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            for (InputSpec spec : c.inputs()) {
                inputs.put(spec.name(), spec.upload(inputScope, host.get(spec.name())));
            }
            inputScope.sync();

            Map<String, Long> beforeFirst = counters.get();
            Accuracy accuracy;
            double firstMs;
            try (TensorScope runScope = TensorScope.open(backend)) {
                long t0 = System.nanoTime();
                try (WorkloadCase.Recorded r = c.record(inputs)) {
                    runScope.sync();
                    firstMs = Repeats.msSince(t0);
                    accuracy = OutputCheck.run(c, host, k -> r.rows().get(k).toFloatArray(), probeDir, config);
                }
            }
            Map<String, Long> afterFirst = counters.get();

            List<Double> recordMs = new ArrayList<>();
            double[] times = repeats.measure(() -> {
                try (TensorScope runScope = TensorScope.open(backend)) {
                    long t0 = System.nanoTime();
                    try (WorkloadCase.Recorded r = c.record(inputs)) {
                        // Host cost: recording, plus the submissions made inline at the size bound.
                        recordMs.add(Repeats.msSince(t0));
                        runScope.sync();
                        return Repeats.msSince(t0);
                    }
                }
            });
            Map<String, Long> afterAll = counters.get();
            Map<String, Object> extra = new LinkedHashMap<>();
            // measure() also ran the extra warm-ups through the callback: the record times are those of the timed
            // runs (the last times.length), the counters' delta covers every run it made (recordMs.size()).
            double recordMedian = Samples.of(recordMs.subList(recordMs.size() - times.length, recordMs.size()).stream()
                    .mapToDouble(Double::doubleValue).toArray()).median();
            extra.put("record_ms", recordMedian);
            extra.put("record_ns_per_op", recordMedian * 1e6 / Math.max(1, c.ops()));
            counterDeltas(extra, beforeFirst, afterFirst, afterAll, recordMs.size());
            return row(c, config, times, firstMs, accuracy, repeats, extra);
        }
    }

    /**
     * Backend counters (submissions, tasks, ...) of the first run and per later run, into {@code extra}; {@code runs}
     * is every run after the first that the counters saw, warm-ups included (they do the same work as timed runs).
     */
    static void counterDeltas(Map<String, Object> extra, Map<String, Long> before, Map<String, Long> afterFirst,
                              Map<String, Long> afterAll, int runs) {
        for (var e : afterAll.entrySet()) {
            long first = afterFirst.getOrDefault(e.getKey(), 0L) - before.getOrDefault(e.getKey(), 0L);
            long timed = e.getValue() - afterFirst.getOrDefault(e.getKey(), 0L);
            extra.put(e.getKey() + "_first_run", first);
            extra.put(e.getKey() + "_per_run", (double) timed / Math.max(1, runs));
        }
    }

    /** The result row of a tensor-API configuration, noting a time budget that cut the repeats short. */
    static ResultRow row(WorkloadCase c, String config, double[] times, double firstMs, Accuracy accuracy, Repeats repeats,
                         Map<String, Object> extra) {
        String note = OutputCheck.note(accuracy, c);
        if (times.length < repeats.repeats()) {
            note = (note.isEmpty() ? "" : note + "; ") + "only " + times.length + " of " + repeats.repeats()
                    + " repeats: time budget";
        }
        return new ResultRow(c.workload(), c.label(), config, c.description(), c.ops(), Samples.of(times), firstMs,
                OutputCheck.status(accuracy, c), accuracy.maxError(), c.tolerance().bound, note, extra);
    }
}
