package dev.gpuos.bench.fusion;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * An LSTM cell loop from precomputed gate inputs (issue 12, W8): the input projections of every step are computed
 * up front (one big matmul in a real model), so what remains per step is the recurrent cell, all elementwise and
 * dependent through the cell state. Peephole form (Gers and Schmidhuber), which reads 8 tensors a step: the four
 * gate inputs of step t, the three peephole weights and the cell state:
 * <pre>
 *   i = sigmoid(xi_t + pi * c)      f = sigmoid(xf_t + pf * c)      g = tanh(xg_t)
 *   c = f * c + i * g               o = sigmoid(xo_t + po * c)      h = o * tanh(c)
 * </pre>
 * Streamed (as written, one sync at the end) and replayed (captured once returning the last h and c), each checked
 * against the CPU backend before it is timed; prints tasks per step and median / p10 / p90 microseconds per loop.
 * {@code bench/pytorch/lstm_cell.py} is the same loop in PyTorch, eager and as a CUDA graph.
 *
 * <p>Usage: {@code LstmCellBench [steps] [hidden] [repeats]} (defaults 500, 1024, 100).
 */
public final class LstmCellBench {
    private LstmCellBench() {}

    /** Inputs of one loop: gate inputs per step ({@code [step][gate]}, gates i, f, g, o) and the peepholes. */
    private record Inputs(List<Tensor[]> gates, Tensor pi, Tensor pf, Tensor po, Tensor c0) {}

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        System.out.printf(Locale.ROOT, "lstm cell loop: %d steps on hidden %d, peephole cell from precomputed gate inputs"
                + " (8 tensors read a step)%n", steps, hidden);
        System.out.println("| dtype | mode | tasks/step | median us | p10 us | p90 us | max rel err vs CPU |");
        System.out.println("|---|---|---|---|---|---|---|");
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = new GpuBackend(os);
            for (DType t : new DType[]{DType.F32, DType.BF16}) run(gpu, t, steps, hidden, repeats);
        }
    }

    /** The loop; returns the last h and c. */
    static List<Tensor> loop(Inputs in) {
        Tensor c = in.c0(), h = null;
        for (Tensor[] x : in.gates()) {
            Tensor i = x[0].add(in.pi().mul(c)).sigmoid();
            Tensor f = x[1].add(in.pf().mul(c)).sigmoid();
            Tensor g = x[2].tanh();
            c = f.mul(c).add(i.mul(g));
            Tensor o = x[3].add(in.po().mul(c)).sigmoid();
            h = o.mul(c.tanh());
        }
        return List.of(h, c);
    }

    private static Inputs inputs(TensorScope s, double[][][] gates, double[][] peep, double[] c0, DType t, int hidden) {
        List<Tensor[]> g = new ArrayList<>(gates.length);
        for (double[][] step : gates) {
            Tensor[] x = new Tensor[4];
            for (int k = 0; k < 4; k++) x[k] = s.tensor(step[k], t, 1, hidden);
            g.add(x);
        }
        return new Inputs(g, s.tensor(peep[0], t, hidden), s.tensor(peep[1], t, hidden), s.tensor(peep[2], t, hidden),
                s.tensor(c0, t, 1, hidden));
    }

    private static void run(GpuBackend gpu, DType t, int steps, int hidden, int repeats) {
        SplittableRandom rnd = new SplittableRandom(42);
        double[][][] gates = new double[steps][4][];
        for (double[][] step : gates) for (int k = 0; k < 4; k++) step[k] = rnd.doubles(hidden, -2, 2).toArray();
        double[][] peep = new double[3][];
        for (int k = 0; k < 3; k++) peep[k] = rnd.doubles(hidden, -0.5, 0.5).toArray();
        double[] c0 = rnd.doubles(hidden, -1, 1).toArray();
        double[] expected;
        try (TensorScope c = TensorScope.open(CpuBackend.eager())) {
            expected = both(loop(inputs(c, gates, peep, c0, t, hidden)));
        }
        try (TensorScope g = TensorScope.open(gpu)) {
            Inputs in = inputs(g, gates, peep, c0, t, hidden);
            g.sync();
            NormChainBench.streamedAndReplayed(gpu, g, t, steps, repeats, 10, expected, () -> loop(in),
                    LstmCellBench::both);
        }
    }

    /** h and c end to end, so the error covers both. */
    private static double[] both(List<Tensor> hc) {
        double[] h = hc.get(0).toDoubleArray(), c = hc.get(1).toDoubleArray();
        double[] out = Arrays.copyOf(h, h.length + c.length);
        System.arraycopy(c, 0, out, h.length, c.length);
        return out;
    }
}
