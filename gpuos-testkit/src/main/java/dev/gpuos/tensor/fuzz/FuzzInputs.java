package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The tensors an INPUT step makes: values from the step's seed, laid out in one of four ways, so that later
 * ops see contiguous, permuted, strided (step 2) and expanded (zero-stride) operands.
 *
 * <p>Floating values are multiples of 1/8 in [-4, 4] (integers in [-6, 6]), exactly representable in every
 * dtype down to BF16. On such values add, sub, mul, max/min, sums and matmuls are exact on every backend as long
 * as the magnitudes stay small, which is what lets the generator use comparisons, floor division, casts to
 * integers and argmax (ops that jump) without backends disagreeing over a last-bit difference.
 */
public final class FuzzInputs {
    private FuzzInputs() {}

    public enum Style { CONTIGUOUS, PERMUTED, STRIDED, EXPANDED }

    public enum Values {
        /** k/8 for |k| &le; 32; integers in [-6, 6]. */
        GRID,
        /** GRID values with |v| &ge; 0.5 (integers &ge; 1): safe divisors. */
        NONZERO,
        /** GRID values &gt; 0. */
        POSITIVE,
        /** GRID values with one in ten NaN, +inf, -inf or -0.0. */
        SPECIALS,
        /** Integers in [0, bound): indices. */
        INDEX
    }

    /** Logical values (row-major over the step's shape) and the buffer they are uploaded from. */
    record Plan(DType dtype, long[] shape, Style style, long[] baseShape, double[] base, int[] perm, double[] logical) {}

    static Plan plan(FuzzStep step) {
        DType dtype = step.dtype();
        long[] shape = step.shapeOfInput();
        Style style = Style.values()[(int) step.arg(1)];
        Values kind = Values.values()[(int) step.arg(2)];
        long bound = step.arg(3);
        SplittableRandom r = new SplittableRandom(step.arg(0));
        int rank = shape.length;
        int n = (int) numel(shape);
        switch (style) {
            case PERMUTED -> {
                int[] q = permutation(r, rank);
                long[] b = new long[rank];
                for (int i = 0; i < rank; i++) b[q[i]] = shape[i];
                double[] logical = values(r, dtype, kind, bound, n);
                double[] base = new double[n];
                long[] bi = new long[rank];
                forEachIndex(shape, (li, idx) -> {
                    for (int i = 0; i < rank; i++) bi[q[i]] = idx[i];
                    base[(int) rowMajor(bi, b)] = logical[li];
                });
                return new Plan(dtype, shape, style, b, base, q, logical);
            }
            case STRIDED -> {
                long[] b = new long[rank];
                for (int i = 0; i < rank; i++) b[i] = 2 * shape[i] + 1;
                double[] logical = values(r, dtype, kind, bound, n);
                double[] base = new double[(int) numel(b)];
                Arrays.fill(base, dtype == DType.BOOL ? 1 : 3);
                long[] bi = new long[rank];
                forEachIndex(shape, (li, idx) -> {
                    for (int i = 0; i < rank; i++) bi[i] = 1 + 2 * idx[i];
                    base[(int) rowMajor(bi, b)] = logical[li];
                });
                return new Plan(dtype, shape, style, b, base, null, logical);
            }
            case EXPANDED -> {
                long[] small = shape.clone();
                for (int i = 0; i < rank; i++) if (r.nextBoolean()) small[i] = Math.min(1, small[i]);
                double[] base = values(r, dtype, kind, bound, (int) numel(small));
                double[] logical = new double[n];
                long[] si = new long[rank];
                forEachIndex(shape, (li, idx) -> {
                    for (int i = 0; i < rank; i++) si[i] = small[i] == 1 ? 0 : idx[i];
                    logical[li] = base[(int) rowMajor(si, small)];
                });
                return new Plan(dtype, shape, style, small, base, null, logical);
            }
            default -> {
                double[] logical = values(r, dtype, kind, bound, n);
                return new Plan(dtype, shape, style, shape, logical, null, logical);
            }
        }
    }

    /** The step's logical values in row-major order (what every backend must read back). */
    public static double[] logicalValues(FuzzStep step) { return plan(step).logical(); }

    /** Uploads the step's buffer to {@code scope} and makes the view. */
    static Tensor build(TensorScope scope, FuzzStep step) {
        Plan p = plan(step);
        Tensor base = upload(scope, p.dtype(), p.baseShape(), p.base());
        int rank = p.shape().length;
        return switch (p.style()) {
            case CONTIGUOUS -> base;
            case PERMUTED -> base.permute(p.perm());
            case STRIDED -> {
                Tensor v = base;
                for (int d = 0; d < rank; d++) v = v.slice(d, 1, 1 + 2 * p.shape()[d], 2);
                yield v;
            }
            case EXPANDED -> base.expand(p.shape());
        };
    }

    private static Tensor upload(TensorScope s, DType t, long[] shape, double[] v) {
        if (shape.length == 0) return upload(s, t, new long[]{1}, v).reshape();
        return switch (t) {
            case BOOL -> {
                boolean[] b = new boolean[v.length];
                for (int i = 0; i < b.length; i++) b[i] = v[i] != 0;
                yield s.tensor(b, shape);
            }
            case I32, I64 -> s.tensor(Arrays.stream(v).mapToLong(d -> (long) d).toArray(), t, shape);
            default -> s.tensor(v, t, shape);
        };
    }

    private static double[] values(SplittableRandom r, DType t, Values kind, long bound, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = value(r, t, kind, bound);
        return v;
    }

    private static final double[] SPECIAL = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0};

    private static double value(SplittableRandom r, DType t, Values kind, long bound) {
        if (t == DType.BOOL) return r.nextBoolean() ? 1 : 0;
        boolean integral = !t.isFloating();
        return switch (kind) {
            case INDEX -> r.nextLong(Math.max(1, bound));
            case NONZERO -> (r.nextBoolean() ? 1 : -1) * (integral ? r.nextInt(1, 7) : r.nextInt(4, 33) / 8.0);
            case POSITIVE -> integral ? r.nextInt(1, 7) : r.nextInt(1, 33) / 8.0;
            case SPECIALS -> !integral && r.nextInt(10) == 0 ? SPECIAL[r.nextInt(SPECIAL.length)] : grid(r, integral);
            case GRID -> grid(r, integral);
        };
    }

    private static double grid(SplittableRandom r, boolean integral) {
        return integral ? r.nextInt(-6, 7) : r.nextInt(-32, 33) / 8.0;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
    }

    private static long rowMajor(long[] idx, long[] shape) {
        long l = 0;
        for (int d = 0; d < shape.length; d++) l = l * shape[d] + idx[d];
        return l;
    }

    @FunctionalInterface interface IndexVisitor { void visit(int linear, long[] idx); }

    static void forEachIndex(long[] shape, IndexVisitor body) {
        if (numel(shape) == 0) return;
        long[] idx = new long[shape.length];
        for (int linear = 0; ; linear++) {
            body.visit(linear, idx);
            int d = shape.length - 1;
            while (d >= 0) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
                d--;
            }
            if (d < 0) return;
        }
    }

    static int[] permutation(SplittableRandom r, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }
}
