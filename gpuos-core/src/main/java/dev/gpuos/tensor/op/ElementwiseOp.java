package dev.gpuos.tensor.op;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.TypePromotion;
import dev.gpuos.tensor.UnsupportedDTypeException;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one definition of every elementwise op, shared by all backends: its name and arity, its dtype rule, the
 * CPU scalar implementations and the CUDA C expression a GPU code generator splices into fused kernels.
 *
 * <p><b>CUDA templates.</b> Operands are {@code a}, {@code b}, {@code c} (already converted to the node's
 * operand type and then to its compute type), op parameters are {@code p0}, {@code p1} (substituted as literals), and {@code T} is the compute type.
 * Templates are written with float math functions ({@code expf}); {@link #cudaExpression} strips the
 * {@code f} suffix for F64 compute. Helpers named {@code gpuos_*} are defined in {@link #CUDA_PRELUDE}. F16 and
 * BF16 load into float and store back rounded (the code generator converts at load and store), so the
 * expression never sees a 16-bit type, exactly like the CPU path.
 */
public enum ElementwiseOp {
    // --- binary arithmetic -------------------------------------------------------------------------------------
    ADD("add", 2, Rule.ARITHMETIC, true, (a, b, c, p) -> a + b, (a, b, c, p) -> a + b, "(a + b)"),
    SUB("sub", 2, Rule.ARITHMETIC, false, (a, b, c, p) -> a - b, (a, b, c, p) -> a - b, "(a - b)"),
    MUL("mul", 2, Rule.ARITHMETIC, true, (a, b, c, p) -> a * b, (a, b, c, p) -> a * b, "(a * b)"),
    /** True division: integer operands promote to F32, like Python 3 and torch.div. */
    DIV("div", 2, Rule.TRUE_DIVIDE, false, (a, b, c, p) -> a / b, null, "(a / b)"),
    FLOOR_DIVIDE("floor_divide", 2, Rule.ARITHMETIC, false, (a, b, c, p) -> ScalarMath.floorDivide(a, b),
            (a, b, c, p) -> ScalarMath.floorDivide(a, b), "gpuos_floor_divide(a, b)"),
    REMAINDER("remainder", 2, Rule.ARITHMETIC, false, (a, b, c, p) -> ScalarMath.remainder(a, b),
            (a, b, c, p) -> ScalarMath.remainder(a, b), "gpuos_remainder(a, b)"),
    POW("pow", 2, Rule.ARITHMETIC, false, (a, b, c, p) -> ScalarMath.pow(a, b),
            (a, b, c, p) -> ScalarMath.pow(a, b), "gpuos_pow(a, b)"),
    /** Elementwise max; a NaN in either operand gives NaN (torch.maximum). Also clamp_min. */
    MAXIMUM("maximum", 2, Rule.ARITHMETIC, true, (a, b, c, p) -> ScalarMath.maximum(a, b),
            (a, b, c, p) -> Math.max(a, b), "gpuos_max(a, b)"),
    MINIMUM("minimum", 2, Rule.ARITHMETIC, true, (a, b, c, p) -> ScalarMath.minimum(a, b),
            (a, b, c, p) -> Math.min(a, b), "gpuos_min(a, b)"),
    /** clamp(x, lo, hi) = minimum(maximum(x, lo), hi); NaN propagates; lo &gt; hi gives hi, like PyTorch. */
    CLAMP("clamp", 3, Rule.ARITHMETIC, false, (a, b, c, p) -> ScalarMath.minimum(ScalarMath.maximum(a, b), c),
            (a, b, c, p) -> Math.min(Math.max(a, b), c), "gpuos_min(gpuos_max(a, b), c)"),

    // --- comparisons: compute in the promoted type, result BOOL ----------------------------------------------
    EQ("eq", 2, Rule.COMPARISON, true, (a, b, c, p) -> a == b ? 1 : 0, (a, b, c, p) -> a == b ? 1 : 0, "(a == b)"),
    NE("ne", 2, Rule.COMPARISON, true, (a, b, c, p) -> a != b ? 1 : 0, (a, b, c, p) -> a != b ? 1 : 0, "(a != b)"),
    LT("lt", 2, Rule.COMPARISON, true, (a, b, c, p) -> a < b ? 1 : 0, (a, b, c, p) -> a < b ? 1 : 0, "(a < b)"),
    LE("le", 2, Rule.COMPARISON, true, (a, b, c, p) -> a <= b ? 1 : 0, (a, b, c, p) -> a <= b ? 1 : 0, "(a <= b)"),
    GT("gt", 2, Rule.COMPARISON, true, (a, b, c, p) -> a > b ? 1 : 0, (a, b, c, p) -> a > b ? 1 : 0, "(a > b)"),
    GE("ge", 2, Rule.COMPARISON, true, (a, b, c, p) -> a >= b ? 1 : 0, (a, b, c, p) -> a >= b ? 1 : 0, "(a >= b)"),

    // --- unary that keep integer dtypes ------------------------------------------------------------------------
    NEG("neg", 1, Rule.ARITHMETIC, false, (a, b, c, p) -> -a, (a, b, c, p) -> -a, "(-a)"),
    ABS("abs", 1, Rule.ARITHMETIC, false, (a, b, c, p) -> Math.abs(a), (a, b, c, p) -> Math.abs(a), "fabsf(a)",
            "(a < 0 ? -a : a)"),
    /** relu keeps NaN (a NaN is not below zero), like torch.relu. */
    RELU("relu", 1, Rule.ARITHMETIC, false, (a, b, c, p) -> a < 0 ? 0 : a, (a, b, c, p) -> a < 0 ? 0 : a,
            "(a < T(0) ? T(0) : a)"),

    // --- float math: integer and bool inputs promote to F32 --------------------------------------------------
    EXP("exp", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.exp(a), "expf(a)"),
    LOG("log", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.log(a), "logf(a)"),
    SQRT("sqrt", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.sqrt(a), "sqrtf(a)"),
    RSQRT("rsqrt", 1, Rule.FLOAT_MATH, (a, b, c, p) -> 1 / Math.sqrt(a), "rsqrtf(a)"),
    SIN("sin", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.sin(a), "sinf(a)"),
    COS("cos", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.cos(a), "cosf(a)"),
    TANH("tanh", 1, Rule.FLOAT_MATH, (a, b, c, p) -> Math.tanh(a), "tanhf(a)"),
    SIGMOID("sigmoid", 1, Rule.FLOAT_MATH, (a, b, c, p) -> ScalarMath.sigmoid(a), "(T(1) / (T(1) + expf(-a)))"),

    // --- activations: floating dtypes only (PyTorch rejects integer inputs) -----------------------------------
    /**
     * gelu with the exact erf form: x/2 * (1 + erf(x / sqrt 2)). The CUDA form uses 1 + erf(y) = erfc(-y), which
     * does not cancel for negative x (in float, 1 + erff(y) loses all digits below about -3).
     */
    GELU("gelu", 1, Rule.FLOAT_ONLY, (a, b, c, p) -> a * 0.5 * ScalarMath.erfc(-a * 0.7071067811865476),
            "(a * T(0.5) * erfcf(-a * T(0.70710678118654752440)))"),
    /**
     * gelu(approximate="tanh"): x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))). Every backend uses
     * (1 + tanh(y)) / 2 = 1 / (1 + exp(-2y)), which does not cancel for negative x (gelu likewise uses erfc), so
     * the CPU and the GPU agree in the tail, not only within tolerance: geluTanh(-8) is -3.1e-21 on both, where the
     * 1 + tanh form gives -0.0, and -inf times each differs (+inf against NaN; issue 15, GPU fuzz seed 24398).
     */
    GELU_TANH("gelu_tanh", 1, Rule.FLOAT_ONLY,
            (a, b, c, p) -> a / (1 + Math.exp(-1.5957691216057308 * (a + 0.044715 * a * a * a))),
            "(a / (T(1) + expf(T(-1.59576912160573071176) * (a + T(0.044715) * a * a * a))))"),
    SILU("silu", 1, Rule.FLOAT_ONLY, (a, b, c, p) -> a / (1 + Math.exp(-a)), "(a / (T(1) + expf(-a)))"),
    HARDSIGMOID("hardsigmoid", 1, Rule.FLOAT_ONLY,
            (a, b, c, p) -> ScalarMath.minimum(ScalarMath.maximum(a + 3, 0), 6) / 6,
            "(gpuos_min(gpuos_max(a + T(3), T(0)), T(6)) / T(6))"),
    HARDSWISH("hardswish", 1, Rule.FLOAT_ONLY,
            (a, b, c, p) -> a * ScalarMath.minimum(ScalarMath.maximum(a + 3, 0), 6) / 6,
            "(a * gpuos_min(gpuos_max(a + T(3), T(0)), T(6)) / T(6))"),
    /** p0 = negative slope. */
    LEAKY_RELU("leaky_relu", 1, Rule.FLOAT_ONLY, (a, b, c, p) -> a > 0 ? a : a * p[0], "(a > T(0) ? a : a * T(p0))"),
    /** p0 = alpha. */
    ELU("elu", 1, Rule.FLOAT_ONLY, (a, b, c, p) -> a > 0 ? a : p[0] * Math.expm1(a), "(a > T(0) ? a : T(p0) * expm1f(a))"),
    /** p0 = beta, p1 = threshold: linear where beta*x &gt; threshold, else log1p(exp(beta*x))/beta. */
    SOFTPLUS("softplus", 1, Rule.FLOAT_ONLY, (a, b, c, p) -> a * p[0] > p[1] ? a : Math.log1p(Math.exp(a * p[0])) / p[0],
            "((a * T(p0)) > T(p1) ? a : log1pf(expf(a * T(p0))) / T(p0))"),

    // --- selection and conversion ------------------------------------------------------------------------------
    /** where(cond, x, y): cond must be BOOL; the result type promotes x and y only. */
    WHERE("where", 3, Rule.WHERE, true, (a, b, c, p) -> a != 0 ? b : c, (a, b, c, p) -> a != 0 ? b : c,
            "(a != T(0) ? b : c)"),
    /** Conversion to the output dtype (also the copy behind contiguous()). The work happens at load and store. */
    CAST("cast", 1, Rule.CAST, true, (a, b, c, p) -> a, (a, b, c, p) -> a, "(a)");

    /** How an op derives the dtypes it accepts, computes in and returns from the promoted operand dtype. */
    public enum Rule {
        /** Result = promoted type; compute in its compute type. */
        ARITHMETIC,
        /** Like ARITHMETIC, but BOOL and integral promote to {@link DType#DEFAULT_FLOAT}. */
        TRUE_DIVIDE,
        /** Compute in the promoted type, result BOOL. */
        COMPARISON,
        /** Unary float function: BOOL and integral inputs promote to {@link DType#DEFAULT_FLOAT}. */
        FLOAT_MATH,
        /** Floating inputs only. */
        FLOAT_ONLY,
        /** Ternary select: the first operand must be BOOL; the others promote. */
        WHERE,
        /** Result dtype is chosen by the caller. */
        CAST
    }

    private final String opName;
    private final int arity;
    private final Rule rule;
    private final boolean acceptsBool;
    private final DoubleKernel doubleKernel;
    private final LongKernel longKernel;
    private final String cudaFloating;
    private final String cudaIntegral;

    ElementwiseOp(String opName, int arity, Rule rule, boolean acceptsBool, DoubleKernel d, LongKernel l,
                  String cudaFloating, String cudaIntegral) {
        this.opName = opName;
        this.arity = arity;
        this.rule = rule;
        this.acceptsBool = acceptsBool;
        this.doubleKernel = d;
        this.longKernel = l;
        this.cudaFloating = cudaFloating;
        this.cudaIntegral = cudaIntegral;
    }

    ElementwiseOp(String opName, int arity, Rule rule, boolean acceptsBool, DoubleKernel d, LongKernel l, String cuda) {
        this(opName, arity, rule, acceptsBool, d, l, cuda, cuda);
    }

    ElementwiseOp(String opName, int arity, Rule rule, DoubleKernel d, String cuda) {
        this(opName, arity, rule, true, d, null, cuda, null);
    }

    /** The PyTorch-style name, used in messages and generated kernel names. */
    public String opName() { return opName; }

    public int arity() { return arity; }

    public Rule rule() { return rule; }

    /** CPU implementation for F64 compute (and, rounded once, F32 compute). */
    public DoubleKernel doubleKernel() { return doubleKernel; }

    /** CPU implementation for I64 compute, or null if the op never computes in integers. */
    public LongKernel longKernel() { return longKernel; }

    /** {@code torch.result_type} of the operands this op promotes (all but the condition of WHERE). */
    public DType promotedType(List<? extends Operand> operands) {
        return TypePromotion.resultType(rule == Rule.WHERE ? operands.subList(1, operands.size()) : operands);
    }

    /** Throws {@link UnsupportedDTypeException} if this op cannot take operands promoting to {@code promoted}. */
    public void checkAccepts(DType promoted) {
        if (rule == Rule.FLOAT_ONLY && !promoted.isFloating()) {
            throw new UnsupportedDTypeException(opName + " needs a floating dtype, got " + promoted);
        }
        if (promoted == DType.BOOL && !acceptsBool) {
            throw new UnsupportedDTypeException(opName + " does not support BOOL operands");
        }
    }

    /** The output dtype for operands promoting to {@code promoted}. */
    public DType resultType(DType promoted) {
        return switch (rule) {
            case COMPARISON -> DType.BOOL;
            case TRUE_DIVIDE, FLOAT_MATH -> promoted.isFloating() ? promoted : DType.DEFAULT_FLOAT;
            default -> promoted;
        };
    }

    /**
     * The common dtype every operand is converted to before computing (PyTorch's common dtype: scalars and
     * lower-typed tensors are rounded to it first, so {@code f16_tensor.eq(0.1)} compares with 0.1 rounded to
     * F16). The expression is then evaluated in {@code operandType.computeType()}.
     */
    public DType operandType(DType promoted) {
        return rule == Rule.COMPARISON ? promoted : resultType(promoted);
    }

    private static final Pattern FLOAT_FUNCTION = Pattern.compile(
            "\\b(expf|logf|sqrtf|rsqrtf|sinf|cosf|tanhf|erff|erfcf|expm1f|log1pf|fabsf|powf)\\(");

    /**
     * This op's CUDA C expression for the compute type {@code compute} (F32, F64 or I64), with operands
     * {@code a b c} and parameters {@code p0 p1} still symbolic. Null if the op has no integral form
     * (it then never computes in I64).
     */
    public String cudaExpression(DType compute) {
        int k = switch (compute) {
            case F32 -> 0;
            case F64 -> 1;
            case I64 -> 2;
            default -> throw new IllegalArgumentException("compute type must be F32, F64 or I64, got " + compute);
        };
        String[] cache = expressions;
        if (cache[k] == null) cache[k] = renderExpression(compute); // a benign race: every thread renders the same
        return cache[k] == NO_EXPRESSION ? null : cache[k];
    }

    /** cudaExpression per compute type (F32, F64, I64), rendered on first use; planning asks for it per task. */
    private final String[] expressions = new String[3];

    /**
     * Which op parameters the expression for {@code compute} reads: bit 0 for {@code p0}, bit 1 for {@code p1}
     * (each then takes an argument word of the task). Planning asks per member; the answer is kept per type.
     */
    public int paramsRead(DType compute) {
        int k = compute == DType.F32 ? 0 : compute == DType.F64 ? 1 : 2;
        int known = paramMasks[k];
        if (known >= 0) return known;
        String template = cudaExpression(compute);
        int mask = template == null ? 0 : (template.contains("p0") ? 1 : 0) | (template.contains("p1") ? 2 : 0);
        paramMasks[k] = mask;  // a benign race, as for expressions
        return mask;
    }

    private final int[] paramMasks = {-1, -1, -1};
    private static final String NO_EXPRESSION = new String("<none>");

    private String renderExpression(DType compute) {
        String e = switch (compute) {
            case F32 -> cudaFloating.replace("T(", "float(");
            case F64 -> {
                Matcher m = FLOAT_FUNCTION.matcher(cudaFloating);
                String doubleForm = m.replaceAll(r -> r.group(1).substring(0, r.group(1).length() - 1) + "(");
                yield doubleForm.replace("T(", "double(");
            }
            case I64 -> cudaIntegral == null ? null : cudaIntegral.replace("T(", "(long long)(");
            default -> throw new IllegalArgumentException("compute type must be F32, F64 or I64, got " + compute);
        };
        return e == null ? NO_EXPRESSION : e;
    }

    /** Device helpers referenced by the templates; a generated kernel source must include this once. */
    public static final String CUDA_PRELUDE = """
            template <typename T> __device__ __forceinline__ T gpuos_max(T a, T b) { return (a != a || a > b) ? a : b; }
            template <typename T> __device__ __forceinline__ T gpuos_min(T a, T b) { return (a != a || a < b) ? a : b; }
            __device__ __forceinline__ float gpuos_pow(float a, float b) { return powf(a, b); }
            __device__ __forceinline__ double gpuos_pow(double a, double b) { return pow(a, b); }
            __device__ __forceinline__ long long gpuos_pow(long long a, long long b) {
                if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
                long long r = 1;
                while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
                return r;
            }
            template <typename T> __device__ __forceinline__ T gpuos_floor_divide_f(T a, T b) {
                if (b == T(0)) return a / b;
                T mod = fmod(a, b);
                T div = (a - mod) / b;
                if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
                if (div == T(0)) return copysign(T(0), a / b);
                T fl = floor(div);
                if (div - fl > T(0.5)) fl += T(1);
                return fl;
            }
            __device__ __forceinline__ float gpuos_floor_divide(float a, float b) { return gpuos_floor_divide_f(a, b); }
            __device__ __forceinline__ double gpuos_floor_divide(double a, double b) { return gpuos_floor_divide_f(a, b); }
            __device__ __forceinline__ long long gpuos_floor_divide(long long a, long long b) {
                if (b == 0) return 0;
                long long q = a / b;
                if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
                return q;
            }
            template <typename T> __device__ __forceinline__ T gpuos_remainder_f(T a, T b) {
                T mod = fmod(a, b);
                if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) mod += b;
                return mod;
            }
            __device__ __forceinline__ float gpuos_remainder(float a, float b) { return gpuos_remainder_f(a, b); }
            __device__ __forceinline__ double gpuos_remainder(double a, double b) { return gpuos_remainder_f(a, b); }
            __device__ __forceinline__ long long gpuos_remainder(long long a, long long b) {
                if (b == 0) return 0;
                long long mod = a % b;
                if (mod != 0 && ((b < 0) != (mod < 0))) mod += b;
                return mod;
            }
            """;
}
