package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Identical tensors on the CPU reference backend and on the backend under test, made from the same seeded
 * values and viewed the same way, and the comparison of results. Closing closes both scopes.
 */
final class Twins implements AutoCloseable {
    /** The same logical tensor on both backends. */
    record Twin(Tensor cpu, Tensor dev) {
        Twin map(Function<Tensor, Tensor> f) { return new Twin(f.apply(cpu), f.apply(dev)); }

        DType dtype() { return cpu.dtype(); }

        long[] shape() { return cpu.shape(); }
    }

    enum LayoutKind { CONTIGUOUS, PERMUTED, STRIDED, EXPANDED }

    final TensorScope cpu, dev;

    Twins(Backend device) {
        cpu = TensorScope.open(CpuBackend.eager());
        dev = TensorScope.open(device);
    }

    @Override
    public void close() {
        dev.close();
        cpu.close();
    }

    Twin upload(DType t, long[] shape, double[] v) {
        if (shape.length == 0) return upload(t, new long[]{1}, v).map(Tensor::reshape);
        return new Twin(upload(cpu, t, shape, v), upload(dev, t, shape, v));
    }

    private static Tensor upload(TensorScope s, DType t, long[] shape, double[] v) {
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

    static double value(SplittableRandom r, DType t, boolean specials) {
        return switch (t) {
            case BOOL -> r.nextBoolean() ? 1 : 0;
            case I32, I64 -> r.nextInt(-6, 7);
            default -> {
                if (specials && r.nextInt(14) == 0) {
                    double[] sp = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0};
                    yield sp[r.nextInt(sp.length)];
                }
                yield r.nextDouble(-4, 4);
            }
        };
    }

    static double[] values(SplittableRandom r, DType t, long n, boolean specials) {
        double[] v = new double[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = value(r, t, specials);
        return v;
    }

    /** Random values of logical {@code shape}, laid out as {@code kind} says (non-contiguous for all but the first). */
    Twin random(SplittableRandom r, DType t, long[] shape, boolean specials, LayoutKind kind) {
        int rank = shape.length;
        switch (kind) {
            case CONTIGUOUS -> {
                return upload(t, shape, values(r, t, count(shape), specials));
            }
            case PERMUTED -> {
                int[] q = permutation(r, rank);
                long[] base = new long[rank];
                for (int j = 0; j < rank; j++) base[q[j]] = shape[j];
                return upload(t, base, values(r, t, count(base), specials)).map(x -> x.permute(q));
            }
            case STRIDED -> {
                long[] base = new long[rank];
                for (int d = 0; d < rank; d++) base[d] = 2 * shape[d] + 1;
                Twin w = upload(t, base, values(r, t, count(base), specials));
                for (int d = 0; d < rank; d++) {
                    int dim = d;
                    w = w.map(x -> x.slice(dim, 1, 1 + 2 * shape[dim], 2));
                }
                return w;
            }
            default -> {
                long[] small = shape.clone();
                for (int d = 0; d < rank; d++) if (r.nextBoolean()) small[d] = Math.min(small[d], 1);
                return upload(t, small, values(r, t, count(small), specials)).map(x -> x.expand(shape));
            }
        }
    }

    Twin random(SplittableRandom r, DType t, long[] shape, boolean specials) {
        return random(r, t, shape, specials, LayoutKind.values()[r.nextInt(LayoutKind.values().length)]);
    }

    static long count(long[] shape) {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
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

    static long[] randomShape(SplittableRandom r, int maxRank, int maxSize) {
        int rank = r.nextInt(maxRank + 1);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) {
            int roll = r.nextInt(20);
            s[i] = roll == 0 ? 0 : roll < 6 ? 1 : 1 + r.nextInt(maxSize);
        }
        return s;
    }

    static long[] broadcastableTo(SplittableRandom r, long[] target) {
        int drop = r.nextInt(target.length + 1);
        long[] s = Arrays.copyOfRange(target, drop, target.length);
        for (int i = 0; i < s.length; i++) if (r.nextInt(4) == 0) s[i] = 1;
        return s;
    }

    /** Tolerance by result dtype: {@link ToleranceTable} (integers and bool exact). */
    static double elementwiseTolerance(DType t) {
        return ToleranceTable.elementwise(t);
    }

    static double reductionTolerance(DType t) {
        return ToleranceTable.accumulating(t);
    }

    /** Same dtype and shape; NaN where the CPU has NaN; equal infinities; else |d - c| <= atol + rtol |c|. */
    static void assertClose(Twin t, double rtol, double atol, String ctx) {
        assertEquals(t.cpu().dtype(), t.dev().dtype(), ctx + ": dtype");
        assertArrayEquals(t.cpu().shape(), t.dev().shape(), ctx + ": shape");
        double[] e = t.cpu().toDoubleArray(), g = t.dev().toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            boolean ok;
            if (Double.isNaN(e[i]) || Double.isNaN(g[i])) ok = Double.isNaN(e[i]) && Double.isNaN(g[i]);
            else if (Double.isInfinite(e[i]) || Double.isInfinite(g[i])) ok = e[i] == g[i];
            else ok = Math.abs(e[i] - g[i]) <= atol + rtol * Math.abs(e[i]);
            if (!ok) {
                fail(ctx + ": element " + i + " of " + Arrays.toString(t.shape()) + ": cpu " + e[i] + ", gpu " + g[i]
                        + " (rtol " + rtol + ", atol " + atol + ")" + (e.length <= 64 ? "\ncpu " + Arrays.toString(e)
                        + "\ngpu " + Arrays.toString(g) : ""));
            }
        }
    }

    static void assertClose(Twin t, double rtol, String ctx) {
        assertClose(t, rtol, rtol * 1e-2, ctx);
    }
}
