package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.fuzz.FuzzInputs.Values;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds one program: picks ops, and makes the steps that are not elementwise (views, reductions, softmax,
 * norms, matmul, index_select, cat); one program in four starts with a fusion motif ({@link FusionSteps}).
 */
final class ProgramBuilder extends FusionSteps {
    private static final FuzzOp[] UNARY = {FuzzOp.NEG, FuzzOp.ABS, FuzzOp.RELU, FuzzOp.EXP, FuzzOp.LOG, FuzzOp.SQRT,
            FuzzOp.RSQRT, FuzzOp.SIN, FuzzOp.COS, FuzzOp.TANH, FuzzOp.SIGMOID, FuzzOp.GELU, FuzzOp.GELU_TANH,
            FuzzOp.SILU, FuzzOp.HARDSIGMOID, FuzzOp.HARDSWISH, FuzzOp.LEAKY_RELU, FuzzOp.ELU, FuzzOp.SOFTPLUS};
    private static final FuzzOp[] VIEWS = {FuzzOp.TRANSPOSE, FuzzOp.PERMUTE, FuzzOp.NARROW, FuzzOp.SLICE,
            FuzzOp.SELECT, FuzzOp.EXPAND, FuzzOp.UNSQUEEZE, FuzzOp.SQUEEZE, FuzzOp.RESHAPE, FuzzOp.CONTIGUOUS,
            FuzzOp.AS_STRIDED};
    private static final FuzzOp[] OTHERS = {FuzzOp.SUM, FuzzOp.MEAN, FuzzOp.PROD, FuzzOp.MAX, FuzzOp.MIN,
            FuzzOp.ARGMAX, FuzzOp.ARGMIN, FuzzOp.SOFTMAX, FuzzOp.LOG_SOFTMAX, FuzzOp.LAYER_NORM, FuzzOp.RMS_NORM,
            FuzzOp.MATMUL, FuzzOp.BMM, FuzzOp.INDEX_SELECT, FuzzOp.CAT, FuzzOp.CLAMP, FuzzOp.WHERE, FuzzOp.CAST};

    ProgramBuilder(SplittableRandom r) { super(r); }

    FuzzProgram build(long seed) {
        int target = 3 + r.nextInt(10);
        int made = 0;
        // One program in four opens with a fusion motif (issue 12); the others are what they always were.
        if (Math.floorMod(seed, 4) == 3) {
            fusionMotif();
            made++;
            if (r.nextInt(4) == 0) sync();
        }
        for (int attempt = 0; made < target && attempt < 400; attempt++) {
            FuzzOp op = chooseOp();
            int before = steps.size();
            List<Facts> liveBefore = new ArrayList<>(live);
            int idBefore = nextId;
            if (tryStep(op)) {
                made++;
                if (r.nextInt(8) == 0) sync();
            } else {
                // Roll back inputs made for a step that turned out impossible.
                while (steps.size() > before) steps.removeLast();
                live.clear();
                live.addAll(liveBefore);
                nextId = idBefore;
            }
        }
        return new FuzzProgram(seed, steps);
    }

    FuzzOp chooseOp() {
        int roll = r.nextInt(100);
        if (roll < 35) return BINARY[r.nextInt(BINARY.length)];
        if (roll < 60) return UNARY[r.nextInt(UNARY.length)];
        if (roll < 75) return VIEWS[r.nextInt(VIEWS.length)];
        return OTHERS[r.nextInt(OTHERS.length)];
    }

    boolean tryStep(FuzzOp op) {
        return switch (op.kind()) {
            case ELEMENTWISE -> op == FuzzOp.CLAMP ? clamp() : op == FuzzOp.WHERE ? where()
                    : op == FuzzOp.CAST ? cast() : Arrays.asList(BINARY).contains(op) ? binary(op) : unary(op);
            case VIEW -> op == FuzzOp.INDEX_SELECT ? indexSelect() : op == FuzzOp.CAT ? cat()
                    : op == FuzzOp.AS_STRIDED ? asStrided() : view(op);
            case ACCUMULATING -> accumulating(op);
            case INPUT, SYNC -> false;
        };
    }

