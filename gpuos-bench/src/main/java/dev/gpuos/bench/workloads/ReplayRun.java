package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * "Recorded once and replayed": the case's tensor-API program is captured once with its output rows as the
 * program's outputs ({@link GpuBackend#captureReturning}: recording, fusion and planning happen there, reported
 * as the first run together with the first execution; intermediates no row needs stay in registers), then every
 * timed run is {@link GpuReplay#run()} plus a sync: one submission of the prepared task batch, the GPUOS
 * counterpart of replaying a CUDA graph. The output rows of the first replay are checked like every other
 * configuration's (only they are readable after such a capture).
 *
 * <p>Each captured program is also kept as a {@link PortableProgram} (tasks, buffers, rows: plain numbers) for
 * the launch-per-op baseline, which runs the same tasks after the GpuOS closed.
 */
final class ReplayRun {
    static final String CONFIG = "gpuos_replay";

    private final GpuBackend backend;
    private final Supplier<Map<String, Long>> counters;
    private final Path probeDir;
    private final Map<String, PortableProgram> programs = new LinkedHashMap<>();
    private final Map<String, String> unportable = new LinkedHashMap<>();

    ReplayRun(GpuBackend backend, Supplier<Map<String, Long>> counters, Path probeDir) {
        this.backend = backend;
        this.counters = counters;
        this.probeDir = probeDir;
    }

    /** The captured program of case {@code c}, for the launch-per-op run; throws if there is none, saying why. */
    PortableProgram portable(WorkloadCase c) {
        PortableProgram p = programs.get(c.key());
        if (p != null) {
            return p;
        }
        String why = unportable.get(c.key());
        throw new IllegalStateException(why != null ? "its captured program cannot run elsewhere: " + why
                : "no captured program: " + CONFIG + " did not get to capture " + c);
    }

    private void keepPortable(WorkloadCase c, GpuReplay replay, Map<String, Tensor> inputs, WorkloadCase.Recorded r) {
        try {
            programs.put(c.key(), PortableProgram.capture(backend, replay, inputs, r.rows()));
        } catch (RuntimeException e) {
            unportable.put(c.key(), e.toString());
        }
    }

    ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats repeats) throws Exception {
        try (TensorScope inputScope = TensorScope.open(backend)) {
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            for (InputSpec spec : c.inputs()) {
                inputs.put(spec.name(), spec.upload(inputScope, host.get(spec.name())));
            }
            inputScope.sync();
            try (TensorScope runScope = TensorScope.open(backend)) {
                Map<String, Long> before = counters.get();
                long t0 = System.nanoTime();
                WorkloadCase.Recorded[] recorded = new WorkloadCase.Recorded[1];
                GpuReplay replay = backend.captureReturning(() -> (recorded[0] = c.record(inputs)).rows());
                double captureMs = Repeats.msSince(t0);
                try (WorkloadCase.Recorded r = recorded[0]) {
                    replay.run();
                    runScope.sync();
                    double firstMs = Repeats.msSince(t0);
                    Accuracy accuracy = OutputCheck.run(c, host, k -> r.rows().get(k).toFloatArray(), probeDir, CONFIG);
                    Map<String, Long> afterFirst = counters.get();
                    // Where a replay's time goes: the host hands the batch over (descriptors into the ring) while
                    // the device already runs the first tasks; the rest is the device finishing after that.
                    List<Double> submitMs = new ArrayList<>();
                    double[] times = repeats.measure(() -> {
                        long s = System.nanoTime();
                        replay.run();
                        submitMs.add(Repeats.msSince(s));
                        runScope.sync();
                        return Repeats.msSince(s);
                    });
                    Map<String, Long> afterAll = counters.get();
                    Map<String, Object> extra = new LinkedHashMap<>();
                    extra.put("capture_ms", captureMs);
                    extra.put("replay_tasks", replay.taskCount());
                    extra.put("replay_nodes", replay.nodeCount());
                    double[] submitted = submitMs.subList(submitMs.size() - times.length, submitMs.size()).stream()
                            .mapToDouble(Double::doubleValue).sorted().toArray();
                    extra.put("replay_host_submit_ms_median", submitted.length == 0 ? 0 : submitted[submitted.length / 2]);
                    StreamedRun.counterDeltas(extra, before, afterFirst, afterAll, submitMs.size());
                    keepPortable(c, replay, inputs, r);
                    return StreamedRun.row(c, CONFIG, times, firstMs, accuracy, repeats, extra);
                }
            }
        }
    }
}
