package dev.gpuos.tensor;

import dev.gpuos.tensor.fuzz.FuzzInputs;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.FuzzProgram;
import dev.gpuos.tensor.fuzz.FuzzRun;
import dev.gpuos.tensor.fuzz.FuzzStep;
import dev.gpuos.tensor.fuzz.Outcome;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent interpreter of fuzz programs over {@link RefArray}s: every op written from its definition in
 * double precision, rounded to the result dtype once per step (dtype rules from {@link RefElementwise}). It
 * shares nothing with the backends but the inputs' values, so the CPU backend can be checked against it.
 * It trusts the program to be valid (the CPU run says which steps the API rejected; those are skipped here),
 * except for views with overflow-prone sizes, offsets and strides (issue 15): whether narrow, select, expand,
 * reshape and as_strided must fail, and with which exception, is decided here from the documented limits with
 * exact (BigInteger) arithmetic, so a backend that accepts such a view, or refuses a legal one, mismatches.
 */
final class FuzzReference {
    private FuzzReference() {}

    static FuzzRun run(FuzzProgram program, FuzzRun cpu) {
        Map<Integer, RefArray> live = new HashMap<>();
        Map<Integer, Outcome> out = new HashMap<>();
        for (FuzzStep s : program.steps()) {
            if (s.op() == FuzzOp.SYNC || s.out() < 0) continue;
            Outcome c = cpu.outcomes().get(s.out());
            boolean missing = false;
            for (int id : s.in()) missing |= !live.containsKey(id);
            if (!missing && CHECKED_VIEWS.contains(s.op())) {
                String refused = refusal(s, live.get(s.in()[0]));
                if (refused != null) {
                    out.put(s.out(), Outcome.failed(refused + ": the reference refuses this view"));
                    continue;
                }
                if (c != null && !c.ok()) {  // a legal view the backend refused: compute it, so the runs differ
                    RefArray r = apply(s, live);
                    out.put(s.out(), new Outcome(r.dtype, r.shape, r.v, null));
                    continue;
                }
            }
            if (missing || c == null || !c.ok()) {
                if (c != null) out.put(s.out(), c);   // errors are the CPU's; the reference has no validation
                continue;
            }
            RefArray r = apply(s, live);
            live.put(s.out(), r);
            out.put(s.out(), new Outcome(r.dtype, r.shape, r.v, null));
        }
        return new FuzzRun(out, null);
    }

    private static final java.util.Set<FuzzOp> CHECKED_VIEWS = java.util.EnumSet.of(FuzzOp.NARROW, FuzzOp.SELECT,
            FuzzOp.EXPAND, FuzzOp.RESHAPE, FuzzOp.AS_STRIDED);
    private static final java.math.BigInteger MAX_NUMEL = java.math.BigInteger.valueOf((1L << 60) - 1);

