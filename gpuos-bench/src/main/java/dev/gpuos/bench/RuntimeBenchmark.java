package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.bench.workloads.ResultFiles;
import dev.gpuos.cuda.Driver;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.HostControl;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Measures the core runtime (issue: core runtime): single-task round trip, 10,000 independent adds end to end,
 * a dependent chain, the generation-swap pause, and cold/warm JIT. Every figure is a median over repeats after
 * warm-up; results are checked before they are reported.
 */
public final class RuntimeBenchmark {
    private final PrintStream out;
    private final Map<String, Object> results = new LinkedHashMap<>();
    /**
     * {@code -Dgpuos.bench.runtime.parts}: {@code all} (the default), {@code templates} (only the template replays)
     * or {@code chains} (only the dependent chains' hand-off legs): quick A/Bs of worker variants.
     */
    private static final String PARTS = System.getProperty("gpuos.bench.runtime.parts", "all");
    private static final boolean TEMPLATES_ONLY = PARTS.equals("templates");
    private static final boolean CHAINS_ONLY = PARTS.equals("chains");

    public RuntimeBenchmark(PrintStream out) {
        this.out = out;
    }

    static String op(String name) {
        try (InputStream in = RuntimeBenchmark.class.getResourceAsStream("ops/" + name + ".cu")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Map<String, Object> run(Path outDir) throws IOException {
        Files.createDirectories(outDir);
        Path coldCache = Files.createTempDirectory("gpuos-cold-cache");
        GpuOSOptions cold = GpuOSOptions.defaults().withCacheDir(coldCache);

        long t0 = System.nanoTime();
        try (GpuOS os = GpuOS.start(cold)) {
            long started = System.nanoTime();
            OperatorRef add = os.register("add_f32", op("add_f32"));
            long registered = System.nanoTime();
            results.put("device", os.deviceName());
            results.put("driver_version", Driver.driverVersion());
            results.put("worker", os.stats().generation().toString());
            results.put("jit_cold_start_ms", ms(started - t0));
            results.put("jit_cold_register_ms", ms(registered - started));
            out.printf("device: %s, driver %d, worker %s%n", os.deviceName(), Driver.driverVersion(),
                    os.stats().generation());
            if (CHAINS_ONLY) {
                measureChains(os);
            } else if (!TEMPLATES_ONLY) {
                measure(os, add);
            }
        }
        if (CHAINS_ONLY) {
            ResultFiles.writeAtomically(outDir.resolve("runtime.json"), ResultFiles.json(results));
            return results;
        }
        // Templates of up to 100,000 tasks need a ring that holds them.
        DeviceRuntime.Config big = cold.runtime();
        big = new DeviceRuntime.Config(big.device(), 1 << 17, big.tileCapacity(), big.smemBytes(), big.spinMaxNs(),
                big.stageChunk(), big.maxBlocksPerSm(), big.parkTimeoutNanos());
        try (GpuOS os = GpuOS.start(cold.withRuntime(big))) {
            measureTemplates(os);
        }
        if (TEMPLATES_ONLY) {
            ResultFiles.writeAtomically(outDir.resolve("runtime.json"), ResultFiles.json(results));
            return results;
        }
        long w0 = System.nanoTime();
        try (GpuOS os = GpuOS.start(cold)) {
            long started = System.nanoTime();
            os.register("add_f32", op("add_f32"));
            long registered = System.nanoTime();
            results.put("jit_warm_start_ms", ms(started - w0));
            results.put("jit_warm_register_ms", ms(registered - started));
            results.put("jit_stats_warm", os.stats().jit().toString());
        }
        out.printf("JIT cold: start %.1f ms, register %.1f ms | warm: start %.1f ms, register %.1f ms%n",
                results.get("jit_cold_start_ms"), results.get("jit_cold_register_ms"),
                results.get("jit_warm_start_ms"), results.get("jit_warm_register_ms"));
        ResultFiles.writeAtomically(outDir.resolve("runtime.json"), ResultFiles.json(results));
        return results;
    }

    private void measure(GpuOS os, OperatorRef add) {
        OperatorRef nop = os.register("nop", op("nop"));
        OperatorRef scale = os.register("scale_f32", op("scale_f32"));
        int n = 1024;
        int tasks = 10_000;
        DeviceBlock[] abc = addOperands(os, tasks, n);
        DeviceBlock a = abc[0], b = abc[1], c = abc[2];

        // 1. single-task round trip (nop and a 1024-element add), submit + spin until complete
        TaskBatch one = os.newBatch();
        double[] rt = new double[20_000];
        for (int i = -2000; i < rt.length; i++) {
            one.clear();
            one.add(nop, 1, 1);
            long s = System.nanoTime();
            os.run(one);
            if (i >= 0) {
                rt[i] = (System.nanoTime() - s) / 1e3;
            }
        }
        report("round_trip_nop_us", rt);

        // Where a round trip goes: the device timestamps one task's path (GPU globaltimer, ns).
        // host_submit: os.submit's own time (descriptor, seal, doorbell written). (One-way legs from host
        // CLOCK_REALTIME against the GPU's globaltimer are not reported: the clocks were 220-235 us apart on the H100.)
        String[] legs = {"agent_stage_us", "worker_pickup_us", "operator_us", "agent_completion_us", "device_span_us",
                "host_and_pcie_us", "agent_read_us", "agent_publish_us", "host_submit_us"};
        double[][] legSamples = new double[legs.length][2000];
        // The agent's staging round of the task, split by its profile (HostControl.agentProfile): deciding (round
        // start to decision, its PCIe reads), copying, validating, tile map, publishing.
        String[] parts = {"decide_us", "copy_us", "validate_us", "map_us", "publish_us"};
        double[][] partSamples = new double[parts.length][2000];
        int keptParts = 0;
        var control = os.queue().control();
        long[] profile = control.agentProfile();
        int kept = 0;
        for (int i = -200; kept < 2000 && i < 20_000; i++) {
            one.clear();
            one.add(nop, 1, 1).traced();
            control.traceSeq(os.queue().submitted());
            long s = System.nanoTime();
            long end = os.submit(one);
            long submitted = System.nanoTime();
            os.await(end - 1, end);
            double total = (System.nanoTime() - s) / 1e3;
            long[] t = control.trace();
            long[] p = control.agentProfile();
            if (i >= 0 && keptParts < 2000 && p[0] == profile[0] + 1) {
                for (int k = 0; k < parts.length; k++) partSamples[k][keptParts] = (p[2 + k] - profile[2 + k]) / 1e3;
                keptParts++;
            }
            profile = p;
            // A stamp can be missing when the agent read traceSeq just before the host set it: skip the sample.
            boolean complete = t[0] != 0 && t[1] != 0 && t[2] != 0 && t[3] != 0 && t[4] != 0 && t[5] != 0;
            if (i >= 0 && complete) {
                legSamples[0][kept] = (t[1] - t[0]) / 1e3;
                legSamples[1][kept] = (t[2] - t[1]) / 1e3;
                legSamples[2][kept] = (t[3] - t[2]) / 1e3;
                legSamples[3][kept] = (t[4] - t[3]) / 1e3;
                legSamples[4][kept] = (t[4] - t[0]) / 1e3;
                legSamples[5][kept] = total - legSamples[4][kept];
                // agent_stage split at the descriptor in hand: reading it (PCIe) / validating and publishing it
                legSamples[6][kept] = (t[5] - t[0]) / 1e3;
                legSamples[7][kept] = (t[1] - t[5]) / 1e3;
                legSamples[8][kept] = (submitted - s) / 1e3;
                kept++;
            }
        }
        for (int l = 0; l < legs.length; l++) {
            legSamples[l] = java.util.Arrays.copyOf(legSamples[l], Math.max(kept, 1));
        }
        control.traceSeq(-1);
        for (int l = 0; l < legs.length; l++) {
            report("round_trip_leg_" + legs[l], legSamples[l]);
        }
        for (int k = 0; k < parts.length; k++) {
            report("round_trip_leg_agent_" + parts[k], Arrays.copyOf(partSamples[k], Math.max(keptParts, 1)));
        }
        double[] rtAdd = new double[10_000];
        for (int i = -1000; i < rtAdd.length; i++) {
            one.clear();
            one.add(add, 1, n).refContiguous(0, c, 0, DTypeCode.F32, n).refContiguous(1, a, 0, DTypeCode.F32, n)
                    .refContiguous(2, b, 0, DTypeCode.F32, n);
            long s = System.nanoTime();
            os.run(one);
            if (i >= 0) {
                rtAdd[i] = (System.nanoTime() - s) / 1e3;
            }
        }
        report("round_trip_add1024_us", rtAdd);

        // 2. 10,000 independent 1024-element adds from one thread: record + submit + wait
        TaskBatch batch = new TaskBatch(tasks);
        double[] e2e = new double[15];
        double[] record = new double[e2e.length];
        for (int r = -3; r < e2e.length; r++) {
            long s = System.nanoTime();
            batch.clear();
            for (int t = 0; t < tasks; t++) {
                long off = (long) t * n * 4;
                batch.add(add, 1, n).refContiguous(0, c, off, DTypeCode.F32, n)
                        .refContiguous(1, a, off, DTypeCode.F32, n).refContiguous(2, b, off, DTypeCode.F32, n);
            }
            long recorded = System.nanoTime();
            os.run(batch);
            if (r >= 0) {
                e2e[r] = (System.nanoTime() - s) / 1e6;
                record[r] = (recorded - s) / 1e6;
            }
        }
        float[] check = new float[tasks * n];
        os.download(MemorySegment.ofArray(check), c, 0);
        for (int i = 0; i < check.length; i++) {
            if (check[i] != 3.0f) {
                throw new IllegalStateException("add result wrong at " + i + ": " + check[i]);
            }
        }
        report("add10k_n1024_end_to_end_ms", e2e);
        report("add10k_n1024_host_record_ms", record);

        // 3. nop throughput: 100k tasks in one submission (the runtime's own cost per task)
        TaskBatch nops = new TaskBatch(100_000);
        double[] perTask = new double[7];
        double[] submitPerTask = new double[perTask.length];
        for (int r = -2; r < perTask.length; r++) {
            nops.clear();
            for (int t = 0; t < 100_000; t++) {
                nops.add(nop, 1, 1);
            }
            long s = System.nanoTime();
            long end = os.submit(nops);
            long submitted = System.nanoTime();
            os.await(end - nops.size(), end);
            if (r >= 0) {
                perTask[r] = (System.nanoTime() - s) / 100_000.0;
                submitPerTask[r] = (submitted - s) / 100_000.0;
            }
        }
        report("nop100k_ns_per_task", perTask);
        report("nop100k_host_submit_ns_per_task", submitPerTask);

        // 4. a chain of 1000 dependent scale ops on 1024 elements (host: record + submit + wait); scale4_f32 is
        //    the same op with one 16-byte load and store per thread, so that the operator hides less of the
        //    hand-off; then the device's stamps of hand-offs inside the chain
        OperatorRef scale4 = os.register("scale4_f32", op("scale4_f32"));
        report("chain1000_dependent_ms", timeChain(os, batch, scale, a, c, n));
        report("chain1000_dependent_vec4_ms", timeChain(os, batch, scale4, a, c, n));
        chainLegs(os, batch, scale, a, c, n, "chain_leg_");
        chainLegs(os, batch, scale4, a, c, n, "chain_vec4_leg_");
        chainLegs(os, batch, nop, null, null, n, "chain_nop_leg_");

        // 5. generation swap pause: park + load + relaunch
        double[] pause = new double[12];
        double[] build = new double[pause.length];
        for (int r = 0; r < pause.length; r++) {
            long s = System.nanoTime();
            os.replace("nop", "// version " + r + "\n" + op("nop"));
            build[r] = (System.nanoTime() - s) / 1e6;
            pause[r] = os.stats().lastPauseNanos() / 1e6;
        }
        report("swap_pause_ms", pause);
        report("replace_total_ms", build);
    }

    /** Only the dependent chains: their time and hand-off legs (see {@link #chainLegs}). */
    private void measureChains(GpuOS os) {
        OperatorRef nop = os.register("nop", op("nop"));
        OperatorRef scale4 = os.register("scale4_f32", op("scale4_f32"));
        int n = 1024;
        DeviceBlock[] abc = addOperands(os, 1, n);
        TaskBatch batch = new TaskBatch(1000);
        report("chain1000_dependent_vec4_ms", timeChain(os, batch, scale4, abc[0], abc[2], n));
        chainLegs(os, batch, scale4, abc[0], abc[2], n, "chain_vec4_leg_");
        chainLegs(os, batch, nop, null, null, n, "chain_nop_leg_");
    }

    /** Milliseconds of 9 runs (after 2 warm-ups) of {@link #chainBatch}'s chain, record + submit + wait. */
    private static double[] timeChain(GpuOS os, TaskBatch batch, OperatorRef op, DeviceBlock a, DeviceBlock c, int n) {
        double[] ms = new double[9];
        for (int r = -2; r < ms.length; r++) {
            chainBatch(batch, op, a, c, n, -1, -1);
            long s = System.nanoTime();
            os.run(batch);
            if (r >= 0) {
                ms[r] = (System.nanoTime() - s) / 1e6;
            }
        }
        return ms;
    }

    /**
     * 1000 dependent tasks of {@code op}, ping-ponging between a and c (no operands when a is null: the no-op's
     * chain, the hand-off alone); tasks {@code traceA, traceB} traced.
     */
    private static void chainBatch(TaskBatch batch, OperatorRef op, DeviceBlock a, DeviceBlock c, int n, int traceA,
                                   int traceB) {
        batch.clear();
        for (int t = 0; t < 1000; t++) {
            var w = a == null ? batch.add(op, 1, 1) : batch.add(op, 1, n).argDouble(0, 1.0)
                    .refContiguous(0, (t & 1) == 0 ? c : a, 0, DTypeCode.F32, n)
                    .refContiguous(1, (t & 1) == 0 ? a : c, 0, DTypeCode.F32, n);
            if (t > 0) {
                w.dependsOn(t - 1);
            }
            if (t == traceA || t == traceB) {
                w.traced();
            }
        }
    }

    /**
     * Whether the stamps of traced tasks {@code seqA} and {@code seqB} can be read as a pair: every stamp written,
     * and the two of opposite parity (the worker keeps one set of stamps per parity, HostControl.taskTrace).
     */
    static boolean tracedPair(long[] x, long[] y, long seqA, long seqB) {
        return Arrays.stream(x).allMatch(v -> v != 0) && Arrays.stream(y).allMatch(v -> v != 0)
                && (seqA & 1) != (seqB & 1);
    }

    /**
     * Where a dependent hand-off goes, from the worker's globaltimer stamps (HostControl.taskTrace): task 500
     * depends on task 499, both traced. handoff = 499's operator done (its block's barrier passed) -> 500's
     * block ready to run (after its acquire), split into release (499's release of done, which waits for the
     * operator's stores), detect (released -> 500's poll saw it) and acquire (500's fence); dispatch = ready ->
     * operator starts (a barrier); operator = operator start -> its barrier passed; ready_ahead = how long
     * 500's block had been waiting with its descriptor in hand when 499's operator finished (> 0: the block was
     * in place). Runs that trace tasks 100 and 899 instead give the device time per dependent task over 799
     * hand-offs, with no host or staging in it.
     */
    private void chainLegs(GpuOS os, TaskBatch batch, OperatorRef op, DeviceBlock a, DeviceBlock c, int n,
                           String prefix) {
        HostControl control = os.queue().control();
        int runs = 60;
        double[][] legs = new double[8][runs];
        double[] perTask = new double[runs];
        int kept = 0, keptSpan = 0;
        for (int r = -4; r < 2 * runs; r++) {
            boolean span = (r & 1) != 0;
            long first = os.queue().submitted();
            int ta = span ? 100 : 499, tb = span ? 899 : 500;
            chainBatch(batch, op, a, c, n, ta, tb);
            control.clearTaskTraces();
            os.run(batch);
            long[] x = control.taskTrace(first + ta), y = control.taskTrace(first + tb);
            if (r < 0 || !tracedPair(x, y, first + ta, first + tb)) continue;
            // Stamps: 0 wait begins, 1 dependency seen, 2 ready (acquired), 3 operator starts, 4 operator done,
            // 5 done released.
            if (span && keptSpan < runs) {
                perTask[keptSpan++] = (y[4] - x[4]) / 1e3 / (tb - ta);
            } else if (!span && kept < runs) {
                legs[0][kept] = (y[2] - x[4]) / 1e3;
                legs[1][kept] = (x[5] - x[4]) / 1e3;
                legs[2][kept] = (y[1] - x[5]) / 1e3;
                legs[3][kept] = (y[2] - y[1]) / 1e3;
                legs[4][kept] = (y[3] - y[2]) / 1e3;
                legs[5][kept] = (y[4] - y[3]) / 1e3;
                legs[6][kept] = (y[4] - x[4]) / 1e3;
                legs[7][kept] = (x[4] - y[0]) / 1e3;
                kept++;
            }
        }
        String[] names = {"handoff_us", "handoff_release_us", "handoff_detect_us", "handoff_acquire_us", "dispatch_us",
                "operator_us", "per_task_us", "ready_ahead_us"};
        for (int l = 0; l < names.length; l++) {
            report(prefix + names[l], Arrays.copyOf(legs[l], Math.max(kept, 1)));
        }
        report(prefix + "device_us_per_dependent_task", Arrays.copyOf(perTask, Math.max(keptSpan, 1)));
    }

    /** The adds' operands: {@code a} all 1, {@code b} all 2, {@code c} for results; {@code tasks * n} floats each. */
    private static DeviceBlock[] addOperands(GpuOS os, int tasks, int n) {
        DeviceBlock a = os.allocate((long) tasks * n * 4);
        DeviceBlock b = os.allocate((long) tasks * n * 4);
        DeviceBlock c = os.allocate((long) tasks * n * 4);
        float[] values = new float[tasks * n];
        Arrays.fill(values, 1.0f);
        os.upload(a, 0, MemorySegment.ofArray(values));
        Arrays.fill(values, 2.0f);
        os.upload(b, 0, MemorySegment.ofArray(values));
        return new DeviceBlock[]{a, b, c};
    }

    /**
     * Templates (one header per run; the agent expands it from device memory): W1's 10,000 independent adds of
     * 1024 elements, 100,000 no-op tasks, and the 1000-task dependent chain (no host work in the loop).
     */
    private void measureTemplates(GpuOS os) {
        OperatorRef add = os.register("add_f32", op("add_f32"));
        OperatorRef nop = os.register("nop", op("nop"));
        OperatorRef scale4 = os.register("scale4_f32", op("scale4_f32"));
        int n = 1024, tasks = 10_000;
        DeviceBlock[] abc = addOperands(os, tasks, n);
        DeviceBlock a = abc[0], b = abc[1], c = abc[2];

        TaskBatch batch = new TaskBatch(tasks);
        for (int t = 0; t < tasks; t++) {
            long off = (long) t * n * 4;
            var w = batch.add(add, 1, n).refContiguous(0, c, off, DTypeCode.F32, n)
                    .refContiguous(1, a, off, DTypeCode.F32, n).refContiguous(2, b, off, DTypeCode.F32, n);
            if (t == 0 || t == tasks - 1) w.traced();
        }
        report("template_add10k_n1024_ms", replay(os, os.template(batch), 30, 1e6, "template_add10k_n1024_"));
        float[] check = new float[tasks * n];
        os.download(MemorySegment.ofArray(check), c, 0);
        for (int i = 0; i < check.length; i++) {
            if (check[i] != 3.0f) {
                throw new IllegalStateException("template add result wrong at " + i + ": " + check[i]);
            }
        }

        TaskBatch nops = new TaskBatch(100_000);
        for (int t = 0; t < 100_000; t++) {
            var w = nops.add(nop, 1, 1);
            if (t == 0 || t == 100_000 - 1) w.traced();
        }
        report("template_nop100k_ns_per_task", replay(os, os.template(nops), 15, 100_000.0, "template_nop100k_"));

        chainBatch(batch, scale4, a, c, n, -1, -1);
        report("template_chain1000_vec4_us_per_task", replay(os, os.template(batch), 30, 1000.0 * 1e3, null));
        chainBatch(batch, nop, null, null, n, -1, -1);
        report("template_chain1000_nop_us_per_task", replay(os, os.template(batch), 30, 1000.0 * 1e3, null));
    }

    /**
     * Submit + wait of a template, {@code runs} times after warm-up; each sample in ns divided by {@code per}.
     * With a {@code legs} prefix, for a template whose first and last tasks are traced, also reports per run (us):
     * device_span (first task's operator start -> last task's done released), publish_lag (first operator start
     * -> last task published: staging throughput), drain (last published -> its done), completion (its done ->
     * completion published to the host), and the agent's staging profile of the run (HostControl.agentProfile:
     * rounds, us deciding (PCIe reads included), copying, validating, filling the tile map, publishing;
     * completion publications).
     */
    private void replay(GpuOS os, TaskTemplate template, int runs, double per, String legs, double[] samples) {
        HostControl control = os.queue().control();
        String[] names = {"device_span_us", "publish_lag_us", "drain_us", "completion_us", "agent_rounds",
                "agent_decide_us", "agent_copy_us", "agent_validate_us", "agent_map_us", "agent_publish_us",
                "agent_completions"};
        double[][] leg = new double[names.length][runs];
        int kept = 0;
        long[] before = control.agentProfile();
        for (int r = -3; r < runs; r++) {
            long first = os.queue().submitted();
            if (legs != null) control.traceSeq(first + template.size() - 1);
            long s = System.nanoTime();
            long end = os.submit(template);
            os.await(end - template.size(), end);
            if (r >= 0) samples[r] = (System.nanoTime() - s) / per;
            if (legs == null) continue;
            // Stamps: 3 operator starts, 5 done released (the first and last tasks differ in seq parity). The last
            // task's block writes its stamps after its done flag: give them a moment to land.
            long[] a = control.taskTrace(end - template.size()), z = control.taskTrace(end - 1);
            long[] t = control.trace();
            for (long t0 = System.nanoTime(); (z[5] == 0 || t[4] == 0) && System.nanoTime() - t0 < 1_000_000; ) {
                z = control.taskTrace(end - 1);
                t = control.trace();
            }
            long[] after = control.agentProfile();
            boolean complete = a[3] != 0 && z[5] != 0 && t[1] != 0 && t[4] != 0 && after[0] != before[0];
            if (r >= 0 && complete) {
                leg[0][kept] = (z[5] - a[3]) / 1e3;
                leg[1][kept] = (t[1] - a[3]) / 1e3;
                leg[2][kept] = (z[5] - t[1]) / 1e3;
                leg[3][kept] = (t[4] - z[5]) / 1e3;
                leg[4][kept] = after[0] - before[0];
                for (int i = 2; i <= 6; i++) leg[3 + i][kept] = (after[i] - before[i]) / 1e3;
                leg[10][kept] = after[7] - before[7];
                kept++;
            }
            before = after;
        }
        if (legs != null) {
            control.traceSeq(-1);
            for (int l = 0; l < names.length; l++) report(legs + names[l], Arrays.copyOf(leg[l], Math.max(kept, 1)));
        }
        template.release();
    }

    private double[] replay(GpuOS os, TaskTemplate template, int runs, double per, String legs) {
        double[] samples = new double[runs];
        replay(os, template, runs, per, legs, samples);
        return samples;
    }

    private void report(String name, double[] samples) {
        double[] s = samples.clone();
        Arrays.sort(s);
        double median = s[s.length / 2];
        double p10 = s[(int) (s.length * 0.1)];
        double p90 = s[Math.min(s.length - 1, (int) (s.length * 0.9))];
        double p99 = s[Math.min(s.length - 1, (int) (s.length * 0.99))];
        var m = new LinkedHashMap<String, Object>();
        m.put("median", median);
        m.put("mean", Arrays.stream(s).average().orElse(0));
        m.put("p10", p10);
        m.put("p90", p90);
        m.put("p99", p99);
        m.put("min", s[0]);
        m.put("samples", s.length);
        results.put(name, m);
        out.printf("%-44s median %9.3f  mean %9.3f  p10 %9.3f  p90 %9.3f  p99 %9.3f  (n=%d)%n", name, median,
                m.get("mean"), p10, p90, p99, s.length);
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
