package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.bench.workloads.Accuracy;
import dev.gpuos.bench.workloads.ResultFiles;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.TieredOperators;
import dev.gpuos.tensor.op.ElementwiseOp;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * {@code gpuos bench --only interp}: the interpreter tier of issue 6. (1) Register to first correct result of
 * never-seen expressions, interpreted (no swap) and native (compile + swap), and the zero-pause timeline
 * (interp_timeline.csv); (2) interpreted vs native time of
 * W1/W2-style ops on one GpuOS; (3) a W2-style run end to end with the tier policy off and on, cold (fresh
 * GpuOS, empty JIT cache: every op new) and warm (fresh GpuOS, JIT cache filled). Results: {@code interp.json}.
 */
final class InterpBenchmark {
    private final PrintStream out;
    private final Map<String, Object> results = new LinkedHashMap<>();

    InterpBenchmark(PrintStream out) {
        this.out = out;
    }

    private static final ElementwiseOp[] UNARY = {ElementwiseOp.EXP, ElementwiseOp.SIN, ElementwiseOp.COS,
            ElementwiseOp.TANH, ElementwiseOp.SIGMOID, ElementwiseOp.RELU, ElementwiseOp.NEG, ElementwiseOp.ABS,
            ElementwiseOp.SILU, ElementwiseOp.GELU, ElementwiseOp.HARDSWISH, ElementwiseOp.SQRT};

    /** The k-th of 132 distinct 3-member structures: x * 1.37, then two different unary ops. */
    private static Tensor fresh(Tensor x, int k) {
        return unaries(x.mul(1.37), k);
    }

    /** Structures that warm the JVM before the measured ones: 3 families x 132 (see {@link #fresh}). */
    private static final int WARMUP = 396, COLD = 10;
    /** New expressions made one after another during the timeline's stream (structures 120..129). */
    private static final int TIMELINE_NEW = 10;

    private static Tensor warmup(Tensor x, int w) {
        int k = w % 132;
        Tensor first = switch (w / 132) {
            case 0 -> x.add(0.37);
            case 1 -> x.sub(0.37);
            default -> x.div(1.37);
        };
        return unaries(first, k);
    }

    /** The two different unary ops of structure {@code k}, applied to {@code y}. */
    private static Tensor unaries(Tensor y, int k) {
        int i = k % UNARY.length, j = (i + 1 + k / UNARY.length) % UNARY.length;
        return Tensor.elementwise(UNARY[j], new double[0], Tensor.elementwise(UNARY[i], new double[0], y));
    }

    /** First CORRECT result: checked outside the clock, and a wrong value fails the benchmark. */
    private static void checkResult(Accuracy accuracy, int structure, float[] actual, double[] expected) {
        double error = accuracy.addRow(structure, actual, expected);
        if (!(error <= Accuracy.Tolerance.ACCUMULATING.bound)) {
            throw new IllegalStateException("interpreted result of structure " + structure + " differs from the CPU "
                    + "backend: normwise error " + error + " (" + accuracy.worst() + ")");
        }
    }

