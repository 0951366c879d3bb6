package dev.gpuos.tensor;

import java.util.List;

/**
 * Independent reference for elementwise ops: PyTorch's dtype rules restated from its documentation, and every
 * function written from its mathematical definition in double precision.
 */
final class RefElementwise {
    private RefElementwise() {}

    enum Rule { KEEP, TRUE_DIV, COMPARE, FLOAT_MATH, FLOAT_ONLY }

    @FunctionalInterface interface F3 { double f(double a, double b, double c); }

    @FunctionalInterface interface Call { Tensor call(Tensor x, Operand[] rest); }

    record Op(String name, int arity, Rule rule, boolean boolOk, F3 real, F3 integral, Call call) {}

    /** An operand seen by the reference: a tensor's logical values or a scalar of kind BOOL, I64 or F64. */
    record RefOperand(RefArray array, double scalar, DType scalarKind) {
        boolean isScalar() { return array == null; }
    }

    static int category(DType t) { return t == DType.BOOL ? 0 : t.isFloating() ? 2 : 1; }

    static DType promote(DType a, DType b) {
        if (a == null) return b;
        if (b == null) return a;
        if (a == b) return a;
        if (category(a) != category(b)) return category(a) > category(b) ? a : b;
        if (category(a) == 1) return DType.I64;          // I32 with I64
        if (a == DType.F64 || b == DType.F64) return DType.F64;
        return DType.F32;                                 // any two different of F16, BF16, F32
    }

    /** torch.result_type: dimensioned tensors first; zero-dim tensors, then scalars, only if of a higher category. */
    static DType resultType(List<RefOperand> ops) {
        DType dims = null, zero = null, scalars = null;
        for (RefOperand o : ops) {
            if (o.isScalar()) scalars = promote(scalars, o.scalarKind == DType.F64 ? DType.F32 : o.scalarKind);
            else if (o.array.rank() == 0) zero = promote(zero, o.array.dtype);
            else dims = promote(dims, o.array.dtype);
        }
        DType result = dims;
        for (DType lower : new DType[]{zero, scalars}) {
            if (lower == null) continue;
            if (result == null) result = lower;
            else if (category(lower) > category(result)) result = promote(result, lower);
        }
        return result;
    }

    static double erf(double x) {
        // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)): all terms positive, no cancellation.
        double ax = Math.abs(x);
        if (ax > 6) return Math.signum(x);
        double term = ax, sum = ax;
        for (int n = 1; n < 400 && term > 1e-18 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum;
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }

    static double nanMax(double a, double b) { return Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b); }

