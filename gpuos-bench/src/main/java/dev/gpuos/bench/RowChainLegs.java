package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.runtime.HostControl;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Where a replayed dependent row chain's time goes (issue 13, W7's shape): {@code x = rms_norm(x + r_i) * w_i}
 * for 1,000 steps on (1, hidden), captured with its output named, as {@code NormChainBench} replays it. Its
 * captured tasks (one row-fused task a step, each depending on the one before) run again from a template with two
 * tasks traced, and the worker's globaltimer stamps split a link as {@code RuntimeBenchmark}'s chain legs do:
 * handoff (the previous task's operator done -> this block ready), dispatch (ready -> operator starts), operator
 * (start -> its barrier passed), per_task (operator done to operator done, one link), and over 799 links the
 * device time per dependent task. Beside them: the replay's own time per step (host included), the same chain's
 * tasks as a plain batch, and the operator's share. Prints one table; every figure a median over runs.
 *
 * <p>Usage: {@code RowChainLegs [hidden] [runs]} (defaults 2048, 40).
 */
public final class RowChainLegs {
    private RowChainLegs() {}

    private static final int STEPS = 1000;

    public static void main(String[] args) {
        int hidden = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 40;
        System.out.printf(Locale.ROOT, "row chain legs: %d steps of x = rms_norm(x + r_i) * w_i on (1, %d)%n", STEPS, hidden);
        System.out.println("| dtype | leg | median us | p10 us | p90 us |");
        System.out.println("|---|---|---|---|---|");
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = new GpuBackend(os);
            for (DType t : new DType[]{DType.F32, DType.BF16}) run(os, gpu, t, hidden, runs);
        }
    }

    private static void run(GpuOS os, GpuBackend gpu, DType t, int hidden, int runs) {
        SplittableRandom rnd = new SplittableRandom(42);
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor x = g.tensor(rnd.doubles(hidden, -1, 1).toArray(), t, 1, hidden);
            List<Tensor> r = new ArrayList<>(), w = new ArrayList<>();
            for (int i = 0; i < STEPS; i++) {
                r.add(g.tensor(rnd.doubles(hidden, -1, 1).toArray(), t, 1, hidden));
                w.add(g.tensor(rnd.doubles(hidden, 0.5, 1.5).toArray(), t, hidden));
            }
            g.sync();
            GpuReplay replay = gpu.captureReturning(() -> {
                Tensor y = x;
                for (int i = 0; i < STEPS; i++) y = y.add(r.get(i)).rmsNorm(new long[]{hidden}, null, 1e-6).mul(w.get(i));
                return List.of(y);
            });
            double[] replayed = new double[runs];
            for (int k = -5; k < runs; k++) {
                long t0 = System.nanoTime();
                replay.run();
                g.sync();
                if (k >= 0) replayed[k] = (System.nanoTime() - t0) / 1e3 / STEPS;
            }
            row(t, "replay, host included, per step", replayed);
            List<GpuReplay.Task> tasks = replay.tasks();
            StringBuilder shape = new StringBuilder();
            for (int i = 0; i < Math.min(3, tasks.size()); i++) {
                shape.append(i == 0 ? "" : "; ").append(tasks.get(i).name()).append(" (").append(tasks.get(i).ntiles())
                        .append(" tile(s), ").append(tasks.get(i).operands().size()).append(" operand(s))");
            }
            System.out.printf(Locale.ROOT, "| %s | %d tasks: %s ... | | | |%n", t, tasks.size(), shape);
            if (tasks.size() < 900) return;  // not one task a step: the legs below assume it
            legs(os, t, tasks, runs, true);
            legs(os, t, tasks, runs, false);
        }
    }

    /** The captured tasks again, tasks {@code a} and {@code b} traced; as a template or as a plain batch. */
    private static TaskBatch batch(List<GpuReplay.Task> tasks, int a, int b) {
        TaskBatch batch = new TaskBatch(tasks.size());
        for (int i = 0; i < tasks.size(); i++) {
            GpuReplay.Task task = tasks.get(i);
            TaskBatch.TaskWriter w = batch.addDescriptor(task.operator(), task.words(), task.operands());
            if (i == a || i == b) w.traced();
        }
        return batch;
    }

    private static void legs(GpuOS os, DType t, List<GpuReplay.Task> tasks, int runs, boolean template) {
        HostControl control = os.queue().control();
        int n = tasks.size(), la = n / 2 - 1, lb = n / 2, sa = 100, sb = n - 101;
        TaskBatch legsBatch = batch(tasks, la, lb), spanBatch = batch(tasks, sa, sb);
        TaskTemplate legsTemplate = template ? os.template(legsBatch) : null;
        TaskTemplate spanTemplate = template ? os.template(spanBatch) : null;
        double[][] legs = new double[5][runs];
        double[] perTask = new double[runs], whole = new double[runs];
        int kept = 0, keptSpan = 0;
        try {
            for (int r = -4; r < 4 * runs && (kept < runs || keptSpan < runs); r++) {
                boolean span = (r & 1) != 0;
                control.clearTaskTraces();
                long t0 = System.nanoTime(), first;
                if (template) {
                    long end = os.submit(span ? spanTemplate : legsTemplate);
                    first = end - n;
                    os.await(first, end);
                } else {
                    first = os.queue().submitted();
                    os.run(span ? spanBatch : legsBatch);
                }
                double us = (System.nanoTime() - t0) / 1e3;
                int ta = span ? sa : la, tb = span ? sb : lb;
                long[] x = control.taskTrace(first + ta), y = control.taskTrace(first + tb);
                if (r < 0 || !RuntimeBenchmark.tracedPair(x, y, first + ta, first + tb)) continue;
                // Stamps: 0 wait begins, 1 dependency seen, 2 ready, 3 operator starts, 4 operator done, 5 released.
                if (span && keptSpan < runs) {
                    perTask[keptSpan] = (y[4] - x[4]) / 1e3 / (tb - ta);
                    whole[keptSpan++] = us / n;
                } else if (!span && kept < runs) {
                    legs[0][kept] = (y[2] - x[4]) / 1e3;
                    legs[1][kept] = (y[3] - y[2]) / 1e3;
                    legs[2][kept] = (y[4] - y[3]) / 1e3;
                    legs[3][kept] = (y[4] - x[4]) / 1e3;
                    legs[4][kept] = (x[4] - x[3]) / 1e3;
                    kept++;
                }
            }
        } finally {
            if (legsTemplate != null) legsTemplate.release();
            if (spanTemplate != null) spanTemplate.release();
        }
        String how = template ? "template" : "batch";
        String[] names = {"handoff", "dispatch", "operator", "per task (one link)", "operator (previous task)"};
        for (int l = 0; l < names.length; l++) row(t, how + ": " + names[l], Arrays.copyOf(legs[l], Math.max(kept, 1)));
        row(t, how + ": device us per dependent task (" + (sb - sa) + " links)", Arrays.copyOf(perTask, Math.max(keptSpan, 1)));
        row(t, how + ": submit to complete, per task", Arrays.copyOf(whole, Math.max(keptSpan, 1)));
    }

    private static void row(DType t, String leg, double[] samples) {
        double[] s = samples.clone();
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.3f |%n", t, leg, s[s.length / 2], s[s.length / 10],
                s[Math.min(s.length - 1, s.length * 9 / 10)]);
    }
}