    boolean view(FuzzOp op) {
        Facts x = pick(f -> switch (op) {
            case TRANSPOSE, PERMUTE, UNSQUEEZE, SQUEEZE, RESHAPE, CONTIGUOUS, EXPAND -> true;
            case NARROW, SLICE -> f.rank() > 0;
            case SELECT -> f.rank() > 0 && f.numel() > 0;
            default -> false;
        });
        if (x == null) return false;
        if (r.nextInt(8) == 0 && overflowingView(op, x)) return true;
        long[] s = x.shape();
        int rank = s.length;
        long[] args;
        long[] shape;
        switch (op) {
            case TRANSPOSE -> {
                if (rank == 0) return false;
                int a = r.nextInt(rank), b = r.nextInt(rank);
                args = new long[]{a - (r.nextBoolean() ? rank : 0), b};
                shape = s.clone();
                shape[a] = s[b];
                shape[b] = s[a];
            }
            case PERMUTE -> {
                int[] p = FuzzInputs.permutation(r, rank);
                args = new long[rank];
                shape = new long[rank];
                for (int i = 0; i < rank; i++) { args[i] = p[i]; shape[i] = s[p[i]]; }
            }
            case NARROW -> {
                int d = r.nextInt(rank);
                long start = s[d] == 0 ? 0 : r.nextLong(s[d]);
                long len = r.nextInt(6) == 0 ? 0 : 1 + r.nextLong(Math.max(1, s[d] - start));
                len = Math.min(len, s[d] - start);
                args = new long[]{d, start, len};
                shape = s.clone();
                shape[d] = len;
            }
            case SLICE -> {
                int d = r.nextInt(rank);
                long start = r.nextLong(-s[d] - 1, s[d] + 2), end = r.nextLong(-s[d] - 1, s[d] + 2);
                long step = 1 + r.nextInt(3);
                args = new long[]{d, start, end, step};
                long st = Math.max(0, Math.min(start < 0 ? start + s[d] : start, s[d]));
                long en = Math.max(0, Math.min(end < 0 ? end + s[d] : end, s[d]));
                shape = s.clone();
                shape[d] = en <= st ? 0 : (en - st + step - 1) / step;
            }
            case SELECT -> {
                int d = r.nextInt(rank);
                long i = r.nextLong(s[d]);
                args = new long[]{d - (r.nextBoolean() ? rank : 0), r.nextBoolean() ? i : i - s[d]};
                shape = remove(s, d);
            }
            case EXPAND -> {
                int lead = rank < 4 && r.nextInt(3) == 0 ? 1 : 0;
                args = new long[rank + lead];
                if (lead == 1) args[0] = 1 + r.nextInt(3);
                for (int i = 0; i < rank; i++) {
                    args[lead + i] = s[i] == 1 && r.nextBoolean() ? SIZES[r.nextInt(SIZES.length)]
                            : r.nextInt(4) == 0 ? -1 : s[i];
                }
                shape = args.clone();
                for (int i = 0; i < rank; i++) if (shape[lead + i] == -1) shape[lead + i] = s[i];
            }
            case UNSQUEEZE -> {
                if (rank >= 6) return false;
                int d = r.nextInt(rank + 1);
                args = new long[]{d - (r.nextBoolean() ? rank + 1 : 0)};
                shape = insert(s, d, 1);
            }
            case SQUEEZE -> {
                if (rank == 0 || r.nextInt(3) == 0) {
                    args = new long[0];
                    shape = Arrays.stream(s).filter(v -> v != 1).toArray();
                } else {
                    int d = r.nextInt(rank);
                    args = new long[]{d};
                    shape = s[d] == 1 ? remove(s, d) : s.clone();
                }
            }
            case RESHAPE -> {
                shape = reshapeTarget(s);
                args = shape.clone();
                if (r.nextInt(3) == 0 && args.length > 0 && x.numel() > 0) args[r.nextInt(args.length)] = -1;
            }
            default -> { args = new long[0]; shape = s.clone(); }
        }
        if (!fitsCap(shape)) return false;
        result(op, new int[]{x.id()}, args, new Scalar[0], null, x.view(shape, newId()));
        return true;
    }

    long[] reshapeTarget(long[] s) {
        int roll = r.nextInt(3);
        if (roll == 0 || s.length == 0) return new long[]{FuzzInputs.numel(s)};
        if (roll == 1 && s.length >= 2) {
            int d = r.nextInt(s.length - 1);
            long[] out = remove(s, d + 1);
            out[d] = s[d] * s[d + 1];
            return out;
        }
        int d = r.nextInt(s.length);
        for (long f : new long[]{2, 3}) {
            if (s[d] % f == 0 && s[d] > 0) {
                long[] out = insert(s, d, f);
                out[d + 1] = s[d] / f;
                return out;
            }
        }
        return insert(s, d, 1);
    }

    boolean indexSelect() {
        Facts x = pick(f -> f.rank() > 0);
        if (x == null) return false;
        int d = r.nextInt(x.rank());
        long size = x.shape()[d];
        if (size == 0) return false;
        long[] idxShape = r.nextInt(6) == 0 ? new long[0] : new long[]{1 + r.nextInt(6)};
        Facts idx = input(r.nextBoolean() ? DType.I64 : DType.I32, idxShape, Values.INDEX, size);
        long[] shape = x.shape();
        shape[d] = idxShape.length == 0 ? 1 : idxShape[0];
        if (!fitsCap(shape)) return false;
        result(FuzzOp.INDEX_SELECT, new int[]{x.id(), idx.id()}, new long[]{d - (r.nextBoolean() ? x.rank() : 0)},
                new Scalar[0], null, x.view(shape, newId()));
        return true;
    }

