package dev.gpuos.bench.fusion;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A chain of dependent normalization steps at batch 1, the shape of a transformer layer's residual stream
 * (issue 12, W7): {@code x = rms_norm(x + r_i) * w_i} for {@code steps} steps on (1, hidden), F32 and BF16.
 * Streamed (recorded as written, one sync at the end) and replayed (captured once with its output named, one
 * submission a run), each checked against the CPU backend before it is timed; prints tasks per step and
 * median / p10 / p90 microseconds per chain. {@code -Dgpuos.fusion.rows=false} plans the same program without
 * row fusion, to compare both on one machine.
 *
 * <p>Usage: {@code NormChainBench [steps] [hidden] [repeats]} (defaults 64, 2048, 200).
 */
public final class NormChainBench {
    private NormChainBench() {}

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        System.out.printf(Locale.ROOT, "norm chain: %d steps of x = rms_norm(x + r_i) * w_i on (1, %d); row fusion %s%n",
                steps, hidden, System.getProperty("gpuos.fusion.rows", "true"));
        System.out.println("| dtype | mode | tasks/step | median us | p10 us | p90 us | max rel err vs CPU |");
        System.out.println("|---|---|---|---|---|---|---|");
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = new GpuBackend(os);
            for (DType t : new DType[]{DType.F32, DType.BF16}) run(gpu, t, steps, hidden, repeats);
        }
    }

    private static Tensor chain(Tensor x, List<Tensor> r, List<Tensor> w, int hidden) {
        for (int i = 0; i < r.size(); i++) x = x.add(r.get(i)).rmsNorm(new long[]{hidden}, null, 1e-6).mul(w.get(i));
        return x;
    }

    private static void run(GpuBackend gpu, DType t, int steps, int hidden, int repeats) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
        double[][] rv = new double[steps][], wv = new double[steps][];
        double[] xv = rnd.doubles(hidden, -1, 1).toArray();
        for (int i = 0; i < steps; i++) {
            rv[i] = rnd.doubles(hidden, -1, 1).toArray();
            wv[i] = rnd.doubles(hidden, 0.5, 1.5).toArray();
        }
        double[] expected;
        try (TensorScope c = TensorScope.open(CpuBackend.eager())) {
            expected = chain(c.tensor(xv, t, 1, hidden), tensors(c, rv, t, 1, hidden), tensors(c, wv, t, hidden), hidden)
                    .toDoubleArray();
        }
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor x = g.tensor(xv, t, 1, hidden);
            List<Tensor> r = tensors(g, rv, t, 1, hidden), w = tensors(g, wv, t, hidden);
            g.sync();
            streamedAndReplayed(gpu, g, t, steps, repeats, 20, expected, () -> List.of(chain(x, r, w, hidden)),
                    out -> out.getFirst().toDoubleArray());
        }
    }

    /**
     * Checks {@code program} against {@code expected} and times it, streamed (as written, one sync at the end; each
     * run's intermediates go back after it), then captured once returning its tensors and replayed; a row for each,
     * after {@code warmup} untimed runs. {@code values} flattens what the program returns for the check.
     */
    static void streamedAndReplayed(GpuBackend gpu, TensorScope scope, DType t, int steps, int repeats, int warmup,
                                    double[] expected, Supplier<List<Tensor>> program,
                                    Function<List<Tensor>, double[]> values) {
        long tasks0 = gpu.stats().tasks();
        double err = error(expected, values.apply(program.get()));
        long tasks = gpu.stats().tasks() - tasks0;
        long[] ns = new long[repeats];
        for (int k = 0; k < repeats + warmup; k++) {
            try (TensorScope it = TensorScope.open(gpu)) {
                long t0 = System.nanoTime();
                program.get();
                it.sync();
                if (k >= warmup) ns[k - warmup] = System.nanoTime() - t0;
            }
        }
        row(t, "streamed", (double) tasks / steps, ns, err);
        GpuReplay replay = gpu.captureReturning(program);
        replay.run();
        err = error(expected, values.apply(replay.outputs()));
        for (int k = 0; k < repeats + warmup; k++) {
            long t0 = System.nanoTime();
            replay.run();
            scope.sync();
            if (k >= warmup) ns[k - warmup] = System.nanoTime() - t0;
        }
        row(t, "replayed", (double) replay.tasks().size() / steps, ns, err);
    }

    private static List<Tensor> tensors(TensorScope s, double[][] v, DType t, long... shape) {
        List<Tensor> out = new ArrayList<>(v.length);
        for (double[] a : v) out.add(s.tensor(a, t, shape));
        return out;
    }

    /** Normwise: max |x - r| / max |r|; fails the run past the accumulating tolerance of the dtype. */
    static double error(double[] expected, double[] actual) {
        double scale = 0, worst = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (!(d <= worst)) worst = d;
        }
        return worst / Math.max(scale, 1e-30);
    }

    static void row(DType t, String mode, double tasksPerStep, long[] ns, double err) {
        long[] s = ns.clone();
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "| %s | %s | %.2f | %.1f | %.1f | %.1f | %.2e%s |%n", t, mode, tasksPerStep,
                s[s.length / 2] / 1e3, s[s.length / 10] / 1e3, s[s.length * 9 / 10] / 1e3, err,
                err <= (t == DType.F32 ? 1e-4 : 2e-2) ? "" : " MISMATCH");
    }
}