    static double nanMin(double a, double b) { return Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b); }

    static double cPow(double a, double b) {
        if (b == 0 || a == 1) return 1;
        if (a == -1 && Double.isInfinite(b)) return 1;
        return Math.pow(a, b);
    }

    static double intPow(double base, double exp) {
        long a = (long) base, e = (long) exp;
        if (e < 0) return a == 1 ? 1 : a == -1 ? (e % 2 == 0 ? 1 : -1) : 0;
        long r = 1;
        for (long i = 0; i < e; i++) r *= a;
        return r;
    }

    static double pyMod(double a, double b) {
        double m = a % b;
        return (m != 0 && (m < 0) != (b < 0)) ? m + b : m;
    }

    /** PyTorch's div_floor_floating, which defines floor_divide on floats (including inf and NaN cases). */
    static double torchFloorDivide(double a, double b, double unused) {
        if (b == 0) return a / b;
        double mod = a % b;
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;
        if (div == 0) return Math.copySign(0.0, a / b);
        double floor = Math.floor(div);
        return div - floor > 0.5 ? floor + 1 : floor;
    }

    static double hardsigmoid(double x) { return x <= -3 ? 0 : x >= 3 ? 1 : x / 6 + 0.5; }

    private static Op bin(String name, Rule rule, boolean boolOk, F3 real, F3 integral, java.util.function.BiFunction<Tensor, Tensor, Tensor> t,
                          java.util.function.BiFunction<Tensor, Double, Tensor> d, java.util.function.BiFunction<Tensor, Long, Tensor> l) {
        return new Op(name, 2, rule, boolOk, real, integral, (x, rest) -> switch (rest[0]) {
            case Tensor other -> t.apply(x, other);
            case Scalar s when s.kind() == DType.F64 -> d.apply(x, s.doubleValue());
            case Scalar s when s.kind() == DType.I64 -> l.apply(x, s.longValue());
            case Scalar s -> throw new AssertionError("no fluent overload for " + s.kind());
        });
    }

    private static Op un(String name, Rule rule, boolean boolOk, F3 real, F3 integral, java.util.function.Function<Tensor, Tensor> f) {
        return new Op(name, 1, rule, boolOk, real, integral, (x, rest) -> f.apply(x));
    }

    static final List<Op> OPS = List.of(
            bin("add", Rule.KEEP, true, (a, b, c) -> a + b, (a, b, c) -> a + b, Tensor::add, Tensor::add, Tensor::add),
            bin("sub", Rule.KEEP, false, (a, b, c) -> a - b, (a, b, c) -> a - b, Tensor::sub, Tensor::sub, Tensor::sub),
            bin("mul", Rule.KEEP, true, (a, b, c) -> a * b, (a, b, c) -> a * b, Tensor::mul, Tensor::mul, Tensor::mul),
            bin("div", Rule.TRUE_DIV, false, (a, b, c) -> a / b, null, Tensor::div, Tensor::div, Tensor::div),
            bin("floor_divide", Rule.KEEP, false, RefElementwise::torchFloorDivide,
                    (a, b, c) -> b == 0 ? 0 : Math.floorDiv((long) a, (long) b), Tensor::floorDivide, Tensor::floorDivide, Tensor::floorDivide),
            bin("remainder", Rule.KEEP, false, (a, b, c) -> pyMod(a, b), (a, b, c) -> b == 0 ? 0 : Math.floorMod((long) a, (long) b),
                    Tensor::remainder, Tensor::remainder, Tensor::remainder),
            bin("pow", Rule.KEEP, false, (a, b, c) -> cPow(a, b), RefElementwise::intPowChecked, Tensor::pow, Tensor::pow, Tensor::pow),
            bin("eq", Rule.COMPARE, true, (a, b, c) -> a == b ? 1 : 0, (a, b, c) -> a == b ? 1 : 0, Tensor::eq, Tensor::eq, Tensor::eq),
            bin("ne", Rule.COMPARE, true, (a, b, c) -> a != b ? 1 : 0, (a, b, c) -> a != b ? 1 : 0, Tensor::ne, Tensor::ne, Tensor::ne),
            bin("lt", Rule.COMPARE, true, (a, b, c) -> a < b ? 1 : 0, (a, b, c) -> a < b ? 1 : 0, Tensor::lt, Tensor::lt, Tensor::lt),
            bin("le", Rule.COMPARE, true, (a, b, c) -> a <= b ? 1 : 0, (a, b, c) -> a <= b ? 1 : 0, Tensor::le, Tensor::le, Tensor::le),
            bin("gt", Rule.COMPARE, true, (a, b, c) -> a > b ? 1 : 0, (a, b, c) -> a > b ? 1 : 0, Tensor::gt, Tensor::gt, Tensor::gt),
            bin("ge", Rule.COMPARE, true, (a, b, c) -> a >= b ? 1 : 0, (a, b, c) -> a >= b ? 1 : 0, Tensor::ge, Tensor::ge, Tensor::ge),
            bin("clamp_min", Rule.KEEP, true, (a, b, c) -> nanMax(a, b), (a, b, c) -> Math.max(a, b),
                    (x, y) -> x.maximum(y), Tensor::clampMin, Tensor::clampMin),
            bin("clamp_max", Rule.KEEP, true, (a, b, c) -> nanMin(a, b), (a, b, c) -> Math.min(a, b),
                    (x, y) -> x.minimum(y), Tensor::clampMax, Tensor::clampMax),
            un("neg", Rule.KEEP, false, (a, b, c) -> -a, (a, b, c) -> -a, Tensor::neg),
            un("abs", Rule.KEEP, false, (a, b, c) -> Math.abs(a), (a, b, c) -> Math.abs(a), Tensor::abs),
            un("relu", Rule.KEEP, false, (a, b, c) -> Double.isNaN(a) ? a : Math.max(a, 0), (a, b, c) -> Math.max(a, 0), Tensor::relu),
            un("exp", Rule.FLOAT_MATH, true, (a, b, c) -> Math.exp(a), null, Tensor::exp),
            un("log", Rule.FLOAT_MATH, true, (a, b, c) -> Math.log(a), null, Tensor::log),
            un("sqrt", Rule.FLOAT_MATH, true, (a, b, c) -> Math.sqrt(a), null, Tensor::sqrt),
            un("rsqrt", Rule.FLOAT_MATH, true, (a, b, c) -> 1 / Math.sqrt(a), null, Tensor::rsqrt),
            un("sin", Rule.FLOAT_MATH, true, (a, b, c) -> Math.sin(a), null, Tensor::sin),
            un("cos", Rule.FLOAT_MATH, true, (a, b, c) -> Math.cos(a), null, Tensor::cos),
            un("tanh", Rule.FLOAT_MATH, true, (a, b, c) -> Math.tanh(a), null, Tensor::tanh),
            un("sigmoid", Rule.FLOAT_MATH, true, (a, b, c) -> sigmoid(a), null, Tensor::sigmoid),
            un("gelu", Rule.FLOAT_ONLY, false, (a, b, c) -> a * 0.5 * (1 + erf(a / Math.sqrt(2))), null, Tensor::gelu),
            un("gelu_tanh", Rule.FLOAT_ONLY, false,
                    (a, b, c) -> 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * Math.pow(a, 3)))), null, Tensor::geluTanh),
            un("silu", Rule.FLOAT_ONLY, false, (a, b, c) -> a * sigmoid(a), null, Tensor::silu),
            un("hardsigmoid", Rule.FLOAT_ONLY, false, (a, b, c) -> hardsigmoid(a), null, Tensor::hardsigmoid),
            un("hardswish", Rule.FLOAT_ONLY, false, (a, b, c) -> a * hardsigmoid(a), null, Tensor::hardswish),
            un("leaky_relu", Rule.FLOAT_ONLY, false, (a, b, c) -> a > 0 ? a : 0.2 * a, null, x -> x.leakyRelu(0.2)),
            un("elu", Rule.FLOAT_ONLY, false, (a, b, c) -> a > 0 ? a : 1.5 * Math.expm1(a), null, x -> x.elu(1.5)),
            un("softplus", Rule.FLOAT_ONLY, false, (a, b, c) -> 2 * a > 3 ? a : Math.log1p(Math.exp(2 * a)) / 2, null,
                    x -> x.softplus(2, 3)),
            new Op("clamp", 3, Rule.KEEP, false, (a, b, c) -> nanMin(nanMax(a, b), c), (a, b, c) -> Math.min(Math.max(a, b), c),
                    (x, rest) -> x.clamp(rest[0], rest[1])),
            new Op("where", 3, Rule.KEEP, true, null, null, (x, rest) -> Tensor.where(x, rest[0], rest[1])));

    private static double intPowChecked(double a, double b, double c) { return intPow(a, b); }
}