    boolean cat() {
        Facts x = pick(f -> f.rank() > 0);
        if (x == null) return false;
        int d = r.nextInt(x.rank());
        List<Facts> parts = new ArrayList<>(List.of(x));
        int more = 1 + r.nextInt(2);
        for (int i = 0; i < more; i++) {
            if (r.nextInt(3) == 0) { parts.add(x); continue; }
            long[] s = x.shape();
            s[d] = r.nextInt(5);
            parts.add(input(r.nextInt(3) == 0 ? DTYPES[r.nextInt(DTYPES.length)] : x.dtype(), s,
                    r.nextInt(5) == 0 ? Values.SPECIALS : Values.GRID, 0));
        }
        long[] shape = x.shape();
        shape[d] = 0;
        DType out = parts.getFirst().dtype();
        double b = 0;
        int frac = 0;
        boolean sp = false;
        for (Facts p : parts) {
            shape[d] += p.shape()[d];
            out = DType.promote(out, p.dtype());
            b = Math.max(b, p.bound());
            frac = frac >= 0 && p.exact() ? Math.max(frac, p.frac()) : -1;
            sp |= p.specials();
        }
        if (!fitsCap(shape)) return false;
        int[] in = parts.stream().mapToInt(Facts::id).toArray();
        result(FuzzOp.CAT, in, new long[]{d - (r.nextBoolean() ? x.rank() : 0)}, new Scalar[0], null,
                x.with(out, shape, b, frac, sp, newId()));
        return true;
    }

    boolean accumulating(FuzzOp op) {
        return switch (op) {
            case SUM, MEAN, PROD, MAX, MIN -> reduction(op);
            case ARGMAX, ARGMIN -> argReduction(op);
            case SOFTMAX, LOG_SOFTMAX -> softmax(op);
            case LAYER_NORM, RMS_NORM -> norm(op);
            default -> matmul(op);
        };
    }

    boolean reduction(FuzzOp op) {
        Facts x = pick(f -> (op != FuzzOp.MEAN || f.dtype().isFloating()) && (op != FuzzOp.PROD || f.bound() <= 2));
        if (x == null) return false;
        int rank = x.rank();
        boolean keep = r.nextBoolean();
        boolean[] reduced = new boolean[rank];
        List<Long> args = new ArrayList<>(List.of(keep ? 1L : 0L));
        if (rank == 0 || r.nextInt(4) == 0) {
            Arrays.fill(reduced, true);
            if (r.nextBoolean()) args = List.of(0L);   // the no-argument overload
            else for (int d = 0; d < rank; d++) args.add((long) d - (r.nextBoolean() ? rank : 0));
            if (rank == 0) args = List.of(0L);
        } else {
            for (int d = 0; d < rank; d++) {
                if (r.nextInt(3) == 0) { reduced[d] = true; args.add((long) d - (r.nextBoolean() ? rank : 0)); }
            }
            if (args.size() == 1) { int d = r.nextInt(rank); reduced[d] = true; args.add((long) d); }
        }
        boolean all = args.size() == 1;
        long n = 1;
        List<Long> shape = new ArrayList<>();
        for (int d = 0; d < rank; d++) {
            if (reduced[d]) { n *= x.shape()[d]; if (keep && !all) shape.add(1L); }
            else shape.add(x.shape()[d]);
        }
        if (op == FuzzOp.PROD && n > 8) return false;
        if ((op == FuzzOp.MAX || op == FuzzOp.MIN) && n == 0) return false;
        DType out = (op == FuzzOp.SUM || op == FuzzOp.PROD) && !x.dtype().isFloating() ? DType.I64 : x.dtype();
        double b = switch (op) {
            case SUM -> x.bound() * Math.max(n, 1);
            case PROD -> Math.pow(Math.max(x.bound(), 1), n);
            default -> x.bound();
        };
        int frac = switch (op) {
            case SUM, MAX, MIN -> x.frac();
            case PROD -> x.exact() ? (int) (x.frac() * n) : -1;
            default -> -1;
        };
        long[] args2 = args.stream().mapToLong(Long::longValue).toArray();
        result(op, new int[]{x.id()}, args2, new Scalar[0], null,
                x.with(out, shape.stream().mapToLong(Long::longValue).toArray(), b, frac, x.specials(), newId()));
        return true;
    }

