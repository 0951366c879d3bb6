package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.fuzz.FuzzInputs.Style;
import dev.gpuos.tensor.fuzz.FuzzInputs.Values;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * Random programs of 3-12 ops (plus the inputs they need) from a seed. Every step is valid for the API by
 * construction (the generator tracks dtypes and shapes in {@link Facts}), and values stay where two correct
 * backends agree within tolerance:
 * <ul>
 *   <li>inputs are short binary fractions in [-4, 4] (see {@link FuzzInputs}); some hold NaN, +-inf and -0.0;</li>
 *   <li>ops that jump take only exact operands (see {@link Facts}); divisors are fresh inputs or scalars with
 *       |v| &ge; 0.5; log, sqrt and rsqrt only see exact values, so zeros are real zeros;</li>
 *   <li>magnitudes are bounded: exp takes |x| &le; 10, pow exponents are in {-1, 0, 0.5, 1.5, 2, 3} on bases up
 *       to 16, prod reduces at most 8 elements, mul stops growing past 1e6;</li>
 *   <li>softmax, norms and matmul see no NaN/inf; layer_norm uses eps &ge; 1e-3 on exact inputs, so a row with
 *       (nearly) equal values cannot turn a last-bit difference of its mean into a visible one;</li>
 *   <li>tensors hold at most {@value #MAX_NUMEL} elements; elementwise ops often continue the latest result,
 *       so chains long enough to fuse occur, and syncs fall at random points between steps.</li>
 * </ul>
 */
public final class ProgramGenerator {
    static final int MAX_NUMEL = 4096;
    private static final long[] SIZES = {1, 1, 2, 3, 4, 5, 7, 8, 13, 16};
    private static final DType[] DTYPES = {DType.F32, DType.F32, DType.F32, DType.F32, DType.F16, DType.BF16,
            DType.F64, DType.I32, DType.I64, DType.BOOL};
    private static final FuzzOp[] BINARY = {FuzzOp.ADD, FuzzOp.SUB, FuzzOp.MUL, FuzzOp.DIV, FuzzOp.FLOOR_DIVIDE,
            FuzzOp.REMAINDER, FuzzOp.POW, FuzzOp.MAXIMUM, FuzzOp.MINIMUM, FuzzOp.EQ, FuzzOp.NE, FuzzOp.LT,
            FuzzOp.LE, FuzzOp.GT, FuzzOp.GE};
    private static final FuzzOp[] UNARY = {FuzzOp.NEG, FuzzOp.ABS, FuzzOp.RELU, FuzzOp.EXP, FuzzOp.LOG, FuzzOp.SQRT,
            FuzzOp.RSQRT, FuzzOp.SIN, FuzzOp.COS, FuzzOp.TANH, FuzzOp.SIGMOID, FuzzOp.GELU, FuzzOp.GELU_TANH,
            FuzzOp.SILU, FuzzOp.HARDSIGMOID, FuzzOp.HARDSWISH, FuzzOp.LEAKY_RELU, FuzzOp.ELU, FuzzOp.SOFTPLUS};
    private static final FuzzOp[] VIEWS = {FuzzOp.TRANSPOSE, FuzzOp.PERMUTE, FuzzOp.NARROW, FuzzOp.SLICE,
            FuzzOp.SELECT, FuzzOp.EXPAND, FuzzOp.UNSQUEEZE, FuzzOp.SQUEEZE, FuzzOp.RESHAPE, FuzzOp.CONTIGUOUS};
    private static final FuzzOp[] OTHERS = {FuzzOp.SUM, FuzzOp.MEAN, FuzzOp.PROD, FuzzOp.MAX, FuzzOp.MIN,
            FuzzOp.ARGMAX, FuzzOp.ARGMIN, FuzzOp.SOFTMAX, FuzzOp.LOG_SOFTMAX, FuzzOp.LAYER_NORM, FuzzOp.RMS_NORM,
            FuzzOp.MATMUL, FuzzOp.BMM, FuzzOp.INDEX_SELECT, FuzzOp.CAT, FuzzOp.CLAMP, FuzzOp.WHERE, FuzzOp.CAST};

    /** The program of {@code seed}; the same on every machine and every run. */
    public FuzzProgram generate(long seed) {
        return new Builder(new SplittableRandom(seed)).build(seed);
    }

    private static final class Builder {
        final SplittableRandom r;
        final List<FuzzStep> steps = new ArrayList<>();
        final List<Facts> live = new ArrayList<>();
        int nextId;

        Builder(SplittableRandom r) { this.r = r; }

        FuzzProgram build(long seed) {
            int target = 3 + r.nextInt(10);
            int made = 0;
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

        void sync() {
            if (live.isEmpty() || r.nextBoolean()) add(-1, FuzzOp.SYNC, new int[0], new long[0], new Scalar[0], null);
            else add(-1, FuzzOp.SYNC, new int[]{any().id()}, new long[0], new Scalar[0], null);
        }

        // --- pool -----------------------------------------------------------------------------------------------

        void add(int out, FuzzOp op, int[] in, long[] args, Scalar[] scalars, DType dtype) {
            steps.add(new FuzzStep(out, op, in, args, scalars, dtype));
        }

        Facts result(FuzzOp op, int[] in, long[] args, Scalar[] scalars, DType dtype, Facts facts) {
            add(facts.id(), op, in, args, scalars, dtype);
            live.add(facts);
            return facts;
        }

        Facts input(DType t, long[] shape, Values kind, long bound) {
            int id = nextId++;
            long[] args = new long[4 + shape.length];
            args[0] = r.nextLong();
            args[1] = r.nextInt(Style.values().length);
            args[2] = kind.ordinal();
            args[3] = bound;
            System.arraycopy(shape, 0, args, 4, shape.length);
            double b = t == DType.BOOL ? 1 : kind == Values.INDEX ? bound : t.isFloating() ? 4 : 6;
            int frac = t.isFloating() ? 3 : 0;
            boolean specials = kind == Values.SPECIALS && t.isFloating();
            return result(FuzzOp.INPUT, new int[0], args, new Scalar[0], t, new Facts(id, t, shape, b, frac, specials));
        }

        Facts freshInput() {
            DType t = DTYPES[r.nextInt(DTYPES.length)];
            return input(t, randomShape(), r.nextInt(5) == 0 ? Values.SPECIALS : Values.GRID, 0);
        }

        /** Most of the time the latest tensor (chains fuse), else any live one; a fresh input if none fits. */
        Facts pick(Predicate<Facts> ok) {
            if (!live.isEmpty() && r.nextInt(10) < 6 && ok.test(live.getLast())) return live.getLast();
            List<Facts> fits = live.stream().filter(ok).toList();
            if (!fits.isEmpty() && r.nextInt(5) != 0) return fits.get(r.nextInt(fits.size()));
            for (int i = 0; i < 8; i++) {
                Facts f = freshInput();
                if (ok.test(f)) return f;
            }
            return null;
        }

        Facts any() { return live.get(r.nextInt(live.size())); }

        long[] randomShape() {
            int rank = new int[]{0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4}[r.nextInt(13)];
            long[] s = new long[rank];
            for (int i = 0; i < rank; i++) s[i] = r.nextInt(40) == 0 ? 0 : SIZES[r.nextInt(SIZES.length)];
            while (FuzzInputs.numel(s) > 1024) s[r.nextInt(rank)] = 1 + r.nextInt(3);
            return s;
        }

        /** A shape that broadcasts with {@code xs} both ways (it may stretch x's size-1 dimensions). */
        long[] partnerShape(long[] xs) {
            if (r.nextInt(3) == 0) return xs.clone();
            int rank = r.nextInt(xs.length + 2);
            long[] s = new long[rank];
            for (int i = 0; i < rank; i++) {
                int xi = i - (rank - xs.length);
                if (xi < 0) s[i] = 1 + r.nextInt(3);
                else if (xs[xi] == 1) s[i] = r.nextBoolean() ? 1 : SIZES[r.nextInt(SIZES.length)];
                else s[i] = r.nextInt(4) == 0 ? 1 : xs[xi];
            }
            return s;
        }

        /** An operand for x: a live tensor that broadcasts with it, else a fresh input. */
        Facts partner(Facts x, Predicate<Facts> ok, Values kind, DType preferred) {
            if (kind == Values.GRID && r.nextBoolean()) {
                List<Facts> fits = live.stream().filter(f -> ok.test(f) && fitsCap(Facts.broadcast(x.shape(), f.shape()))).toList();
                if (!fits.isEmpty()) return fits.get(r.nextInt(fits.size()));
            }
            DType t = preferred != null && r.nextInt(3) != 0 ? preferred : DTYPES[r.nextInt(DTYPES.length)];
            Facts f = input(t, partnerShape(x.shape()), kind, 0);
            return ok.test(f) && fitsCap(Facts.broadcast(x.shape(), f.shape())) ? f : null;
        }

        static boolean fitsCap(long[] shape) { return shape != null && FuzzInputs.numel(shape) <= MAX_NUMEL; }

        int newId() { return nextId++; }

        Scalar gridScalar(boolean integral, boolean nonzero) {
            if (integral || r.nextInt(4) == 0) {
                long v = r.nextLong(nonzero ? 1 : -6, 7);
                return Scalar.of(nonzero && r.nextBoolean() ? -v : v);
            }
            double v = (nonzero ? r.nextInt(4, 33) : r.nextInt(-32, 33)) / 8.0;
            return Scalar.of(nonzero && r.nextBoolean() ? -v : v);
        }

        // --- steps ------------------------------------------------------------------------------------------------

        boolean tryStep(FuzzOp op) {
            return switch (op.kind()) {
                case ELEMENTWISE -> op == FuzzOp.CLAMP ? clamp() : op == FuzzOp.WHERE ? where()
                        : op == FuzzOp.CAST ? cast() : Arrays.asList(BINARY).contains(op) ? binary(op) : unary(op);
                case VIEW -> op == FuzzOp.INDEX_SELECT ? indexSelect() : op == FuzzOp.CAT ? cat() : view(op);
                case ACCUMULATING -> accumulating(op);
                case INPUT, SYNC -> false;
            };
        }

        boolean binary(FuzzOp op) {
            boolean jumps = switch (op) {
                case FLOOR_DIVIDE, REMAINDER, POW, EQ, NE, LT, LE, GT, GE -> true;
                default -> false;
            };
            boolean divisor = op == FuzzOp.DIV || op == FuzzOp.FLOOR_DIVIDE || op == FuzzOp.REMAINDER;
            Facts x = pick(f -> (!jumps || f.exact()) && f.bound() < 1e6 && (op != FuzzOp.SUB || f.dtype() != DType.BOOL));
            if (x == null) return false;
            Facts y = null;
            Scalar s = null;
            if (op == FuzzOp.POW) {
                s = powExponent(x);
                if (s == null) return false;
            } else if (r.nextInt(10) < 3) {
                s = gridScalar(!x.dtype().isFloating() && r.nextBoolean(), divisor);
            } else {
                y = partner(x, f -> (!jumps || f.exact()) && f.bound() < 1e6, divisor ? Values.NONZERO : Values.GRID,
                        x.dtype());
                if (y == null) return false;
            }
            Facts[] tensors = y == null ? new Facts[]{x} : new Facts[]{x, y};
            Scalar[] scalars = s == null ? new Scalar[0] : new Scalar[]{s};
            DType promoted = Facts.resultType(tensors, scalars);
            if (promoted == DType.BOOL && switch (op) {
                case SUB, DIV, FLOOR_DIVIDE, REMAINDER, POW -> true;
                default -> false;
            }) return false;
            double yb = y != null ? y.bound() : Facts.scalarBound(s);
            int yf = y != null ? y.frac() : Facts.scalarFrac(s);
            boolean sp = x.specials() || (y != null && y.specials());
            int both = x.exact() && yf >= 0 ? Math.max(x.frac(), yf) : -1;
            long[] shape = y == null ? x.shape() : Facts.broadcast(x.shape(), y.shape());
            DType out = promoted;
            double bound;
            int frac;
            switch (op) {
                case ADD, SUB -> { bound = x.bound() + yb; frac = both; }
                case MUL -> { bound = x.bound() * yb; frac = both < 0 ? -1 : x.frac() + yf; }
                case MAXIMUM, MINIMUM -> { bound = Math.max(x.bound(), yb); frac = both; }
                case DIV -> {
                    out = promoted.isFloating() ? promoted : DType.F32;
                    bound = x.bound() * 2;
                    frac = -1;
                }
                case FLOOR_DIVIDE -> { bound = x.bound() * 2 + 1; frac = both < 0 ? -1 : 0; }
                case REMAINDER -> { bound = yb; frac = both; }
                case POW -> {
                    double e = s.doubleValue();
                    bound = e <= 0 ? Math.scalb(1.0, Math.max(x.frac(), 0) + 1) : Math.pow(Math.max(x.bound(), 1), e);
                    frac = !promoted.isFloating() && s.kind() == DType.I64 ? 0 : -1;
                    sp |= e < 0 || e != Math.rint(e);
                }
                default -> { out = DType.BOOL; bound = 1; frac = 0; }
            }
            if (bound > 1e7) return false;
            int[] in = y == null ? new int[]{x.id()} : new int[]{x.id(), y.id()};
            result(op, in, new long[0], scalars, null, x.with(out, shape, bound, frac, sp, newId()));
            return true;
        }

        Scalar powExponent(Facts x) {
            if (!x.dtype().isFloating()) {
                if (x.bound() > 16) return null;
                return r.nextInt(4) == 0 ? Scalar.of(new double[]{2.0, 0.5}[r.nextInt(2)]) : Scalar.of((long) r.nextInt(0, 4));
            }
            double[] exps = {2, 3, 0.5, -1, 1.5, 0};
            double e = exps[r.nextInt(exps.length)];
            if (x.bound() > (e >= 3 ? 16 : 64)) return null;
            return r.nextInt(4) == 0 && e == Math.rint(e) ? Scalar.of((long) e) : Scalar.of(e);
        }

        boolean unary(FuzzOp op) {
            boolean floatOnly = switch (op) {
                case GELU, GELU_TANH, SILU, HARDSIGMOID, HARDSWISH, LEAKY_RELU, ELU, SOFTPLUS -> true;
                default -> false;
            };
            boolean needsExact = op == FuzzOp.LOG || op == FuzzOp.SQRT || op == FuzzOp.RSQRT;
            double maxBound = op == FuzzOp.EXP ? 10 : op == FuzzOp.SIN || op == FuzzOp.COS ? 100 : 1e6;
            boolean keepsInt = op == FuzzOp.NEG || op == FuzzOp.ABS || op == FuzzOp.RELU;
            Facts x = pick(f -> (!floatOnly || f.dtype().isFloating()) && (!needsExact || f.exact())
                    && f.bound() <= maxBound && (!keepsInt || f.dtype() != DType.BOOL));
            if (x == null) return false;
            DType out = keepsInt || x.dtype().isFloating() ? x.dtype() : DType.F32;
            double b = x.bound();
            Scalar[] scalars = switch (op) {
                case LEAKY_RELU -> new Scalar[]{Scalar.of(r.nextBoolean() ? 0.01 : 0.2)};
                case ELU -> new Scalar[]{Scalar.of(r.nextBoolean() ? 1.0 : 0.5)};
                case SOFTPLUS -> r.nextBoolean() ? new Scalar[]{Scalar.of(1.0), Scalar.of(20.0)}
                        : new Scalar[]{Scalar.of(2.0), Scalar.of(3.0)};
                default -> new Scalar[0];
            };
            double bound = switch (op) {
                case NEG, ABS, RELU -> b;
                case EXP -> Math.exp(b);
                case LOG -> 20;
                case SQRT -> Math.sqrt(b);
                case RSQRT -> Math.scalb(1.0, x.frac() / 2 + 2);
                case SIN, COS, TANH, SIGMOID, HARDSIGMOID -> 1;
                default -> b + 1;
            };
            int frac = keepsInt ? x.frac() : -1;
            boolean sp = x.specials() || needsExact;
            result(op, new int[]{x.id()}, new long[0], scalars, null, x.with(out, x.shape(), bound, frac, sp, newId()));
            return true;
        }

        boolean clamp() {
            Facts x = pick(f -> f.dtype() != DType.BOOL);
            if (x == null) return false;
            if (r.nextInt(10) < 7) {
                boolean integral = !x.dtype().isFloating();
                Scalar lo = gridScalar(integral, false), hi = gridScalar(integral, false);
                if (r.nextInt(5) != 0 && lo.doubleValue() > hi.doubleValue()) { Scalar t = lo; lo = hi; hi = t; }
                Scalar[] sc = {lo, hi};
                if (lo.kind() != hi.kind()) return false;
                DType out = Facts.resultType(new Facts[]{x}, sc);
                int f = x.exact() && Facts.scalarFrac(lo) >= 0 && Facts.scalarFrac(hi) >= 0
                        ? Math.max(x.frac(), Math.max(Facts.scalarFrac(lo), Facts.scalarFrac(hi))) : -1;
                result(FuzzOp.CLAMP, new int[]{x.id()}, new long[0], sc, null,
                        x.with(out, x.shape(), Math.max(x.bound(), 6), f, x.specials(), newId()));
                return true;
            }
            Facts lo = partner(x, f -> f.dtype() != DType.BOOL, Values.GRID, x.dtype());
            if (lo == null) return false;
            Facts hi = partner(x, f -> f.dtype() != DType.BOOL, Values.GRID, x.dtype());
            if (hi == null) return false;
            long[] shape = Facts.broadcast(Facts.broadcast(x.shape(), lo.shape()), hi.shape());
            if (!fitsCap(shape)) return false;
            DType out = Facts.resultType(new Facts[]{x, lo, hi}, new Scalar[0]);
            int f = x.exact() && lo.exact() && hi.exact() ? Math.max(x.frac(), Math.max(lo.frac(), hi.frac())) : -1;
            double b = Math.max(x.bound(), Math.max(lo.bound(), hi.bound()));
            result(FuzzOp.CLAMP, new int[]{x.id(), lo.id(), hi.id()}, new long[0], new Scalar[0], null,
                    x.with(out, shape, b, f, x.specials() || lo.specials() || hi.specials(), newId()));
            return true;
        }

        boolean where() {
            Facts cond = pick(f -> f.dtype() == DType.BOOL);
            if (cond == null) return false;
            Facts x = null, y = null;
            List<Scalar> sc = new ArrayList<>();
            int roll = r.nextInt(4);
            if (roll == 0) {
                boolean integral = r.nextBoolean();
                sc.add(gridScalar(integral, false));
                sc.add(gridScalar(integral, false));
                if (sc.get(0).kind() != sc.get(1).kind()) return false;
            } else {
                x = partner(cond, f -> f.dtype() != DType.BOOL || r.nextInt(4) == 0, Values.GRID, null);
                if (x == null) return false;
                if (roll == 1) sc.add(gridScalar(!x.dtype().isFloating(), false));
                else {
                    y = partner(cond, f -> true, Values.GRID, x.dtype());
                    if (y == null) return false;
                }
            }
            long[] shape = cond.shape();
            for (Facts f : new Facts[]{x, y}) if (f != null) shape = Facts.broadcast(shape, f.shape());
            if (!fitsCap(shape)) return false;
            List<Facts> vals = new ArrayList<>();
            if (x != null) vals.add(x);
            if (y != null) vals.add(y);
            Scalar[] scalars = sc.toArray(Scalar[]::new);
            DType out = Facts.resultType(vals.toArray(Facts[]::new), scalars);
            double b = 6;
            int frac = 3;
            boolean sp = false;
            for (Facts f : vals) {
                b = Math.max(b, f.bound());
                frac = f.exact() && frac >= 0 ? Math.max(frac, f.frac()) : -1;
                sp |= f.specials();
            }
            int[] in = x == null ? new int[]{cond.id()} : y == null ? new int[]{cond.id(), x.id()}
                    : new int[]{cond.id(), x.id(), y.id()};
            result(FuzzOp.WHERE, in, new long[0], scalars, null, cond.with(out, shape, b, frac, sp, newId()));
            return true;
        }

        boolean cast() {
            Facts x = pick(f -> true);
            if (x == null) return false;
            DType t = DTYPES[r.nextInt(DTYPES.length)];
            // Rounded values or NaN/inf cast to integers or BOOL jump (and NaN to an integer is undefined in C).
            if (!t.isFloating() && (!x.exact() || x.specials())) return false;
            if (t == DType.I32 && x.bound() > 1e9) return false;
            double b = t == DType.BOOL ? 1 : x.bound();
            int frac = x.frac() < 0 ? -1 : t.isFloating() ? x.frac() : 0;
            result(FuzzOp.CAST, new int[]{x.id()}, new long[0], new Scalar[0], t, x.with(t, x.shape(), b, frac, x.specials(), newId()));
            return true;
        }

        boolean view(FuzzOp op) {
            Facts x = pick(f -> switch (op) {
                case TRANSPOSE, PERMUTE, UNSQUEEZE, SQUEEZE, RESHAPE, CONTIGUOUS, EXPAND -> true;
                case NARROW, SLICE -> f.rank() > 0;
                case SELECT -> f.rank() > 0 && f.numel() > 0;
                default -> false;
            });
            if (x == null) return false;
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

        static long[] remove(long[] s, int d) {
            long[] out = new long[s.length - 1];
            for (int i = 0, j = 0; i < s.length; i++) if (i != d) out[j++] = s[i];
            return out;
        }

        static long[] insert(long[] s, int d, long v) {
            long[] out = new long[s.length + 1];
            for (int i = 0, j = 0; i < out.length; i++) out[i] = i == d ? v : s[j++];
            return out;
        }
    }
}