    /** The exception class the API must throw for this view step, or null if it is legal. */
    private static String refusal(FuzzStep s, RefArray x) {
        long[] a = s.args();
        switch (s.op()) {
            case NARROW, SELECT -> {
                java.math.BigInteger size = java.math.BigInteger.valueOf(x.shape[norm(a[0], x.rank())]);
                java.math.BigInteger i = java.math.BigInteger.valueOf(a[1]);
                if (i.signum() < 0) i = i.add(size);
                if (s.op() == FuzzOp.SELECT) {
                    return i.signum() >= 0 && i.compareTo(size) < 0 ? null : "IndexOutOfBoundsException";
                }
                java.math.BigInteger len = java.math.BigInteger.valueOf(a[2]);
                boolean ok = i.signum() >= 0 && len.signum() >= 0 && i.add(len).compareTo(size) <= 0;
                return ok ? null : "IndexOutOfBoundsException";
            }
            case RESHAPE -> {
                int free = 0;
                java.math.BigInteger known = java.math.BigInteger.ONE;
                long product = 1;
                for (long v : a) {
                    if (v == -1) free++;
                    else if (v < -1) return "ShapeMismatchException";
                    else if (v != 0) known = known.multiply(java.math.BigInteger.valueOf(v));
                }
                if (free > 1 || known.compareTo(MAX_NUMEL) > 0) return "ShapeMismatchException";
                for (long v : a) if (v != -1) product *= v;  // <= MAX_NUMEL: no overflow
                long n = x.v.length;
                if (free == 1) return product != 0 && n % product == 0 ? null : "ShapeMismatchException";
                return product == n ? null : "ShapeMismatchException";
            }
            case EXPAND -> {
                int lead = a.length - x.rank();
                if (lead < 0) return "ShapeMismatchException";
                java.math.BigInteger known = java.math.BigInteger.ONE;
                for (int i = 0; i < a.length; i++) {
                    long v = a[i] == -1 && i >= lead ? x.shape[i - lead] : a[i];
                    if (v < 0) return "ShapeMismatchException";
                    if (i >= lead && x.shape[i - lead] != 1 && x.shape[i - lead] != v) return "ShapeMismatchException";
                    if (v != 0) known = known.multiply(java.math.BigInteger.valueOf(v));
                }
                return known.compareTo(MAX_NUMEL) > 0 ? "ShapeMismatchException" : null;
            }
            case AS_STRIDED -> {
                long[] sizes = stridedSizes(a), strides = stridedStrides(a);
                for (long st : strides) if (st < 0) return "IllegalArgumentException";
                if (a[0] < 0) return "IllegalArgumentException";
                java.math.BigInteger count = java.math.BigInteger.ONE, last = java.math.BigInteger.valueOf(a[0]);
                boolean empty = false;
                for (int i = 0; i < sizes.length; i++) {
                    if (sizes[i] < 0) return "ShapeMismatchException";
                    if (sizes[i] == 0) empty = true;
                    else count = count.multiply(java.math.BigInteger.valueOf(sizes[i]));
                    last = last.add(java.math.BigInteger.valueOf(Math.max(0, sizes[i] - 1))
                            .multiply(java.math.BigInteger.valueOf(strides[i])));
                }
                if (count.compareTo(MAX_NUMEL) > 0) return "ShapeMismatchException";
                java.math.BigInteger extent = empty ? java.math.BigInteger.valueOf(a[0]) : last.add(java.math.BigInteger.ONE);
                return extent.compareTo(java.math.BigInteger.valueOf(x.v.length)) > 0 ? "IndexOutOfBoundsException" : null;
            }
            default -> {
                return null;
            }
        }
    }

    /** An AS_STRIDED step's sizes: args = [offset, sizes..., strides...]. */
    private static long[] stridedSizes(long[] a) { return Arrays.copyOfRange(a, 1, 1 + (a.length - 1) / 2); }

    private static long[] stridedStrides(long[] a) { return Arrays.copyOfRange(a, 1 + (a.length - 1) / 2, a.length); }