    void run(Path outDir) throws IOException {
        Files.createDirectories(outDir);
        Path cache = Files.createTempDirectory("gpuos-interp-cache");
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults().withCacheDir(cache))) {
            results.put("device", os.deviceName());
            GpuBackend interp = new GpuBackend(os, TieredOperators.Policy.NEVER);
            GpuBackend nativeOnly = new GpuBackend(os, (TieredOperators.Policy) null);
            firstResult(os, interp, nativeOnly);
            timeline(os, outDir);
            throughput(interp, nativeOnly);
        }
        w2EndToEnd();
        ResultFiles.writeAtomically(outDir.resolve("interp.json"), ResultFiles.json(results));
        out.println("interp: results in " + outDir.resolve("interp.json"));
    }

    private void firstResult(GpuOS os, GpuBackend interp, GpuBackend nativeOnly) {
        try (TensorScope s = TensorScope.open(interp); TensorScope n = TensorScope.open(nativeOnly);
             TensorScope cpu = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.randn(1, DType.F32, 64, 1024), xn = n.randn(1, DType.F32, 64, 1024);
            Tensor xc = cpu.tensor(x.toFloatArray(), 64, 1024);
            xn.toFloatArray();
            // A running process has made new structures before: its JVM has compiled the path a new structure
            // takes (op program compile, store, task build). Warm it on WARMUP structures of other families
            // (x + c, x - c, x / c, each then two unary ops), none of which is measured below; the first
            // COLD of them, in a JVM that has seen no new structure yet, are reported apart.
            double[] cold = new double[COLD];
            for (int w = 0; w < WARMUP; w++) {
                long t0 = System.nanoTime();
                warmup(x, w).toFloatArray();
                if (w < COLD) cold[w] = (System.nanoTime() - t0) / 1e6;
            }
            results.put("interp_first_result_jvm_cold_ms", stats(cold));
            int count = 40;
            // The CPU backend's results, computed before the clock starts: each GPU result is checked against its own.
            double[][] expected = new double[count][];
            for (int k = 0; k < count; k++) expected[k] = fresh(xc, k).toDoubleArray();
            double[] lat = new double[count], recordMs = new double[count], planMs = new double[count];
            double[] awaitReadMs = new double[count], awaitMs = new double[count], downloadMs = new double[count];
            double[] copyOutMs = new double[count], firstOpMs = new double[count];
            Map<String, double[]> phaseMs = new LinkedHashMap<>();
            Accuracy accuracy = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
            long swaps = os.stats().swaps(), hostPrograms = interp.tiers().stats().hostProgramTasks();
            for (int k = 0; k < count; k++) {
                GpuBackend.ReadTimes r0 = interp.readTimes();
                Map<String, Long> p0 = interp.plannerPhaseNanos();
                long t0 = System.nanoTime();
                Tensor y = x.mul(1.37);  // fresh(x, k), its first op timed apart
                long tFirst = System.nanoTime();
                y = unaries(y, k);
                long t1 = System.nanoTime();
                firstOpMs[k] = (tFirst - t0) / 1e6;
                interp.flush();  // planning: program compile + upload, task build, submit
                long t2 = System.nanoTime();
                float[] r = y.toFloatArray();
                long t3 = System.nanoTime();
                GpuBackend.ReadTimes r1 = interp.readTimes();
                Map<String, Long> p1 = interp.plannerPhaseNanos();
                lat[k] = (t3 - t0) / 1e6;
                recordMs[k] = (t1 - t0) / 1e6;
                planMs[k] = (t2 - t1) / 1e6;
                awaitReadMs[k] = (t3 - t2) / 1e6;
                if (r1.reads() - r0.reads() != 1) throw new IllegalStateException("one read expected, saw " + (r1.reads() - r0.reads()));
                awaitMs[k] = (r1.awaitNanos() - r0.awaitNanos()) / 1e6;
                downloadMs[k] = (r1.downloadNanos() - r0.downloadNanos()) / 1e6;
                copyOutMs[k] = awaitReadMs[k] - awaitMs[k] - downloadMs[k];
                for (var e : p1.entrySet()) {
                    phaseMs.computeIfAbsent(e.getKey(), key -> new double[count])[k] = (e.getValue() - p0.get(e.getKey())) / 1e6;
                }
                checkResult(accuracy, k, r, expected[k]);
            }
            results.put("interp_first_result_ms", stats(lat));
            // How many of the 40 first tasks read their program over PCIe (its device copy had not landed yet).
            results.put("interp_first_result_host_program_tasks", interp.tiers().stats().hostProgramTasks() - hostPrograms);
            results.put("interp_first_result_record_ms", stats(recordMs));
            results.put("interp_first_result_plan_submit_ms", stats(planMs));
            results.put("interp_first_result_await_read_ms", stats(awaitReadMs));
            results.put("interp_first_result_await_ms", stats(awaitMs));
            results.put("interp_first_result_download_ms", stats(downloadMs));
            results.put("interp_first_result_copy_out_ms", stats(copyOutMs));
            Map<String, Object> phases = new LinkedHashMap<>();
            StringBuilder planLegs = new StringBuilder();
            for (var e : phaseMs.entrySet()) {
                phases.put(e.getKey(), stats(e.getValue()));
                planLegs.append(String.format(" %s %.3f;", e.getKey(), median(e.getValue())));
            }
            results.put("interp_first_result_plan_phases_ms", phases);
            results.put("interp_first_result_checked", Map.of("max_normwise_error", accuracy.maxError(),
                    "bound", Accuracy.Tolerance.ACCUMULATING.bound, "elements", accuracy.compared()));
            results.put("interp_first_result_record_first_op_ms", stats(firstOpMs));
            out.printf("interp: first result legs (median): record %.3f ms (first of its 3 ops %.3f), plan + program "
                    + "upload + submit %.3f ms, await + read 256 KiB %.3f ms%n", median(recordMs), median(firstOpMs),
                    median(planMs), median(awaitReadMs));
            out.printf("interp:   await + read = submit -> completion observed %.3f ms + download 256 KiB (pinned staging) "
                    + "%.3f ms + rest (array, flush, checks) %.3f ms; plan phases (median ms):%s%n", median(awaitMs),
                    median(downloadMs), median(copyOutMs), planLegs);
            out.printf("interp:   every result checked against the CPU backend: max normwise error %.2g (bound %.0g)%n",
                    accuracy.maxError(), Accuracy.Tolerance.ACCUMULATING.bound);
            // The same on 40 other new structures, reading into one reused array (Tensor.copyTo): what is left
            // when the JVM need not first-touch a fresh 256 KiB array per result.
            double[] latReused = new double[count];
            float[] into = new float[Math.toIntExact(x.numel())];
            for (int k = 0; k < count; k++) expected[k] = fresh(xc, 60 + k).toDoubleArray();  // before the clock
            for (int k = 0; k < count; k++) {
                long t0 = System.nanoTime();
                fresh(x, 60 + k).copyTo(into);
                latReused[k] = (System.nanoTime() - t0) / 1e6;
                checkResult(accuracy, 60 + k, into, expected[k]);
            }
            long interpSwaps = os.stats().swaps() - swaps;
            results.put("interp_first_result_reused_array_ms", stats(latReused));
            out.printf("interp:   into a reused array (Tensor.copyTo), 40 other new expressions: median %.3f ms (p90 %.3f)%n",
                    median(latReused), pct(latReused, 0.9));
            results.put("interp_first_result_swaps", interpSwaps);
            double[] nat = new double[5];
            for (int k = 0; k < nat.length; k++) {
                long t0 = System.nanoTime();
                fresh(xn, 50 + k).toFloatArray();
                nat[k] = (System.nanoTime() - t0) / 1e6;
            }
            results.put("native_first_result_ms", stats(nat));
            results.put("native_swap_pause_ms", os.stats().lastPauseNanos() / 1e6);
            out.printf("interp: register -> first correct result, new expression: interpreted median %.3f ms (p90 %.3f, "
                            + "%d swaps); native (compile + swap) median %.1f ms%n", median(lat), pct(lat, 0.9),
                    interpSwaps, median(nat));
            out.printf("interp:   measured after the JVM made %d other new structures; its first %d, in a JVM that had made "
                    + "none: median %.3f ms (p90 %.3f)%n", WARMUP, COLD, median(cold), pct(cold, 0.9));
        }
    }

    /**
     * The zero-pause timeline: a stream of tasks of another operator (each stamps %globaltimer) runs throughout;
     * ten never-seen expressions run interpreted one after another (each result checked against the CPU backend),
     * later they are promoted (one swap). interp_timeline.csv has the
     * stamps around both phases (task index, microseconds since the first stamp, phase); the JSON the longest gap
     * in each phase.
     */
    private void timeline(GpuOS os, Path outDir) throws IOException {
        GpuBackend tiered = new GpuBackend(os, TieredOperators.Policy.NEVER);
        OperatorRef stamp = os.register("interp_bench_stamp", """
                GPUOS_OP {
                    if (threadIdx.x == 0) ((unsigned long long*)task->refs[0].data)[task->args[0]] = gpuos::global_ns();
                }""");
        final int capacity = 1 << 22;  // ~2 stamps per microsecond for a few hundred ms
        DeviceBlock stamps = os.allocate(8L * capacity);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong issued = new AtomicLong();
        CompletableFuture<Void> stream = CompletableFuture.runAsync(() -> {
            TaskBatch[] batches = {new TaskBatch(64), new TaskBatch(64)};
            CompletableFuture<?>[] inFlight = new CompletableFuture<?>[2];
            for (int k = 0; !stop.get() && issued.get() + 32 <= capacity; k++) {
                int slot = k & 1;
                if (inFlight[slot] != null) inFlight[slot].join();
                TaskBatch b = batches[slot].clear();
                for (int i = 0; i < 32; i++) {
                    b.add(stamp, 1, 1).refContiguous(0, stamps, 0, DTypeCode.I64, capacity).arg(0, issued.getAndIncrement());
                }
                inFlight[slot] = os.submitAsync(b);
            }
            for (CompletableFuture<?> f : inFlight) if (f != null) f.join();
        });
        Map<String, Object> row = new LinkedHashMap<>();
        try (TensorScope s = TensorScope.open(tiered); TensorScope cpu = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.randn(5, DType.F32, 64, 1024);
            Tensor xc = cpu.tensor(x.toFloatArray(), 64, 1024);
            // NEW expressions one after another while the stream runs, each read back and checked.
            double[][] expected = new double[TIMELINE_NEW][];
            for (int k = 0; k < TIMELINE_NEW; k++) expected[k] = fresh(xc, 120 + k).toDoubleArray();
            Accuracy accuracy = new Accuracy(Accuracy.Tolerance.ACCUMULATING);
            double[] latency = new double[TIMELINE_NEW];
            sleep(100);
            long swaps = os.stats().swaps(), i0 = issued.get();
            // Legs, as in the first-result loop: record, plan + submit (of which the queue submit), await, download.
            double[] record = new double[TIMELINE_NEW], plan = new double[TIMELINE_NEW], queueSubmit = new double[TIMELINE_NEW];
            double[] await = new double[TIMELINE_NEW], download = new double[TIMELINE_NEW];
            for (int k = 0; k < TIMELINE_NEW; k++) {
                GpuBackend.ReadTimes r0 = tiered.readTimes();
                long q0 = tiered.plannerPhaseNanos().get("queue submit");
                long t0 = System.nanoTime();
                Tensor y = fresh(x, 120 + k);
                long t1 = System.nanoTime();
                tiered.flush();
                long t2 = System.nanoTime();
                float[] r = y.toFloatArray();
                latency[k] = (System.nanoTime() - t0) / 1e6;
                GpuBackend.ReadTimes r1 = tiered.readTimes();
                record[k] = (t1 - t0) / 1e6;
                plan[k] = (t2 - t1) / 1e6;
                queueSubmit[k] = (tiered.plannerPhaseNanos().get("queue submit") - q0) / 1e6;
                await[k] = (r1.awaitNanos() - r0.awaitNanos()) / 1e6;
                download[k] = (r1.downloadNanos() - r0.downloadNanos()) / 1e6;
                checkResult(accuracy, 120 + k, r, expected[k]);
            }
            long i1 = issued.get();
            row.put("legs_median_ms", Map.of("record", median(record), "plan_submit", median(plan),
                    "queue_submit", median(queueSubmit), "await", median(await), "download", median(download)));
            out.printf("interp: timeline legs (median ms): record %.3f, plan + submit %.3f (queue submit %.3f), await %.3f, "
                    + "download %.3f%n", median(record), median(plan), median(queueSubmit), median(await), median(download));
            row.put("interp_first_result_ms", stats(latency));
            row.put("interp_swaps", os.stats().swaps() - swaps);
            sleep(100);
            long i2 = issued.get();
            tiered.tiers().promoteNow();
            long i3 = issued.get();
            row.put("promotion_pause_ms", os.stats().lastPauseNanos() / 1e6);
            sleep(100);
            stop.set(true);
            stream.join();
            int n = (int) issued.get();
            long[] t = new long[n];
            try (Arena a = Arena.ofConfined()) {
                MemorySegment host = a.allocate(8L * n);
                os.download(host, stamps, 0);
                for (int i = 0; i < n; i++) t[i] = host.getAtIndex(ValueLayout.JAVA_LONG, i);
            }
            row.put("stream_tasks", n);
            row.put("interp_phase_tasks", new long[]{i0, i1});
            row.put("max_gap_us_interp_phase", maxGap(t, i0, Math.min(n, i1 + 64)) / 1e3);
            row.put("max_gap_us_before", maxGap(t, 0, i0) / 1e3);
            row.put("max_gap_us_promotion", maxGap(t, i2, Math.min(n, i3 + 64)) / 1e3);
            long first = Arrays.stream(t).min().orElse(0);
            // Stamps around the two phases only (the whole stream is millions of rows).
            StringBuilder csv = new StringBuilder("task,t_us,phase\n");
            for (int i = 0; i < n; i++) {
                String phase = i >= i0 && i < i1 ? "interpreting" : i >= i2 && i < i3 ? "promoting" : "";
                boolean near = (i >= i0 - 5000 && i < i1 + 5000) || (i >= i2 - 5000 && i < i3 + 5000);
                if (near) csv.append(i).append(',').append((t[i] - first) / 1e3).append(',').append(phase).append('\n');
            }
            ResultFiles.writeAtomically(outDir.resolve("interp_timeline.csv"), csv.toString());
            out.printf("interp: timeline: %d new ops interpreted, first results median %.3f ms (max %.3f; %d swaps) while %d "
                            + "stream tasks ran; max gap %.1f us then (%.1f us before), %.1f us around the promotion swap "
                            + "(pause %.3f ms)%n", TIMELINE_NEW, median(latency), Arrays.stream(latency).max().orElse(0),
                    row.get("interp_swaps"), i1 - i0, row.get("max_gap_us_interp_phase"),
                    row.get("max_gap_us_before"), row.get("max_gap_us_promotion"), row.get("promotion_pause_ms"));
        } finally {
            stop.set(true);
            stream.join();
            os.release(stamps);
        }
        results.put("timeline", row);
    }

    private static long maxGap(long[] t, long from, long to) {
        if (to - from < 2) return 0;
        long[] w = Arrays.copyOfRange(t, (int) from, (int) to);
        Arrays.sort(w);
        long max = 0;
        for (int i = 1; i < w.length; i++) max = Math.max(max, w[i] - w[i - 1]);
        return max;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void throughput(GpuBackend interp, GpuBackend nativeOnly) {
        Map<String, Object> rows = new LinkedHashMap<>();
        for (int log2 : new int[]{16, 20, 24}) {
            long n = 1L << log2;
            for (String kind : new String[]{"add", "mul_cos_add", "w2_chain"}) {
                Function<Tensor[], Tensor> f = switch (kind) {
                    case "add" -> v -> v[0].add(v[1]);
                    case "mul_cos_add" -> v -> v[0].mul(1.37).cos().add(0.61);
                    default -> v -> v[0].add(v[1]).mul(v[2]).relu().sigmoid().div(v[3]);
                };
                double ti = time(interp, n, f), tn = time(nativeOnly, n, f);
                rows.put(kind + "_n" + n, Map.of("interpreted_ms", ti, "native_ms", tn, "ratio", ti / tn));
                out.printf("interp: %-12s n=2^%d interpreted %.3f ms, native %.3f ms (x%.2f)%n", kind, log2, ti, tn, ti / tn);
            }
        }
        results.put("throughput", rows);
        // W1-style: 10,000 independent adds of 1024 elements through the tensor API.
        double wi = w1(interp), wn = w1(nativeOnly);
        results.put("w1_10k_adds_ms", Map.of("interpreted", wi, "native", wn));
        out.printf("interp: W1 10k adds n=1024: interpreted %.2f ms, native %.2f ms%n", wi, wn);
    }

    /** Median ms of one submission of f over n-element operands (sync, no download). */
    private static double time(GpuBackend b, long n, Function<Tensor[], Tensor> f) {
        try (TensorScope s = TensorScope.open(b)) {
            Tensor[] v = {s.randn(1, DType.F32, n), s.randn(2, DType.F32, n), s.randn(3, DType.F32, n),
                    s.rand(4, DType.F32, n).add(1.0)};
            b.sync();
            double[] t = new double[15];
            for (int i = -3; i < t.length; i++) {
                try (TensorScope inner = TensorScope.open(b)) {
                    long t0 = System.nanoTime();
                    f.apply(v);
                    b.sync();
                    if (i >= 0) t[i] = (System.nanoTime() - t0) / 1e6;
                }
            }
            return median(t);
        }
    }

    private static double w1(GpuBackend b) {
        try (TensorScope s = TensorScope.open(b)) {
            Tensor a = s.randn(1, DType.F32, 10_000, 1024), c = s.randn(2, DType.F32, 10_000, 1024);
            b.sync();
            double[] t = new double[5];
            for (int rep = -1; rep < t.length; rep++) {
                try (TensorScope inner = TensorScope.open(b)) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < 10_000; i++) a.select(0, i).add(c.select(0, i));
                    b.sync();
                    if (rep >= 0) t[rep] = (System.nanoTime() - t0) / 1e6;
                }
            }
            return median(t);
        }
    }

    /** W2-style (200 x add, mul, relu, sigmoid, div on 2048 elements), policy off/on, cold and warm JIT cache. */
    private void w2EndToEnd() throws IOException {
        Map<String, Object> rows = new LinkedHashMap<>();
        for (boolean tiered : new boolean[]{false, true}) {
            Path cache = Files.createTempDirectory("gpuos-interp-w2");
            for (String phase : new String[]{"cold", "warm"}) {
                try (GpuOS os = GpuOS.start(GpuOSOptions.defaults().withCacheDir(cache))) {
                    long c0 = System.nanoTime();  // tiered: includes registering the interpreter (one swap)
                    GpuBackend b = new GpuBackend(os, tiered ? TieredOperators.Policy.DEFAULT : null);
                    double createMs = (System.nanoTime() - c0) / 1e6;
                    long swaps0 = os.stats().swaps();
                    double[] t = new double[8];
                    for (int rep = 0; rep < t.length; rep++) t[rep] = w2(b);
                    long swaps = os.stats().swaps() - swaps0;
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("backend_create_ms", createMs);
                    row.put("first_run_ms", t[0]);
                    row.put("later_runs_ms", Arrays.stream(t, 1, t.length).boxed().toList());
                    row.put("swaps", swaps);
                    if (b.tiers() != null) row.put("tier_stats", b.tiers().stats().toString());
                    String key = "w2_" + (tiered ? "tiered" : "native") + "_" + phase;
                    rows.put(key, row);
                    out.printf("interp: %-18s backend %.1f ms, first run %.1f ms, later %s ms, %d swaps%n", key, createMs, t[0],
                            Arrays.toString(Arrays.stream(t, 1, t.length).map(x -> Math.round(x * 100) / 100.0).toArray()), swaps);
                }
            }
        }
        results.put("w2_end_to_end", rows);
    }

    private static double w2(GpuBackend b) {
        int iters = 200, n = 2048;
        try (TensorScope s = TensorScope.open(b)) {
            Tensor a = s.randn(21, DType.F32, iters, n), c = s.randn(22, DType.F32, iters, n),
                    m = s.randn(23, DType.F32, iters, n), d = s.rand(24, DType.F32, iters, n).add(1.0);
            b.sync();
            long t0 = System.nanoTime();
            List<Tensor> rows = new ArrayList<>();
            for (int k = 0; k < iters; k++) {
                Tensor x = a.select(0, k).add(c.select(0, k));
                rows.add(x.mul(m.select(0, k)).relu().sigmoid().div(d.select(0, k)));
            }
            b.sync();
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static Map<String, Object> stats(double[] v) {
        return Map.of("median", median(v), "p90", pct(v, 0.9), "max", Arrays.stream(v).max().orElse(0), "n", v.length);
    }

    private static double median(double[] v) {
        return pct(v, 0.5);
    }

    private static double pct(double[] v, double q) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.floor(q * (s.length - 1) + 0.5))];
    }
}