    boolean argReduction(FuzzOp op) {
        Facts x = pick(f -> f.exact() && f.numel() > 0);
        if (x == null) return false;
        if (x.rank() == 0 || r.nextInt(3) == 0) {
            result(op, new int[]{x.id()}, new long[0], new Scalar[0], null,
                    x.with(DType.I64, new long[0], x.numel(), 0, false, newId()));
            return true;
        }
        int d = r.nextInt(x.rank());
        boolean keep = r.nextBoolean();
        long[] shape = keep ? x.shape() : remove(x.shape(), d);
        if (keep) shape[d] = 1;
        result(op, new int[]{x.id()}, new long[]{keep ? 1 : 0, d - (r.nextBoolean() ? x.rank() : 0)},
                new Scalar[0], null, x.with(DType.I64, shape, x.shape()[d], 0, false, newId()));
        return true;
    }

    boolean softmax(FuzzOp op) {
        Facts x = pick(f -> f.dtype().isFloating() && !f.specials() && f.bound() < 1e4);
        if (x == null) return false;
        int rank = Math.max(1, x.rank());
        long d = r.nextInt(rank) - (r.nextBoolean() ? rank : 0);
        double b = op == FuzzOp.SOFTMAX ? 1 : 2 * x.bound() + 10;
        result(op, new int[]{x.id()}, new long[]{d}, new Scalar[0], null, x.with(x.dtype(), x.shape(), b, -1, false, newId()));
        return true;
    }

    boolean norm(FuzzOp op) {
        boolean layer = op == FuzzOp.LAYER_NORM;
        Facts x = pick(f -> f.dtype().isFloating() && !f.specials() && f.rank() > 0 && (!layer || f.exact())
                && f.bound() < 1e4);
        if (x == null) return false;
        int k = 1 + r.nextInt(Math.min(x.rank(), 3));
        long[] normalized = Arrays.copyOfRange(x.shape(), x.rank() - k, x.rank());
        List<Integer> in = new ArrayList<>(List.of(x.id()));
        int params = r.nextInt(layer ? 3 : 2);
        for (int i = 0; i < params; i++) in.add(input(x.dtype(), normalized, Values.GRID, 0).id());
        double eps = layer ? (r.nextBoolean() ? 1e-3 : 0.1) : (r.nextBoolean() ? 1e-6 : 1e-2);
        double b = Math.sqrt(FuzzInputs.numel(normalized) + 1) * 4 + 4;
        result(op, in.stream().mapToInt(Integer::intValue).toArray(), new long[]{k}, new Scalar[]{Scalar.of(eps)},
                null, x.with(x.dtype(), x.shape(), b, -1, false, newId()));
        return true;
    }

    boolean matmul(FuzzOp op) {
        boolean bmm = op == FuzzOp.BMM;
        Facts a = pick(f -> f.dtype() != DType.BOOL && !f.specials() && f.bound() < 1e4
                && (bmm ? f.rank() == 3 : f.rank() >= 1 && f.rank() <= 4));
        if (a == null) return false;
        long[] as = a.shape();
        long k = as[as.length - 1];
        long m = 1 + r.nextInt(8);
        long[] bs;
        if (bmm) bs = new long[]{as[0], k, m};
        else {
            int roll = r.nextInt(4);
            if (roll == 0) bs = new long[]{k};
            else if (roll == 1 || as.length <= 2) bs = new long[]{k, m};
            else {
                long[] batch = Arrays.copyOfRange(as, 0, as.length - 2);
                for (int i = 0; i < batch.length; i++) if (r.nextInt(3) == 0) batch[i] = 1;
                bs = Arrays.copyOf(batch, batch.length + 2);
                bs[batch.length] = k;
                bs[batch.length + 1] = m;
            }
        }
        Facts b = input(a.dtype(), bs, Values.GRID, 0);
        long[] shape = matmulShape(as, bs);
        if (shape == null || !fitsCap(shape)) return false;
        double bound = a.bound() * b.bound() * Math.max(k, 1);
        int frac = a.exact() ? a.frac() + b.frac() : -1;
        result(op, new int[]{a.id(), b.id()}, new long[0], new Scalar[0], null,
                a.with(a.dtype(), shape, bound, frac, false, newId()));
        return true;
    }

    static long[] matmulShape(long[] as, long[] bs) {
        long[] a2 = as.length == 1 ? new long[]{1, as[0]} : as;
        long[] b2 = bs.length == 1 ? new long[]{bs[0], 1} : bs;
        long[] batch = Facts.broadcast(Arrays.copyOf(a2, a2.length - 2), Arrays.copyOf(b2, b2.length - 2));
        if (batch == null) return null;
        List<Long> out = new ArrayList<>();
        for (long v : batch) out.add(v);
        if (as.length > 1) out.add(a2[a2.length - 2]);
        if (bs.length > 1) out.add(b2[b2.length - 1]);
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