    private static RefArray apply(FuzzStep s, Map<Integer, RefArray> live) {
        int[] in = s.in();
        long[] a = s.args();
        RefArray x = in.length > 0 ? live.get(in[0]) : null;
        return switch (s.op()) {
            case INPUT -> new RefArray(s.dtype(), Arrays.copyOfRange(a, 4, a.length), FuzzInputs.logicalValues(s));
            case CAST -> map(x, s.dtype(), v -> RefArray.roundTo(s.dtype(), v));
            case TRANSPOSE -> {
                int r = x.rank(), d0 = norm(a[0], r), d1 = norm(a[1], r);
                int[] p = new int[r];
                for (int i = 0; i < r; i++) p[i] = i;
                if (r > 0) { p[d0] = d1; p[d1] = d0; }
                yield permute(x, p);
            }
            case PERMUTE -> permute(x, Arrays.stream(a).mapToInt(v -> (int) v).toArray());
            case NARROW -> {
                int d = norm(a[0], x.rank());
                long st = a[1] < 0 ? a[1] + x.shape[d] : a[1];
                yield slice(x, d, st, st + a[2], 1);
            }
            case SLICE -> {
                int d = norm(a[0], x.rank());
                long size = x.shape[d];
                long st = clamp(a[1] < 0 ? a[1] + size : a[1], size), en = clamp(a[2] < 0 ? a[2] + size : a[2], size);
                yield slice(x, d, st, Math.max(st, en), a[3]);
            }
            case SELECT -> {
                int d = norm(a[0], x.rank());
                long i = a[1] < 0 ? a[1] + x.shape[d] : a[1];
                RefArray sl = slice(x, d, i, i + 1, 1);
                yield new RefArray(x.dtype, remove(x.shape, d), sl.v);
            }
            case EXPAND -> {
                long[] target = a.clone();
                int lead = target.length - x.rank();
                for (int i = lead; i < target.length; i++) if (target[i] == -1) target[i] = x.shape[i - lead];
                RefArray e = RefArray.zeros(x.dtype, target);
                RefArray.forEachIndex(target, idx -> e.set(idx, x.broadcastAt(idx)));
                yield e;
            }
            case UNSQUEEZE -> {
                int d = norm(a[0], x.rank() + 1);
                long[] sh = new long[x.rank() + 1];
                for (int i = 0, j = 0; i < sh.length; i++) sh[i] = i == d ? 1 : x.shape[j++];
                yield new RefArray(x.dtype, sh, x.v);
            }
            case SQUEEZE -> {
                if (a.length == 0) yield new RefArray(x.dtype, Arrays.stream(x.shape).filter(v -> v != 1).toArray(), x.v);
                if (x.rank() == 0) yield x;
                int d = norm(a[0], x.rank());
                yield x.shape[d] == 1 ? new RefArray(x.dtype, remove(x.shape, d), x.v) : x;
            }
            case RESHAPE -> {
                long[] sh = a.clone();
                long known = 1;
                int free = -1;
                for (int i = 0; i < sh.length; i++) if (sh[i] == -1) free = i; else known *= sh[i];
                if (free >= 0) sh[free] = known == 0 ? 0 : x.v.length / known;
                yield new RefArray(x.dtype, sh, x.v);
            }
            case CONTIGUOUS -> x;
            case AS_STRIDED -> {
                long[] sizes = stridedSizes(a), strides = stridedStrides(a);
                RefArray o = RefArray.zeros(x.dtype, sizes);
                RefArray.forEachIndex(sizes, idx -> {
                    long at = a[0];
                    for (int i = 0; i < idx.length; i++) at += idx[i] * strides[i];
                    o.set(idx, x.v[(int) at]);
                });
                yield o;
            }
            case SUM, MEAN, PROD, MAX, MIN -> reduce(s.op(), x, a);
            case ARGMAX, ARGMIN -> argReduce(s.op() == FuzzOp.ARGMAX, x, a);
            case SOFTMAX, LOG_SOFTMAX -> softmax(x, (int) a[0], s.op() == FuzzOp.LOG_SOFTMAX);
            case LAYER_NORM, RMS_NORM -> norm(s.op() == FuzzOp.LAYER_NORM, x, (int) a[0],
                    in.length > 1 ? live.get(in[1]) : null, in.length > 2 ? live.get(in[2]) : null,
                    s.scalars()[0].doubleValue());
            case MATMUL, BMM -> matmul(x, live.get(in[1]));
            case INDEX_SELECT -> indexSelect(x, norm(a[0], x.rank()), live.get(in[1]));
            case CAT -> {
                List<RefArray> parts = new ArrayList<>();
                for (int id : in) parts.add(live.get(id));
                yield cat(norm(a[0], x.rank()), parts);
            }
            case SYNC -> throw new IllegalStateException("no tensor");
            default -> FuzzReferenceElementwise.apply(s, live);
        };
    }

    static int norm(long d, int rank) { return (int) (d < 0 ? d + Math.max(rank, 1) : d); }

    private static long clamp(long i, long size) { return Math.max(0, Math.min(i, size)); }

    static long[] remove(long[] s, int d) {
        long[] out = new long[s.length - 1];
        for (int i = 0, j = 0; i < s.length; i++) if (i != d) out[j++] = s[i];
        return out;
    }

    private static RefArray map(RefArray x, DType t, java.util.function.DoubleUnaryOperator f) {
        double[] v = new double[x.v.length];
        for (int i = 0; i < v.length; i++) v[i] = f.applyAsDouble(x.v[i]);
        return new RefArray(t, x.shape, v);
    }

    private static RefArray permute(RefArray x, int[] p) {
        int r = x.rank();
        long[] sh = new long[r];
        for (int i = 0; i < r; i++) sh[i] = x.shape[p[i]];
        RefArray out = RefArray.zeros(x.dtype, sh);
        long[] src = new long[r];
        RefArray.forEachIndex(sh, idx -> {
            for (int i = 0; i < r; i++) src[p[i]] = idx[i];
            out.set(idx, x.at(src));
        });
        return out;
    }

