package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.fuzz.FuzzInputs.Values;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Motifs that the GPU backend fuses past single ops (issue 12), written out step by step so that a program
 * surely contains them rather than by luck: a row op (rms_norm, layer_norm, softmax, log_softmax) with an
 * elementwise prologue computing its input (residual add, scale, mask add) and an elementwise epilogue on its
 * output (affine weight and bias, an activation, a cast), which native operators run as ONE task (or a
 * sum/mean/max/min over the last dims, which takes the prologue); and a
 * connected recurrent step (an LSTM cell) reading 5-7 tensors, which runs as one task through an operand table.
 * Shapes include rows of 1 to 1024 elements (warp and block teams), broadcast operands and several dtypes;
 * values keep the generator's rules (exact grid inputs, bounded magnitudes, no NaN/inf before a row op).
 */
abstract class FusionSteps extends OverflowSteps {
    private static final long[] ROW_LENGTHS = {1, 3, 16, 33, 128, 300, 1024};
    private static final DType[] FLOATS = {DType.F32, DType.F32, DType.F16, DType.BF16};

    FusionSteps(SplittableRandom r) { super(r); }

    /** One motif: half the time a row chain, else a recurrent step. */
    void fusionMotif() {
        if (r.nextBoolean()) rowChain();
        else recurrentStep();
    }

    private long[] rowShape(long len) {
        int rank = 1 + r.nextInt(3);
        long[] s = new long[rank];
        s[rank - 1] = len;
        for (int d = rank - 2; d >= 0; d--) {
            s[d] = 1 + r.nextInt(4);
            if (FuzzInputs.numel(s) > MAX_NUMEL) s[d] = 1;
        }
        return s;
    }

    /** A shape {@code s} broadcasts to: its trailing dims, some of them 1. */
    private long[] suffix(long[] s) {
        int keep = r.nextInt(s.length + 1);
        long[] out = Arrays.copyOfRange(s, s.length - keep, s.length);
        for (int i = 0; i < out.length; i++) if (r.nextInt(4) == 0) out[i] = 1;
        return r.nextInt(3) == 0 ? s.clone() : out;
    }

    void rowChain() {
        DType t = FLOATS[r.nextInt(FLOATS.length)];
        long[] shape = rowShape(ROW_LENGTHS[r.nextInt(ROW_LENGTHS.length)]);
        Facts x = input(t, shape, Values.GRID, 0);
        int prologue = r.nextInt(3);
        for (int i = 0; i < prologue; i++) {
            FuzzOp op = new FuzzOp[]{FuzzOp.ADD, FuzzOp.ADD, FuzzOp.SUB, FuzzOp.MUL}[r.nextInt(4)];
            if (op == FuzzOp.MUL || r.nextInt(4) == 0) x = arith(op, x, null, Scalar.of((1 + r.nextInt(8)) / 4.0));
            else x = arith(op, x, input(r.nextInt(4) == 0 ? DType.F32 : t, suffix(shape), Values.GRID, 0), null);
        }
        int rank = x.rank();
        int k = 1 + r.nextInt(Math.min(rank, 2));
        long[] normalized = Arrays.copyOfRange(shape, rank - k, rank);
        int roll = r.nextInt(5);
        if (roll == 4) {
            reductionOf(x, k);
            return;
        }
        FuzzOp rowOp = roll == 0 && x.exact() ? FuzzOp.LAYER_NORM : roll <= 1 ? FuzzOp.RMS_NORM
                : roll == 2 ? FuzzOp.SOFTMAX : FuzzOp.LOG_SOFTMAX;
        Facts y;
        if (rowOp == FuzzOp.SOFTMAX || rowOp == FuzzOp.LOG_SOFTMAX) {
            long d = r.nextInt(4) == 0 ? r.nextInt(rank) : -1;
            double b = rowOp == FuzzOp.SOFTMAX ? 1 : 2 * x.bound() + 10;
            y = result(rowOp, new int[]{x.id()}, new long[]{d}, new Scalar[0], null,
                    x.with(x.dtype(), shape, b, -1, false, newId()));
        } else {
            boolean layer = rowOp == FuzzOp.LAYER_NORM;
            List<Integer> in = new ArrayList<>(List.of(x.id()));
            int params = r.nextInt(layer ? 3 : 2);
            for (int i = 0; i < params; i++) in.add(input(t, normalized, Values.GRID, 0).id());
            double eps = layer ? (r.nextBoolean() ? 1e-3 : 0.1) : (r.nextBoolean() ? 1e-6 : 1e-2);
            double b = Math.sqrt(FuzzInputs.numel(normalized) + 1) * 4 + 4;
            y = result(rowOp, in.stream().mapToInt(Integer::intValue).toArray(), new long[]{k},
                    new Scalar[]{Scalar.of(eps)}, null, x.with(x.dtype(), shape, b, -1, false, newId()));
        }
        int epilogue = r.nextInt(4);
        for (int i = 0; i < epilogue; i++) {
            switch (r.nextInt(4)) {
                case 0 -> y = arith(FuzzOp.MUL, y, input(y.dtype(), normalized, Values.GRID, 0), null);
                case 1 -> y = arith(FuzzOp.ADD, y, input(y.dtype(), suffix(shape), Values.GRID, 0), null);
                case 2 -> y = activation(new FuzzOp[]{FuzzOp.RELU, FuzzOp.SIGMOID, FuzzOp.TANH}[r.nextInt(3)], y);
                default -> {
                    DType to = y.dtype() == DType.F32 ? DType.BF16 : DType.F32;
                    y = result(FuzzOp.CAST, new int[]{y.id()}, new long[0], new Scalar[0], to,
                            y.with(to, y.shape(), y.bound(), y.frac(), false, newId()));
                }
            }
        }
    }

