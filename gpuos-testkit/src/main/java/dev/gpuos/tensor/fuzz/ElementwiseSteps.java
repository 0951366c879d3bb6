package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.fuzz.FuzzInputs.Values;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Elementwise steps: binary ops with tensor or scalar operands, unary functions, clamp, where and casts. */
abstract class ElementwiseSteps extends ProgramPool {
    static final FuzzOp[] BINARY = {FuzzOp.ADD, FuzzOp.SUB, FuzzOp.MUL, FuzzOp.DIV, FuzzOp.FLOOR_DIVIDE,
            FuzzOp.REMAINDER, FuzzOp.POW, FuzzOp.MAXIMUM, FuzzOp.MINIMUM, FuzzOp.EQ, FuzzOp.NE, FuzzOp.LT,
            FuzzOp.LE, FuzzOp.GT, FuzzOp.GE};

    ElementwiseSteps(SplittableRandom r) { super(r); }

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
                && f.bound() <= maxBound && (!keepsInt || f.dtype() != DType.BOOL)
                && (op != FuzzOp.RSQRT || !zeroSignOpen.contains(f.id())));
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
        // One in four casts prefers a tensor holding NaN or infinities: their conversion to integers is defined.
        Facts x = r.nextInt(4) == 0 ? pick(f -> f.specials() && f.exact()) : pick(f -> true);
        if (x == null) return false;
        DType t = DTYPES[r.nextInt(DTYPES.length)];
        // Rounded values cast to integers or BOOL jump. NaN and infinities are defined (issue 15: NaN -> 0,
        // saturation at the target's range, on every backend), so exact tensors holding them may be cast.
        if (!t.isFloating() && !x.exact()) return false;
        if (t == DType.I32 && x.bound() > 1e9) return false;
        boolean saturated = x.specials() && t.isIntegral();
        double b = t == DType.BOOL ? 1 : saturated ? (t == DType.I32 ? 0x1p31 : 0x1p63) : x.bound();
        int frac = x.frac() < 0 ? -1 : t.isFloating() ? x.frac() : 0;
        boolean specials = x.specials() && t.isFloating();
        result(FuzzOp.CAST, new int[]{x.id()}, new long[0], new Scalar[0], t, x.with(t, x.shape(), b, frac, specials, newId()));
        return true;
    }
}