    private static RefArray slice(RefArray x, int d, long start, long end, long step) {
        long[] sh = x.shape.clone();
        sh[d] = end <= start ? 0 : (end - start) / step + ((end - start) % step == 0 ? 0 : 1);  // no overflow
        RefArray out = RefArray.zeros(x.dtype, sh);
        RefArray.forEachIndex(sh, idx -> {
            long[] src = idx.clone();
            src[d] = start + idx[d] * step;
            out.set(idx, x.at(src));
        });
        return out;
    }

    /** Groups of elements that reduce together, by kept coordinates, each in row-major order. */
    private static double[][] groups(RefArray x, boolean[] reduced) {
        int rank = x.rank();
        long[] kept = new long[rank];
        long size = 1;
        for (int d = 0; d < rank; d++) { kept[d] = reduced[d] ? 1 : x.shape[d]; if (reduced[d]) size *= x.shape[d]; }
        double[][] g = new double[(int) RefArray.count(kept)][(int) size];
        int[] fill = new int[g.length];
        RefArray.forEachIndex(x.shape, idx -> {
            long[] k = idx.clone();
            for (int d = 0; d < rank; d++) if (reduced[d]) k[d] = 0;
            int gi = (int) RefArray.linear(k, kept);
            g[gi][fill[gi]++] = x.at(idx);
        });
        return g;
    }

