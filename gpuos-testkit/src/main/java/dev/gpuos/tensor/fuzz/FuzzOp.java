package dev.gpuos.tensor.fuzz;

/**
 * What one {@link FuzzStep} does. The meaning of a step's integer arguments ({@link FuzzStep#args()}) is given
 * per constant; {@link #kind()} says how results are compared (see {@link Tolerance}).
 */
public enum FuzzOp {
    /** args = [value seed, layout style, value kind, index bound, shape...]; see {@link FuzzInputs}. */
    INPUT(Kind.INPUT),
    /** A sync point on the backend ({@code scope.sync()}), or a read of one tensor when the step has an input. */
    SYNC(Kind.SYNC),

    // binary elementwise: in = [x, y] or in = [x] with one scalar
    ADD(Kind.ELEMENTWISE), SUB(Kind.ELEMENTWISE), MUL(Kind.ELEMENTWISE), DIV(Kind.ELEMENTWISE),
    FLOOR_DIVIDE(Kind.ELEMENTWISE), REMAINDER(Kind.ELEMENTWISE), POW(Kind.ELEMENTWISE),
    MAXIMUM(Kind.ELEMENTWISE), MINIMUM(Kind.ELEMENTWISE),
    EQ(Kind.ELEMENTWISE), NE(Kind.ELEMENTWISE), LT(Kind.ELEMENTWISE), LE(Kind.ELEMENTWISE),
    GT(Kind.ELEMENTWISE), GE(Kind.ELEMENTWISE),
    // unary elementwise: in = [x]; LEAKY_RELU and ELU take scalars[0], SOFTPLUS scalars[0..1]
    NEG(Kind.ELEMENTWISE), ABS(Kind.ELEMENTWISE), RELU(Kind.ELEMENTWISE), EXP(Kind.ELEMENTWISE),
    LOG(Kind.ELEMENTWISE), SQRT(Kind.ELEMENTWISE), RSQRT(Kind.ELEMENTWISE), SIN(Kind.ELEMENTWISE),
    COS(Kind.ELEMENTWISE), TANH(Kind.ELEMENTWISE), SIGMOID(Kind.ELEMENTWISE), GELU(Kind.ELEMENTWISE),
    GELU_TANH(Kind.ELEMENTWISE), SILU(Kind.ELEMENTWISE), HARDSIGMOID(Kind.ELEMENTWISE),
    HARDSWISH(Kind.ELEMENTWISE), LEAKY_RELU(Kind.ELEMENTWISE), ELU(Kind.ELEMENTWISE), SOFTPLUS(Kind.ELEMENTWISE),
    /** in = [x, lo, hi] (tensor bounds) or [x] with scalars [lo, hi]. */
    CLAMP(Kind.ELEMENTWISE),
    /** in = [cond, x, y]; or [cond, x] with scalars[0] as y; or [cond] with scalars [x, y]. */
    WHERE(Kind.ELEMENTWISE),
    /** in = [x]; to {@link FuzzStep#dtype()}. */
    CAST(Kind.ELEMENTWISE),

    // views: in = [x]
    /** args = [dim0, dim1]. */
    TRANSPOSE(Kind.VIEW),
    /** args = the permutation. */
    PERMUTE(Kind.VIEW),
    /** args = [dim, start, length]. */
    NARROW(Kind.VIEW),
    /** args = [dim, start, end, step]. */
    SLICE(Kind.VIEW),
    /** args = [dim, index]. */
    SELECT(Kind.VIEW),
    /** args = the target shape (zero strides for broadcast dimensions). */
    EXPAND(Kind.VIEW),
    /** args = [dim]. */
    UNSQUEEZE(Kind.VIEW),
    /** args = [dim], or [] for every size-1 dimension. */
    SQUEEZE(Kind.VIEW),
    /** args = the new shape (a view where strides allow, else a copy). */
    RESHAPE(Kind.VIEW),
    /**
     * {@code Tensor.cat(0, x.reshape(-1)).asStrided(sizes, strides, offset)}: any strided view of a dense copy of
     * x; args = [offset, sizes..., strides...] (see {@link OverflowSteps}).
     */
    AS_STRIDED(Kind.VIEW),
    CONTIGUOUS(Kind.VIEW),

    // reductions: in = [x]; args = [keepdim 0/1, axes...] (no axes: over everything, the no-argument overload)
    SUM(Kind.ACCUMULATING), MEAN(Kind.ACCUMULATING), PROD(Kind.ACCUMULATING),
    MAX(Kind.ACCUMULATING), MIN(Kind.ACCUMULATING),
    /** args = [keepdim, dim] or [] for the flattened argmax. */
    ARGMAX(Kind.ACCUMULATING),
    ARGMIN(Kind.ACCUMULATING),

    /** in = [x]; args = [dim]. */
    SOFTMAX(Kind.ACCUMULATING),
    LOG_SOFTMAX(Kind.ACCUMULATING),
    /** in = [x] or [x, weight] or [x, weight, bias]; args = [trailing dims normalised]; scalars[0] = eps. */
    LAYER_NORM(Kind.ACCUMULATING),
    /** in = [x] or [x, weight]; args = [trailing dims normalised]; scalars[0] = eps. */
    RMS_NORM(Kind.ACCUMULATING),
    /** in = [a, b]. */
    MATMUL(Kind.ACCUMULATING),
    BMM(Kind.ACCUMULATING),
    /** in = [x, index]; args = [dim]. */
    INDEX_SELECT(Kind.VIEW),
    /** in = the tensors; args = [dim]. */
    CAT(Kind.VIEW);

    /**
     * How a result relates to its inputs. ELEMENTWISE and VIEW results are compared element by element;
     * ACCUMULATING results (sums of many terms) against the tensor's largest magnitude, as their rounding
     * scales with the terms summed, not with the result.
     */
    public enum Kind { INPUT, SYNC, ELEMENTWISE, VIEW, ACCUMULATING }

    private final Kind kind;

    FuzzOp(Kind kind) { this.kind = kind; }

    public Kind kind() { return kind; }

    /** The Tensor API name, e.g. {@code log_softmax}. */
    public String apiName() { return name().toLowerCase(java.util.Locale.ROOT); }
}