    /** sum, mean, max or min of x over its last {@code k} dims (the prologue fuses into it; no epilogue does). */
    private void reductionOf(Facts x, int k) {
        FuzzOp op = new FuzzOp[]{FuzzOp.SUM, FuzzOp.MEAN, FuzzOp.MAX, FuzzOp.MIN}[r.nextInt(4)];
        int rank = x.rank();
        boolean keep = r.nextBoolean();
        long[] args = new long[1 + k];
        args[0] = keep ? 1 : 0;
        long n = 1;
        long[] shape = keep ? x.shape() : Arrays.copyOf(x.shape(), rank - k);
        for (int i = 0; i < k; i++) {
            int d = rank - k + i;
            args[1 + i] = d - (r.nextBoolean() ? rank : 0);
            n *= x.shape()[d];
            if (keep) shape[d] = 1;
        }
        double b = op == FuzzOp.SUM ? x.bound() * Math.max(n, 1) : x.bound();
        int frac = op == FuzzOp.MEAN ? -1 : x.frac();
        result(op, new int[]{x.id()}, args, new Scalar[0], null, x.with(x.dtype(), shape, b, frac, x.specials(), newId()));
    }

    /** An LSTM cell from precomputed gate inputs: 5-7 tensors read, every step connected by data flow. */
    void recurrentStep() {
        DType t = FLOATS[r.nextInt(FLOATS.length)];
        long[] shape = rowShape(ROW_LENGTHS[r.nextInt(ROW_LENGTHS.length)]);
        int n = 5 + r.nextInt(3);
        Facts[] in = new Facts[n];
        for (int i = 0; i < n; i++) in[i] = input(t, i == 0 ? shape : suffix(shape), Values.GRID, 0);
        Facts gi = activation(FuzzOp.SIGMOID, arith(FuzzOp.ADD, in[0], in[1], null));
        Facts gf = activation(FuzzOp.SIGMOID, in[2]);
        Facts gg = activation(FuzzOp.TANH, n > 5 ? arith(FuzzOp.SUB, in[3], in[5], null) : in[3]);
        Facts go = activation(FuzzOp.SIGMOID, n > 6 ? arith(FuzzOp.ADD, in[6], in[0], null) : in[1]);
        Facts cell = arith(FuzzOp.ADD, arith(FuzzOp.MUL, gf, in[4], null), arith(FuzzOp.MUL, gi, gg, null), null);
        arith(FuzzOp.MUL, go, activation(FuzzOp.TANH, cell), null);
    }

    /** add, sub or mul of x with a tensor or a scalar, with the facts {@code binary} would derive. */
    Facts arith(FuzzOp op, Facts x, Facts y, Scalar s) {
        Facts[] tensors = y == null ? new Facts[]{x} : new Facts[]{x, y};
        Scalar[] scalars = s == null ? new Scalar[0] : new Scalar[]{s};
        DType out = Facts.resultType(tensors, scalars);
        double yb = y != null ? y.bound() : Facts.scalarBound(s);
        int yf = y != null ? y.frac() : Facts.scalarFrac(s);
        int both = x.exact() && yf >= 0 ? Math.max(x.frac(), yf) : -1;
        double bound = op == FuzzOp.MUL ? x.bound() * yb : x.bound() + yb;
        int frac = op == FuzzOp.MUL ? (both < 0 ? -1 : x.frac() + yf) : both;
        long[] shape = y == null ? x.shape() : Facts.broadcast(x.shape(), y.shape());
        boolean sp = x.specials() || (y != null && y.specials());
        int[] ids = y == null ? new int[]{x.id()} : new int[]{x.id(), y.id()};
        return result(op, ids, new long[0], scalars, null, x.with(out, shape, bound, frac, sp, newId()));
    }

    Facts activation(FuzzOp op, Facts x) {
        double bound = op == FuzzOp.RELU ? x.bound() : 1;
        int frac = op == FuzzOp.RELU ? x.frac() : -1;
        return result(op, new int[]{x.id()}, new long[0], new Scalar[0], null,
                x.with(x.dtype(), x.shape(), bound, frac, x.specials(), newId()));
    }
}