    private static RefArray reduce(FuzzOp op, RefArray x, long[] a) {
        int rank = x.rank();
        boolean keep = a.length > 1 && a[0] != 0;
        boolean[] reduced = new boolean[rank];
        if (a.length <= 1) Arrays.fill(reduced, true);
        else for (int i = 1; i < a.length; i++) reduced[norm(a[i], rank)] = true;
        List<Long> sh = new ArrayList<>();
        for (int d = 0; d < rank; d++) if (!reduced[d]) sh.add(x.shape[d]); else if (keep) sh.add(1L);
        DType t = (op == FuzzOp.SUM || op == FuzzOp.PROD) && !x.dtype.isFloating() ? DType.I64 : x.dtype;
        double[][] g = groups(x, reduced);
        double[] v = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            double[] m = g[i];
            double r = switch (op) {
                case SUM, MEAN -> { double s = 0; for (double e : m) s += e; yield op == FuzzOp.MEAN ? s / m.length : s; }
                case PROD -> { double p = 1; for (double e : m) p *= e; yield p; }
                default -> {
                    double best = m[0];
                    for (double e : m) {
                        if (Double.isNaN(e)) { best = e; break; }
                        best = op == FuzzOp.MAX ? Math.max(best, e) : Math.min(best, e);
                    }
                    yield best;
                }
            };
            v[i] = RefArray.roundTo(t, r);
        }
        return new RefArray(t, sh.stream().mapToLong(Long::longValue).toArray(), v);
    }

    private static RefArray argReduce(boolean max, RefArray x, long[] a) {
        int rank = x.rank();
        boolean[] reduced = new boolean[rank];
        long[] sh;
        if (a.length == 0) {
            Arrays.fill(reduced, true);
            sh = new long[0];
        } else {
            int d = norm(a[1], rank);
            if (rank > 0) reduced[d] = true;
            sh = rank == 0 ? new long[0] : a[0] != 0 ? x.shape.clone() : remove(x.shape, d);
            if (rank > 0 && a[0] != 0) sh[d] = 1;
        }
        double[][] g = groups(x, reduced);
        double[] v = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            double[] m = g[i];
            int best = 0;
            for (int j = 0; j < m.length; j++) {
                if (Double.isNaN(m[j])) { best = j; break; }
                if (max ? m[j] > m[best] : m[j] < m[best]) best = j;
            }
            v[i] = best;
        }
        return new RefArray(DType.I64, sh, v);
    }

    private static RefArray softmax(RefArray x, int dim, boolean log) {
        if (x.rank() == 0) return new RefArray(x.dtype, new long[0], softmax(new RefArray(x.dtype, new long[]{1}, x.v), 0, log).v);
        int d = norm(dim, x.rank());
        RefArray out = RefArray.zeros(x.dtype, x.shape);
        long[] lineShape = x.shape.clone();
        lineShape[d] = 1;
        long n = x.shape[d];
        RefArray.forEachIndex(lineShape, base -> {
            long[] idx = base.clone();
            double mx = Double.NEGATIVE_INFINITY, sum = 0;
            for (long i = 0; i < n; i++) { idx[d] = i; mx = Math.max(mx, x.at(idx)); }
            for (long i = 0; i < n; i++) { idx[d] = i; sum += Math.exp(x.at(idx) - mx); }
            for (long i = 0; i < n; i++) {
                idx[d] = i;
                double e = x.at(idx) - mx;
                out.set(idx, RefArray.roundTo(x.dtype, log ? e - Math.log(sum) : Math.exp(e) / sum));
            }
        });
        return out;
    }

    private static RefArray norm(boolean layer, RefArray x, int k, RefArray w, RefArray b, double eps) {
        int rank = x.rank();
        long inner = 1;
        for (int d = rank - k; d < rank; d++) inner *= x.shape[d];
        double[] v = new double[x.v.length];
        for (int row = 0; inner > 0 && row < x.v.length / inner; row++) {
            int base = (int) (row * inner);
            double mean = 0, sq = 0;
            for (int i = 0; i < inner; i++) mean += x.v[base + i];
            mean /= inner;
            for (int i = 0; i < inner; i++) {
                double c = layer ? x.v[base + i] - mean : x.v[base + i];
                sq += c * c;
            }
            double scale = 1 / Math.sqrt(sq / inner + eps);
            for (int i = 0; i < inner; i++) {
                double y = ((layer ? x.v[base + i] - mean : x.v[base + i]) * scale);
                if (w != null) y *= w.v[i];
                if (b != null) y += b.v[i];
                v[base + i] = RefArray.roundTo(x.dtype, y);
            }
        }
        return new RefArray(x.dtype, x.shape, v);
    }

    private static RefArray matmul(RefArray a, RefArray b) {
        long[] as = a.rank() == 1 ? new long[]{1, a.shape[0]} : a.shape;
        long[] bs = b.rank() == 1 ? new long[]{b.shape[0], 1} : b.shape;
        RefArray a2 = new RefArray(a.dtype, as, a.v), b2 = new RefArray(b.dtype, bs, b.v);
        long n = as[as.length - 2], kk = as[as.length - 1], m = bs[bs.length - 1];
        long[] batch = RefArray.broadcast(Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
        long[] full = Arrays.copyOf(batch, batch.length + 2);
        full[batch.length] = n;
        full[batch.length + 1] = m;
        RefArray out = RefArray.zeros(a.dtype, full);
        RefArray.forEachIndex(full, idx -> {
            double s = 0;
            long[] ai = Arrays.copyOf(idx, idx.length), bi = Arrays.copyOf(idx, idx.length);
            for (long k = 0; k < kk; k++) {
                ai[idx.length - 1] = k;
                bi[idx.length - 2] = k;
                bi[idx.length - 1] = idx[idx.length - 1];
                s += a2.broadcastAt(ai) * b2.broadcastAt(bi);
            }
            out.set(idx, RefArray.roundTo(a.dtype, s));
        });
        List<Long> sh = new ArrayList<>();
        for (long v : batch) sh.add(v);
        if (a.rank() > 1) sh.add(n);
        if (b.rank() > 1) sh.add(m);
        return new RefArray(a.dtype, sh.stream().mapToLong(Long::longValue).toArray(), out.v);
    }

    private static RefArray indexSelect(RefArray x, int d, RefArray index) {
        long[] sh = x.shape.clone();
        sh[d] = index.v.length;
        RefArray out = RefArray.zeros(x.dtype, sh);
        RefArray.forEachIndex(sh, idx -> {
            long[] src = idx.clone();
            src[d] = (long) index.v[(int) idx[d]];
            out.set(idx, x.at(src));
        });
        return out;
    }

    private static RefArray cat(int d, List<RefArray> parts) {
        DType t = parts.getFirst().dtype;
        long[] sh = parts.getFirst().shape.clone();
        sh[d] = 0;
        for (RefArray p : parts) { t = RefElementwise.promote(t, p.dtype); sh[d] += p.shape[d]; }
        RefArray out = RefArray.zeros(t, sh);
        DType rt = t;
        long offset = 0;
        for (RefArray p : parts) {
            long off = offset;
            RefArray.forEachIndex(p.shape, idx -> {
                long[] dst = idx.clone();
                dst[d] += off;
                out.set(dst, RefArray.roundTo(rt, p.at(idx)));
            });
            offset += p.shape[d];
        }
        return out;
    }
}
