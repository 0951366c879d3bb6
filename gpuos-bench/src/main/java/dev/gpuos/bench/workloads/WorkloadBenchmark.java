package dev.gpuos.bench.workloads;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.gpu.GpuBackend;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The workload comparison of issue 4, GPUOS side: W1..W6 ({@link Plan#issue()}) in every configuration that
 * applies, each checked against a plain-Java reference before its timing counts, written to
 * {@code workloads_gpuos.json} / {@code .csv} (rewritten after every case, so a run cut short still leaves its
 * rows) plus probe rows for {@code bench/pytorch/run.py} to compare with PyTorch eager.
 *
 * <p>Configurations: {@code gpuos} (tensor API, batched, one sync at the end), {@code gpuos_replay} (the same
 * program captured once, each run one replay of its task batch), {@code gpuos_raw} (W1 and W5 as
 * raw tasks) and, after the GpuOS instance closed, {@code java_launch_per_op} (the tasks {@code gpuos_replay}
 * captured, every replayable case, one cuLaunchKernel per task) and {@code java_launch_per_op_raw} (the raw
 * tasks of W1 and W5, one cuLaunchKernel per op). A progress line follows every run.
 */
public final class WorkloadBenchmark {
    public static final String JSON = "workloads_gpuos.json";
    public static final String CSV = "workloads_gpuos.csv";
    public static final String PROBE_DIR = "workloads_probe";
    static final String STREAMED = "gpuos";

    /** Cases, repeats and the time budget of one run. */
    public record Plan(List<WorkloadCase> cases, int warmups, int repeats, Duration budget) {
        public static final String BUDGET_PROPERTY = "gpuos.workloads.budgetSeconds";
        /** A regular expression: only cases whose "workload label" (e.g. "W1 n=1024") it finds run (a short GPU check). */
        public static final String ONLY_PROPERTY = "gpuos.workloads.only";

        /**
         * The sizes of the issue: 9 timed repeats after 2 warm-ups; no new run starts after 180 s (system property
         * {@value #BUDGET_PROPERTY} overrides), which with the runtime benchmark before it keeps {@code gpuos bench}
         * inside gpu-check's 300 s.
         */
        public static Plan issue() {
            List<WorkloadCase> cases = new ArrayList<>();
            for (int n : new int[]{256, 512, 1024, 2048, 4096, 8192, 16384}) {
                cases.add(new ElementwiseBatch(n, 10_000));
            }
            cases.add(new MixedChain(2048, 1000));
            for (int length : new int[]{128, 512, 2048}) {
                cases.add(new AttentionDecode(length, 1000));
            }
            for (int[] shape : new int[][]{{8, 256}, {32, 128}, {64, 512}, {128, 1024}}) {
                cases.add(new SmallReductions(shape[0], shape[1], 1000));
            }
            cases.add(new DependentChain(1024, 1000));
            cases.add(new MlpInference(1000, 8));
            String only = System.getProperty(ONLY_PROPERTY);
            if (only != null) {
                java.util.regex.Pattern p = java.util.regex.Pattern.compile(only);
                cases.removeIf(c -> !p.matcher(c.workload() + " " + c.label()).find());
                if (cases.isEmpty()) throw new IllegalArgumentException(ONLY_PROPERTY + "=" + only + " matches no case");
            }
            return new Plan(List.copyOf(cases), 2, 9, Duration.ofSeconds(Long.getLong(BUDGET_PROPERTY, 180)));
        }
    }

    /** One way of running a case (a column of the results table). */
    interface Configuration {
        String name();

        /** Null if the configuration applies to the case, else why not. */
        String notApplicable(WorkloadCase c);

        ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats repeats) throws Exception;
    }

    private final PrintStream out;
    private final Plan plan;
    private final List<ResultRow> rows = new ArrayList<>();
    private final Map<String, Object> environment = new LinkedHashMap<>();
    private final Map<String, Object> fingerprints = new LinkedHashMap<>();
    private final List<Map<String, Object>> notRun = new ArrayList<>();
    private long deadline;
    private ProgressBar progress;

    public WorkloadBenchmark(PrintStream out, Plan plan) {
        this.out = out;
        this.plan = plan;
    }

    public WorkloadBenchmark(PrintStream out) {
        this(out, Plan.issue());
    }

    /** Runs every configuration on the GPU and writes the result files under {@code outDir}. */
    public List<ResultRow> run(Path outDir) throws IOException {
        start(outDir);
        ReplayRun replay;
        Path probes = outDir.resolve(PROBE_DIR);
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend backend = new GpuBackend(os);
            environment.put("device", os.deviceName());
            environment.put("driver_version", GpuOS.driverVersion());
            environment.put("nvrtc_version", Arrays.toString(GpuOS.compilerVersion()));
            environment.put("worker", os.stats().generation().toString());
            environment.put("gpu_backend", "max " + GpuBackend.DEFAULT_MAX_NODES + " nodes or "
                    + GpuBackend.DEFAULT_MAX_AGE.toMillis() + " ms per submission");
            Supplier<Map<String, Long>> counters = () -> {
                GpuBackend.Stats s = backend.stats();
                Map<String, Long> m = new LinkedHashMap<>();
                m.put("submissions", s.submissions());
                m.put("tasks", s.tasks());
                m.put("operators_compiled", s.operatorsCompiled());
                return m;
            };
            StreamedRun streamed = new StreamedRun(backend, counters, probes);
            RawTaskRun raw = new RawTaskRun(os, probes);
            replay = new ReplayRun(backend, counters, probes);
            List<Configuration> gpuos = List.of(streamedConfiguration(streamed), replayConfiguration(replay),
                    rawConfiguration(raw));
            progress = new ProgressBar(out, applicableRuns(gpuos) + applicableRuns(launchConfigurations(null, null)));
            runPhase(outDir, gpuos);
        }
        try (LaunchPerOpRun launches = new LaunchPerOpRun(probes)) {
            runPhase(outDir, launchConfigurations(launches, replay));
        } catch (RuntimeException e) {
            notRun.add(Map.of("config", LaunchPerOpRun.CONFIG + " " + LaunchPerOpRun.RAW_CONFIG, "reason",
                    "could not set up: " + e));
            out.println("workloads: " + LaunchPerOpRun.CONFIG + " could not run: " + e);
        }
        for (WorkloadCase c : plan.cases()) {
            if (c.notReplayable() != null) {
                notRun.add(Map.of("config", ReplayRun.CONFIG + " " + LaunchPerOpRun.CONFIG, "workloads", c.workload(),
                        "reason", c.notReplayable() + " (launch-per-op runs the tasks the replay captured)"));
            }
        }
        notRun.add(Map.of("config", RawTaskRun.CONFIG, "workloads", "W2 W3 W4 W6", "reason",
                "raw tasks are written where a workload is one binary operator per op (W1, W5); the others are "
                        + "exactly what the tensor backend's generated operators are for"));
        notRun.add(Map.of("config", LaunchPerOpRun.RAW_CONFIG, "workloads", "W2 W3 W4 W6", "reason",
                "the raw operators exist for W1 and W5 only (see " + RawTaskRun.CONFIG + "); "
                        + LaunchPerOpRun.CONFIG + " launches the generated operators of every replayable workload"));
        writeFiles(outDir);
        out.printf("workloads: %d rows in %s (%.0f s)%n", rows.size(), outDir.resolve(JSON), elapsedSeconds());
        out.flush();
        return List.copyOf(rows);
    }

    /** The tensor-API configuration alone on {@code backend} (the CPU tests run it on the batched CPU backend). */
    List<ResultRow> runStreamed(Path outDir, Backend backend, Supplier<Map<String, Long>> counters) throws IOException {
        start(outDir);
        environment.put("device", backend.name());
        StreamedRun streamed = new StreamedRun(backend, counters, outDir.resolve(PROBE_DIR));
        List<Configuration> configs = List.of(streamedConfiguration(streamed));
        progress = new ProgressBar(out, applicableRuns(configs));
        runPhase(outDir, configs);
        writeFiles(outDir);
        return List.copyOf(rows);
    }

    private void start(Path outDir) throws IOException {
        Files.createDirectories(outDir);
        deadline = System.nanoTime() + plan.budget().toNanos();
        startNanos = System.nanoTime();
        environment.put("side", "gpuos");
        environment.put("java", Runtime.version().toString());
        environment.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        environment.put("cpus", Runtime.getRuntime().availableProcessors());
        environment.put("method", "wall time around record + submit + sync of the whole workload; inputs uploaded "
                + "before; first run (JIT included) reported apart and checked against a plain-Java reference; "
                + plan.warmups() + " warm-up runs, " + plan.repeats() + " timed; median, p10, p90 (numpy linear)");
        environment.put("generator", "SeededInputs: hash32((i + hash32(seed)) mod 2^32), u = (h >>> 8) * 2^-24, "
                + "v = lo + span * u in float32");
    }

    private long startNanos;

    private double elapsedSeconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private void runPhase(Path outDir, List<Configuration> configs) throws IOException {
        Repeats repeats = new Repeats(plan.warmups(), plan.repeats(), deadline);
        for (WorkloadCase c : plan.cases()) {
            List<Configuration> applicable = new ArrayList<>();
            for (Configuration cfg : configs) {
                if (cfg.notApplicable(c) == null) {
                    applicable.add(cfg);
                }
            }
            if (applicable.isEmpty()) {
                continue;
            }
            if (repeats.expired()) {
                for (Configuration cfg : applicable) {
                    record(ResultRow.skipped(c, cfg.name(), "time budget of " + plan.budget().toSeconds() + " s spent"));
                }
                continue;
            }
            Map<String, float[]> host = new LinkedHashMap<>();
            Map<String, Object> prints = new LinkedHashMap<>();
            for (InputSpec spec : c.inputs()) {
                float[] values = spec.generate();
                host.put(spec.name(), values);
                SeededInputs.Fingerprint f = SeededInputs.fingerprint(values);
                Map<String, Object> print = new LinkedHashMap<>();
                print.put("shape", spec.shape());
                print.put("seed", spec.seed());
                print.put("lo", spec.lo());
                print.put("span", spec.span());
                print.put("count", f.count());
                print.put("head", f.head());
                // bits, so that the comparison in run.py does not depend on parsing decimal floats
                print.put("head_bits", f.headBits());
                print.put("last_bits", Float.floatToRawIntBits(f.last()));
                print.put("sum", f.sum());
                prints.put(spec.name(), print);
            }
            fingerprints.put(c.key(), prints);
            for (Configuration cfg : applicable) {
                ResultRow row;
                try {
                    row = cfg.run(c, host, repeats);
                } catch (Exception | OutOfMemoryError e) {
                    row = ResultRow.error(c, cfg.name(), e);
                }
                record(row);
            }
            writeFiles(outDir);
        }
    }

    /** Runs the configurations will make over the plan's cases (the progress bar's total). */
    private int applicableRuns(List<Configuration> configs) {
        int n = 0;
        for (WorkloadCase c : plan.cases()) {
            for (Configuration cfg : configs) {
                if (cfg.notApplicable(c) == null) {
                    n++;
                }
            }
        }
        return n;
    }

    private void record(ResultRow row) {
        rows.add(row);
        if (row.times() == null) {
            out.printf("%-3s %-14s %-19s %s: %s%n", row.workload(), row.label(), row.config(), row.status(), row.note());
        } else {
            Samples s = row.times();
            out.printf("%-3s %-14s %-19s median %10.3f ms  p10 %10.3f  p90 %10.3f  (%d runs; first %.1f ms)  %s  "
                            + "max rel err %.2e%s%n", row.workload(), row.label(), row.config(), s.median(), s.p10(),
                    s.p90(), s.count(), row.firstRunMs(), row.status(), row.maxRelErr(),
                    row.note().isEmpty() ? "" : "  [" + row.note() + "]");
        }
        out.flush();
        if (progress != null) {
            progress.finished(row.workload(), row.label(), row.config());
        }
    }

    private void writeFiles(Path outDir) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("environment", environment);
        doc.put("rows", rows.stream().map(ResultRow::toMap).toList());
        doc.put("not_run", notRun);
        doc.put("inputs", fingerprints);
        doc.put("probe_dir", PROBE_DIR);
        ResultFiles.writeAtomically(outDir.resolve(JSON), ResultFiles.json(doc));
        ResultFiles.writeAtomically(outDir.resolve(CSV), ResultFiles.csv(rows));
    }

    private static Configuration streamedConfiguration(StreamedRun run) {
        return new Configuration() {
            public String name() { return STREAMED; }
            public String notApplicable(WorkloadCase c) { return null; }
            public ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats r) throws Exception {
                return run.run(c, STREAMED, host, r);
            }
        };
    }

    private static Configuration replayConfiguration(ReplayRun run) {
        return new Configuration() {
            public String name() { return ReplayRun.CONFIG; }
            public String notApplicable(WorkloadCase c) { return c.notReplayable(); }
            public ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats r) throws Exception {
                return run.run(c, host, r);
            }
        };
    }

    private static Configuration rawConfiguration(RawTaskRun run) {
        return new Configuration() {
            public String name() { return RawTaskRun.CONFIG; }
            public String notApplicable(WorkloadCase c) {
                return c.rawProgram().isPresent() ? null : "not a single binary operator";
            }
            public ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats r) throws Exception {
                return run.run(c, c.rawProgram().orElseThrow(), host, r);
            }
        };
    }

    /**
     * The launch-per-op configurations: the captured tasks of every replayable case, and the raw operators of W1
     * and W5. With null arguments they only answer {@link Configuration#notApplicable} (for the progress total).
     */
    private static List<Configuration> launchConfigurations(LaunchPerOpRun run, ReplayRun captured) {
        Configuration generated = new Configuration() {
            public String name() { return LaunchPerOpRun.CONFIG; }
            public String notApplicable(WorkloadCase c) { return c.notReplayable(); }
            public ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats r) throws Exception {
                return run.run(c, captured.portable(c), host, r);
            }
        };
        Configuration raw = new Configuration() {
            public String name() { return LaunchPerOpRun.RAW_CONFIG; }
            public String notApplicable(WorkloadCase c) {
                return c.rawProgram().isPresent() ? null : "not a single binary operator";
            }
            public ResultRow run(WorkloadCase c, Map<String, float[]> host, Repeats r) throws Exception {
                return run.run(c, c.rawProgram().orElseThrow(), host, r);
            }
        };
        return List.of(generated, raw);
    }
}
