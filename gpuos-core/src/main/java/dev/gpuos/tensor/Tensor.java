package dev.gpuos.tensor;

import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An immutable view (dtype + {@link Layout}) over a {@link Storage}, owned by a {@link TensorScope}. Ops are
 * fluent ({@code a.add(b).relu()}) and follow PyTorch semantics: broadcasting, type promotion
 * ({@link TypePromotion}), NaN propagation, true division.
 *
 * <p>Ops return at once: the backend may run them later (a GPU backend batches them). Reading data
 * ({@code toFloatArray()}, {@code item()}, ...) is a sync point. Every op validates at the call site and on bad
 * input throws, before anything is allocated or recorded:
 * <ul>
 *   <li>{@link ShapeMismatchException} — shapes that do not broadcast or fit the op;</li>
 *   <li>{@link UnsupportedDTypeException} — a dtype the op does not take;</li>
 *   <li>{@link IndexOutOfBoundsException} — a dimension or index out of range, a view outside its storage;</li>
 *   <li>{@link TensorClosedException} — a tensor whose scope was closed;</li>
 *   <li>{@link UnsupportedOnBackendException} — an op the tensors' backend cannot run;</li>
 *   <li>{@link IllegalArgumentException} — other bad arguments (operands on different backends, step 0, ...);</li>
 *   <li>{@link NullPointerException} — a null argument, named with the op in the message.</li>
 * </ul>
 * Shapes hold at most {@link Layout#MAX_NUMEL} elements. Float to integer conversions truncate toward zero,
 * saturate at the target's range and map NaN to 0 on every backend (see {@link HostElements}).
 */
public final class Tensor implements Operand {
    private final Storage storage;
    private final Layout layout;
    private final DType dtype;
    private final TensorScope scope;

    /** For backends and factories: a view over {@code storage}. Callers check that the view fits the storage. */
    Tensor(Storage storage, Layout layout, DType dtype, TensorScope scope) {
        this.storage = storage;
        this.layout = layout;
        this.dtype = dtype;
        this.scope = scope;
    }

    // --- metadata ------------------------------------------------------------------------------------------------

    public DType dtype() { return dtype; }

    public long[] shape() { return layout.shape(); }

    /** Size of dimension {@code dim} (negative counts from the end). */
    public long size(int dim) { return layout.size(Layout.normalizeDim(dim, rank())); }

    public int rank() { return layout.rank(); }

    public long numel() { return layout.numel(); }

    /** Strides in elements. */
    public long[] strides() { return layout.strides(); }

    /** Offset of element [0,...,0] in the storage, in elements. */
    public long storageOffset() { return layout.offset(); }

    public Layout layout() { return layout; }

    public Storage storage() { return storage; }

    public Backend backend() { return storage.backend(); }

    /** The scope that owned this tensor when the view was made. */
    public TensorScope scope() { return scope; }

    public boolean isContiguous() { return layout.isContiguous(); }

    public boolean isClosed() { return storage.isReleased(); }

    void ensureOpen() {
        if (storage.isReleased()) {
            throw new TensorClosedException("tensor " + describe() + " is closed: its TensorScope was closed");
        }
    }

    private Tensor withLayout(Layout l) {
        ensureOpen();
        return new Tensor(storage, l, dtype, scope);
    }

    /**
     * Moves ownership of this tensor's buffer (and so of every view of it) to {@code target}, so it outlives
     * the scope that created it. Returns a view whose {@link #scope()} is {@code target}.
     */
    public Tensor transferTo(TensorScope target) {
        Dispatch.require("transferTo", "target", target);
        ensureOpen();
        scope.transfer(storage, target);
        return new Tensor(storage, layout, dtype, target);
    }

    // --- views (no copies) -----------------------------------------------------------------------------------------

    /** A view with a new shape if strides allow it, else a contiguous copy; one size may be -1. */
    public Tensor reshape(long... shape) {
        ensureOpen();
        long[] resolved = Layout.inferShape(Dispatch.require("reshape", "shape", shape), numel());
        Layout l = layout.viewAs(resolved);
        return l != null ? withLayout(l) : contiguous().view(resolved);
    }

    /** Like reshape, but never copies: throws ShapeMismatchException if strides cannot express the shape. */
    public Tensor view(long... shape) {
        ensureOpen();
        long[] resolved = Layout.inferShape(Dispatch.require("view", "shape", shape), numel());
        Layout l = layout.viewAs(resolved);
        if (l == null) {
            throw new ShapeMismatchException("view " + Arrays.toString(resolved) + " is not compatible with "
                    + layout + "; use reshape (which copies)");
        }
        return withLayout(l);
    }

    public Tensor flatten() { return reshape(-1); }

    public Tensor permute(int... dims) { return withLayout(layout.permute(Dispatch.require("permute", "dims", dims))); }

    public Tensor transpose(int dim0, int dim1) {
        int[] order = new int[rank()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        int a = Layout.normalizeDim(dim0, rank()), b = Layout.normalizeDim(dim1, rank());
        if (rank() == 0) return withLayout(layout);
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** Elements [start, start+length) of {@code dim}; start may be negative (counted from the end). */
    public Tensor narrow(int dim, long start, long length) {
        int d = Layout.normalizeDim(dim, rank());
        long size = layout.size(d);
        long s = start < 0 ? start + size : start;
        if (s < 0 || s > size || length < 0 || length > size - s) {  // size - s: s + length may overflow
            throw new IndexOutOfBoundsException("narrow(" + dim + ", " + start + ", " + length + ") is outside [0, "
                    + size + ") of " + describe());
        }
        return withLayout(layout.slice(d, s, s + length, 1));
    }

    /** Python slicing {@code [start:end]} along {@code dim}: negative indices wrap, out-of-range ones clamp. */
    public Tensor slice(int dim, long start, long end) { return slice(dim, start, end, 1); }

    /** Python slicing {@code [start:end:step]}, step &ge; 1. */
    public Tensor slice(int dim, long start, long end, long step) {
        int d = Layout.normalizeDim(dim, rank());
        if (step < 1) throw new IllegalArgumentException("slice step must be >= 1, got " + step);
        long size = layout.size(d);
        long s = clampIndex(start < 0 ? start + size : start, size);
        long e = clampIndex(end < 0 ? end + size : end, size);
        return withLayout(layout.slice(d, s, Math.max(s, e), step));
    }

    private static long clampIndex(long i, long size) { return Math.max(0, Math.min(i, size)); }

    /** Removes dimension {@code dim} by taking element {@code index} (negative counts from the end). */
    public Tensor select(int dim, long index) {
        if (rank() == 0) throw new IndexOutOfBoundsException("select() cannot be applied to a 0-dim tensor");
        int d = Layout.normalizeDim(dim, rank());
        long size = layout.size(d);
        long i = index < 0 ? index + size : index;
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("index " + index + " is out of range for dimension " + dim
                    + " of size " + size);
        }
        return withLayout(layout.select(d, i));
    }

    /** Broadcasts size-1 dimensions (and new leading ones) to {@code sizes} with zero strides; -1 keeps a size. */
    public Tensor expand(long... sizes) {
        ensureOpen();
        long[] target = Dispatch.require("expand", "sizes", sizes).clone();
        int lead = target.length - rank();
        if (lead < 0) {
            throw new ShapeMismatchException("expand to " + Arrays.toString(sizes) + " has fewer dimensions than "
                    + Arrays.toString(shape()));
        }
        for (int i = 0; i < target.length; i++) {
            if (target[i] == -1) {
                if (i < lead) throw new ShapeMismatchException("expand: -1 is not allowed for a new leading dimension");
                target[i] = layout.size(i - lead);
            }
        }
        return withLayout(layout.broadcastTo(Dispatch.checkShape(target)));
    }

    public Tensor broadcastTo(long... shape) { return expand(shape); }

    public Tensor unsqueeze(int dim) {
        int d = Layout.normalizeDim(dim, rank() + 1);
        return withLayout(layout.unsqueeze(d));
    }

    /** Removes all size-1 dimensions. */
    public Tensor squeeze() { return withLayout(layout.squeezeAll()); }

    /** Removes dimension {@code dim} if its size is 1; otherwise returns an equal view, like PyTorch. */
    public Tensor squeeze(int dim) {
        if (rank() == 0) return withLayout(layout);
        return withLayout(layout.squeeze(Layout.normalizeDim(dim, rank())));
    }

    /** An arbitrary strided view of this tensor's storage (strides &ge; 0, zero allowed). */
    public Tensor asStrided(long[] shape, long[] strides, long storageOffset) {
        ensureOpen();
        Objects.requireNonNull(strides, "strides");
        if (strides.length != shape.length) {
            throw new IllegalArgumentException("asStrided: shape " + Arrays.toString(shape) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        for (long st : strides) {
            if (st < 0) throw new IllegalArgumentException("asStrided: negative stride in " + Arrays.toString(strides));
        }
        if (storageOffset < 0) throw new IllegalArgumentException("asStrided: negative storage offset " + storageOffset);
        Layout l = new Layout(Dispatch.checkShape(shape), strides, storageOffset);
        long capacity = storage.byteSize() / dtype.byteSize();
        long extent = l.extent();
        if (extent == Long.MAX_VALUE) {  // the last element's index overflowed a long
            throw new IndexOutOfBoundsException("asStrided: view " + l + " reaches beyond element " + Long.MAX_VALUE
                    + " (its last element's index overflows a long); the storage holds " + capacity + " elements of " + dtype);
        }
        if (extent > capacity) {
            throw new IndexOutOfBoundsException("asStrided: view " + l + " is outside its storage: it reaches element "
                    + (extent - 1) + " but the storage holds " + capacity + " elements of " + dtype);
        }
        return withLayout(l);
    }

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        ensureOpen();
        return isContiguous() ? this : ElementwiseOps.cast(this, dtype);
    }

    /** Conversion to another dtype (a new tensor), or this tensor if the dtype is already {@code target}. */
    public Tensor to(DType target) {
        ensureOpen();
        Dispatch.require("to", "target", target);
        return target == dtype ? this : ElementwiseOps.cast(this, target);
    }

    /**
     * Copies {@code source} into this tensor in place (PyTorch's {@code copy_}): broadcast to this shape and
     * converted to this dtype. Recorded like any op: ops recorded before see the old values, later ones the
     * new. The way to feed new inputs to a captured GPU program. Returns this tensor.
     *
     * @throws ShapeMismatchException   if {@code source} does not broadcast to this shape
     * @throws IllegalArgumentException if this view writes some element twice (a zero stride, or strides that
     *                                  overlap as an {@code asStrided} view may), or source and destination are
     *                                  different views of one buffer
     */
    public Tensor copyFrom(Tensor source) {
        Dispatch.commonBackend("copyFrom", this, source);
        long[] shape = shape(), strides = strides();
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] > 1 && strides[d] == 0) {
                throw new IllegalArgumentException("copyFrom: destination " + this + " has a zero stride in dim " + d
                        + ", so it would write some elements more than once; copy into a contiguous tensor");
            }
        }
        if (placesTwoElementsAtOnePlace(shape, strides)) {
            // Which write lands last would be the backend's order (a race on the GPU): no defined value to give.
            throw new IllegalArgumentException("copyFrom: destination " + this + " has strides " + Arrays.toString(strides)
                    + " that place two of its elements at one address, so it would write some elements more than once;"
                    + " copy into a contiguous tensor");
        }
        if (source.storage() == storage && !source.layout().equals(layout)) {
            throw new IllegalArgumentException("copyFrom: source " + source + " and destination " + this
                    + " are different views of one buffer; copy from source.contiguous() instead");
        }
        Dispatch.submitInto(ElementwiseOps.castInto(source, this));
        return this;
    }

    /** Elements the exact overlap check enumerates; a larger view that the stride test cannot clear is refused. */
    private static final long OVERLAP_ENUMERATION_LIMIT = 1 << 20;

    /**
     * Whether two indices of a view with non-zero strides map to one element. Views made by slicing, permuting and
     * narrowing pass the first test (each stride, smallest first, steps past everything the smaller dims reach);
     * only an {@code asStrided} view can fail it, and then small views are decided exactly.
     */
    private static boolean placesTwoElementsAtOnePlace(long[] shape, long[] strides) {
        long numel = 1;
        for (long size : shape) numel *= size;
        if (numel == 0) return false;
        // O(rank^2) without sorting, so a copyFrom per decode step allocates nothing here; ties go by dim index.
        boolean separate = true;
        for (int i = 0; i < shape.length && separate; i++) {
            if (shape[i] <= 1) continue;
            long reach = 0;  // the farthest offset the smaller-strided dims reach; bounded by the storage, no overflow
            for (int j = 0; j < shape.length; j++) {
                if (j != i && shape[j] > 1 && (strides[j] < strides[i] || (strides[j] == strides[i] && j < i))) {
                    reach += (shape[j] - 1) * strides[j];
                }
            }
            separate = strides[i] > reach;
        }
        if (separate) return false;
        if (numel > OVERLAP_ENUMERATION_LIMIT) return true;
        long[] offsets = new long[(int) numel];
        long[] index = new long[shape.length];
        for (int k = 0; k < offsets.length; k++) {
            long off = 0;
            for (int d = 0; d < shape.length; d++) off += index[d] * strides[d];
            offsets[k] = off;
            for (int d = shape.length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
        Arrays.sort(offsets);
        for (int k = 1; k < offsets.length; k++) if (offsets[k] == offsets[k - 1]) return true;
        return false;
    }

    // --- elementwise -------------------------------------------------------------------------------------------------

    /** Applies any elementwise op from the table; {@code params} are the op's p0, p1. */
    public static Tensor elementwise(ElementwiseOp op, double[] params, Operand... operands) {
        return ElementwiseOps.apply(op, params, operands);
    }

    private Tensor ew(ElementwiseOp op, Operand other) { return ElementwiseOps.apply(op, ElementwiseOps.NO_PARAMS, this, other); }

    private Tensor ew(ElementwiseOp op, double... params) { return ElementwiseOps.apply(op, params, this); }

    public Tensor add(Tensor other) { return ew(ElementwiseOp.ADD, other); }
    public Tensor add(double other) { return ew(ElementwiseOp.ADD, Scalar.of(other)); }
    public Tensor add(long other) { return ew(ElementwiseOp.ADD, Scalar.of(other)); }
    public Tensor sub(Tensor other) { return ew(ElementwiseOp.SUB, other); }
    public Tensor sub(double other) { return ew(ElementwiseOp.SUB, Scalar.of(other)); }
    public Tensor sub(long other) { return ew(ElementwiseOp.SUB, Scalar.of(other)); }
    public Tensor mul(Tensor other) { return ew(ElementwiseOp.MUL, other); }
    public Tensor mul(double other) { return ew(ElementwiseOp.MUL, Scalar.of(other)); }
    public Tensor mul(long other) { return ew(ElementwiseOp.MUL, Scalar.of(other)); }
    /** True division: integer operands give F32. */
    public Tensor div(Tensor other) { return ew(ElementwiseOp.DIV, other); }
    public Tensor div(double other) { return ew(ElementwiseOp.DIV, Scalar.of(other)); }
    public Tensor div(long other) { return ew(ElementwiseOp.DIV, Scalar.of(other)); }
    /** Python {@code //}. Integer division by zero gives 0 (PyTorch raises; a GPU kernel cannot). */
    public Tensor floorDivide(Tensor other) { return ew(ElementwiseOp.FLOOR_DIVIDE, other); }
    public Tensor floorDivide(double other) { return ew(ElementwiseOp.FLOOR_DIVIDE, Scalar.of(other)); }
    public Tensor floorDivide(long other) { return ew(ElementwiseOp.FLOOR_DIVIDE, Scalar.of(other)); }
    /** Python {@code %} (sign of the divisor). Integer modulo zero gives 0. */
    public Tensor remainder(Tensor other) { return ew(ElementwiseOp.REMAINDER, other); }
    public Tensor remainder(double other) { return ew(ElementwiseOp.REMAINDER, Scalar.of(other)); }
    public Tensor remainder(long other) { return ew(ElementwiseOp.REMAINDER, Scalar.of(other)); }
    public Tensor pow(Tensor exponent) { return ew(ElementwiseOp.POW, exponent); }
    public Tensor pow(double exponent) { return ew(ElementwiseOp.POW, Scalar.of(exponent)); }
    /** Integer tensors reject negative integer exponents, like PyTorch. */
    public Tensor pow(long exponent) {
        ensureOpen();
        if (!dtype.isFloating() && exponent < 0) {
            throw new IllegalArgumentException("integers to negative integer powers are not allowed (" + dtype
                    + " tensor ** " + exponent + ")");
        }
        return ew(ElementwiseOp.POW, Scalar.of(exponent));
    }
    /** Elementwise max; NaN wins. */
    public Tensor maximum(Tensor other) { return ew(ElementwiseOp.MAXIMUM, other); }
    /** Elementwise min; NaN wins. */
    public Tensor minimum(Tensor other) { return ew(ElementwiseOp.MINIMUM, other); }

    public Tensor eq(Tensor other) { return ew(ElementwiseOp.EQ, other); }
    public Tensor eq(double other) { return ew(ElementwiseOp.EQ, Scalar.of(other)); }
    public Tensor eq(long other) { return ew(ElementwiseOp.EQ, Scalar.of(other)); }
    public Tensor ne(Tensor other) { return ew(ElementwiseOp.NE, other); }
    public Tensor ne(double other) { return ew(ElementwiseOp.NE, Scalar.of(other)); }
    public Tensor ne(long other) { return ew(ElementwiseOp.NE, Scalar.of(other)); }
    public Tensor lt(Tensor other) { return ew(ElementwiseOp.LT, other); }
    public Tensor lt(double other) { return ew(ElementwiseOp.LT, Scalar.of(other)); }
    public Tensor lt(long other) { return ew(ElementwiseOp.LT, Scalar.of(other)); }
    public Tensor le(Tensor other) { return ew(ElementwiseOp.LE, other); }
    public Tensor le(double other) { return ew(ElementwiseOp.LE, Scalar.of(other)); }
    public Tensor le(long other) { return ew(ElementwiseOp.LE, Scalar.of(other)); }
    public Tensor gt(Tensor other) { return ew(ElementwiseOp.GT, other); }
    public Tensor gt(double other) { return ew(ElementwiseOp.GT, Scalar.of(other)); }
    public Tensor gt(long other) { return ew(ElementwiseOp.GT, Scalar.of(other)); }
    public Tensor ge(Tensor other) { return ew(ElementwiseOp.GE, other); }
    public Tensor ge(double other) { return ew(ElementwiseOp.GE, Scalar.of(other)); }
    public Tensor ge(long other) { return ew(ElementwiseOp.GE, Scalar.of(other)); }

    public Tensor neg() { return ew(ElementwiseOp.NEG); }
    public Tensor abs() { return ew(ElementwiseOp.ABS); }
    public Tensor relu() { return ew(ElementwiseOp.RELU); }
    public Tensor exp() { return ew(ElementwiseOp.EXP); }
    public Tensor log() { return ew(ElementwiseOp.LOG); }
    public Tensor sqrt() { return ew(ElementwiseOp.SQRT); }
    public Tensor rsqrt() { return ew(ElementwiseOp.RSQRT); }
    public Tensor sin() { return ew(ElementwiseOp.SIN); }
    public Tensor cos() { return ew(ElementwiseOp.COS); }
    public Tensor tanh() { return ew(ElementwiseOp.TANH); }
    public Tensor sigmoid() { return ew(ElementwiseOp.SIGMOID); }
    /** gelu with the exact erf formulation. */
    public Tensor gelu() { return ew(ElementwiseOp.GELU); }
    /** gelu(approximate="tanh"). */
    public Tensor geluTanh() { return ew(ElementwiseOp.GELU_TANH); }
    public Tensor silu() { return ew(ElementwiseOp.SILU); }
    public Tensor hardsigmoid() { return ew(ElementwiseOp.HARDSIGMOID); }
    public Tensor hardswish() { return ew(ElementwiseOp.HARDSWISH); }
    public Tensor leakyRelu() { return leakyRelu(0.01); }
    public Tensor leakyRelu(double negativeSlope) { return ew(ElementwiseOp.LEAKY_RELU, negativeSlope); }
    public Tensor elu() { return elu(1.0); }
    public Tensor elu(double alpha) { return ew(ElementwiseOp.ELU, alpha); }
    public Tensor softplus() { return softplus(1.0, 20.0); }
    public Tensor softplus(double beta, double threshold) { return ew(ElementwiseOp.SOFTPLUS, beta, threshold); }
    /** hardtanh = clamp(min, max) (the result dtype follows clamp's promotion). */
    public Tensor hardtanh() { return hardtanh(-1, 1); }
    public Tensor hardtanh(double min, double max) { return clamp(min, max); }
    public Tensor clamp(double min, double max) { return clamp(Scalar.of(min), Scalar.of(max)); }
    public Tensor clamp(long min, long max) { return clamp(Scalar.of(min), Scalar.of(max)); }
    /** clamp with scalar or tensor bounds (bounds broadcast and promote like any operand). */
    public Tensor clamp(Operand min, Operand max) {
        return ElementwiseOps.apply(ElementwiseOp.CLAMP, ElementwiseOps.NO_PARAMS, this, min, max);
    }
    public Tensor clampMin(double min) { return ew(ElementwiseOp.MAXIMUM, Scalar.of(min)); }
    public Tensor clampMin(long min) { return ew(ElementwiseOp.MAXIMUM, Scalar.of(min)); }
    public Tensor clampMax(double max) { return ew(ElementwiseOp.MINIMUM, Scalar.of(max)); }
    public Tensor clampMax(long max) { return ew(ElementwiseOp.MINIMUM, Scalar.of(max)); }

    /** Elementwise {@code condition ? x : y}; condition must be BOOL. */
    public static Tensor where(Tensor condition, Operand x, Operand y) {
        return ElementwiseOps.apply(ElementwiseOp.WHERE, ElementwiseOps.NO_PARAMS, condition, x, y);
    }

    // --- reductions (axes may be negative; an empty axes array means all) ----------------------------------------

    public Tensor sum() { return Reductions.reduce(ReduceOp.SUM, this, null, false); }
    public Tensor sum(int[] axes, boolean keepdim) { return Reductions.reduce(ReduceOp.SUM, this, axes, keepdim); }
    public Tensor mean() { return Reductions.reduce(ReduceOp.MEAN, this, null, false); }
    public Tensor mean(int[] axes, boolean keepdim) { return Reductions.reduce(ReduceOp.MEAN, this, axes, keepdim); }
    public Tensor prod() { return Reductions.reduce(ReduceOp.PROD, this, null, false); }
    public Tensor prod(int[] axes, boolean keepdim) { return Reductions.reduce(ReduceOp.PROD, this, axes, keepdim); }
    /** Largest element (NaN if any is NaN). */
    public Tensor max() { return Reductions.reduce(ReduceOp.MAX, this, null, false); }
    /** Largest values over {@code axes} (torch.amax). */
    public Tensor max(int[] axes, boolean keepdim) { return Reductions.reduce(ReduceOp.MAX, this, axes, keepdim); }
    public Tensor min() { return Reductions.reduce(ReduceOp.MIN, this, null, false); }
    public Tensor min(int[] axes, boolean keepdim) { return Reductions.reduce(ReduceOp.MIN, this, axes, keepdim); }
    /** Index of the first maximum in the flattened tensor (I64, 0-dim). */
    public Tensor argmax() { return Reductions.reduce(ReduceOp.ARGMAX, this, null, false); }
    public Tensor argmax(int dim, boolean keepdim) { return Reductions.reduce(ReduceOp.ARGMAX, this, new int[]{dim}, keepdim); }
    public Tensor argmin() { return Reductions.reduce(ReduceOp.ARGMIN, this, null, false); }
    public Tensor argmin(int dim, boolean keepdim) { return Reductions.reduce(ReduceOp.ARGMIN, this, new int[]{dim}, keepdim); }

    // --- neural-network ops ----------------------------------------------------------------------------------------

    public Tensor softmax(int dim) { return NnOps.softmax(this, dim, false); }
    public Tensor logSoftmax(int dim) { return NnOps.softmax(this, dim, true); }
    /** layer_norm over the trailing {@code normalizedShape}; weight and bias may be null. */
    public Tensor layerNorm(long[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        return NnOps.layerNorm(this, normalizedShape, weight, bias, eps);
    }
    /** layer_norm over weight's shape with eps 1e-5. */
    public Tensor layerNorm(Tensor weight, Tensor bias) {
        return layerNorm(Dispatch.require("layerNorm", "weight", weight).shape(), weight, bias, 1e-5);
    }
    /** rms_norm over the trailing {@code normalizedShape}; weight may be null. */
    public Tensor rmsNorm(long[] normalizedShape, Tensor weight, double eps) {
        return NnOps.rmsNorm(this, normalizedShape, weight, eps);
    }
    /** rms_norm over weight's shape with eps = machine epsilon of the dtype, like PyTorch's default. */
    public Tensor rmsNorm(Tensor weight) {
        return rmsNorm(Dispatch.require("rmsNorm", "weight", weight).shape(), weight, NnOps.epsilon(dtype));
    }
    /**
     * Scaled dot-product attention of this query [..., L, E] over {@code keys} [..., S, E] and {@code values}
     * [..., S, Ev]: softmax(q @ k^T * scale + bias) @ v, [..., L, Ev], as one op (PyTorch's
     * F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)). Query, keys and bias share a
     * floating dtype; values may have another (PyTorch wants one for all), which the result has; batch dims equal
     * (expand a shared head's keys); bias (null for none) broadcasts to [..., L, S].
     */
    public Tensor attention(Tensor keys, Tensor values, Tensor bias, double scale) {
        return NnOps.attention(this, keys, values, bias, scale);
    }

    /** torch.matmul: 1-D operands are promoted to matrices and the extra dim removed; batch dims broadcast. */
    public Tensor matmul(Tensor other) { return LinearAlgebra.matmul(this, other); }
    /** Batched product of [b, n, k] and [b, k, m] (no broadcasting). */
    public Tensor bmm(Tensor other) { return LinearAlgebra.bmm(this, other); }

    /** Entries of this tensor at {@code index} (1-D I32/I64) along {@code dim}. */
    public Tensor indexSelect(int dim, Tensor index) { return Indexing.indexSelect(this, dim, index); }
    /** Rows of this [vocab, dim] weight for every entry of {@code indices}: shape indices.shape + [dim]. */
    public Tensor embedding(Tensor indices) { return Indexing.embedding(this, indices); }
    /** Concatenation along {@code dim}; dtypes promote. */
    public static Tensor cat(int dim, Tensor... tensors) {
        return Indexing.cat(dim, tensors == null ? null : Arrays.asList(tensors));
    }
    public static Tensor cat(int dim, List<Tensor> tensors) { return Indexing.cat(dim, tensors); }

    // --- what a PyTorch user reaches for without looking (issue 12, item 7) ------------------------------------

    /**
     * torch.Tensor.t(): the transpose of a 2-D tensor; a 0-D or 1-D tensor is returned as an equal view.
     *
     * @throws IllegalArgumentException for rank &gt; 2 (use {@link #transpose(int, int)} or {@link #permute})
     */
    public Tensor t() {
        ensureOpen();
        if (rank() > 2) {
            throw new IllegalArgumentException("t() expects a tensor with <= 2 dimensions, but " + describe() + " is "
                    + rank() + "D; use transpose(dim0, dim1) or permute");
        }
        return rank() < 2 ? withLayout(layout) : transpose(0, 1);
    }

    /** Sum over {@code dims} (negative counts from the end) without keepdim, like {@code x.sum(dim=(0, 2))}. */
    public Tensor sum(int... dims) { return Reductions.reduce(ReduceOp.SUM, this, dims, false); }

    /** Mean over {@code dims} without keepdim, like {@code x.mean(dim=(0, 2))}. */
    public Tensor mean(int... dims) { return Reductions.reduce(ReduceOp.MEAN, this, dims, false); }

    /** torch.rsub(self, other) = {@code other - self}: the way to write {@code 1 - z} is {@code z.rsub(1)}. */
    public Tensor rsub(double other) { return ElementwiseOps.apply(ElementwiseOp.SUB, ElementwiseOps.NO_PARAMS, Scalar.of(other), this); }
    public Tensor rsub(long other) { return ElementwiseOps.apply(ElementwiseOp.SUB, ElementwiseOps.NO_PARAMS, Scalar.of(other), this); }
    public Tensor rsub(Tensor other) { return ElementwiseOps.apply(ElementwiseOp.SUB, ElementwiseOps.NO_PARAMS, other, this); }

    /** {@code other / self} (Python's {@code 1 / z}), true division like {@link #div(double)}. */
    public Tensor rdiv(double other) { return ElementwiseOps.apply(ElementwiseOp.DIV, ElementwiseOps.NO_PARAMS, Scalar.of(other), this); }
    public Tensor rdiv(long other) { return ElementwiseOps.apply(ElementwiseOp.DIV, ElementwiseOps.NO_PARAMS, Scalar.of(other), this); }

    /** F.layer_norm(x, normalizedShape): eps 1e-5, no weight and no bias. */
    public Tensor layerNorm(long... normalizedShape) { return layerNorm(normalizedShape, null, null, 1e-5); }

    // --- reading back (sync points) ----------------------------------------------------------------------------

    private MemorySegment readElements() {
        long bytes = numel() * dtype.byteSize();
        MemorySegment host = MemorySegment.ofArray(new long[(int) Math.ceilDiv(bytes, 8)]).asSlice(0, bytes);
        readInto(host);
        return host;
    }

    /**
     * Reads every element, row-major and as stored, into {@code host} (exactly numel() elements of this dtype).
     * When the array asked for has the tensor's own element type, the caller passes that array's memory: one
     * copy from the backend into the result, no staging array and no per-element conversion (a 64x1024 F32
     * result is 256 KiB, and the element loop cost more than the copy until the JIT compiled it).
     */
    private void readInto(MemorySegment host) {
        ensureOpen();
        Tensor c = contiguous();
        try {
            if (host.byteSize() > 0) backend().read(c.storage, c.layout.offset() * dtype.byteSize(), host);
        } finally {
            if (c != this) c.scope.discard(c.storage);
        }
    }

    /** The most elements a Java array holds (the JDK's own limit is a few below Integer.MAX_VALUE). */
    private static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

    /** numel() as an array length, or an error naming the count: a Java array cannot hold more. */
    private int arrayLength(String method) {
        long n = numel();
        if (n > MAX_ARRAY_LENGTH) {
            throw new UnsupportedOperationException(method + ": " + describe() + " has " + n + " elements, more than"
                    + " a Java array holds (" + MAX_ARRAY_LENGTH + "); read it in parts, e.g. through narrow()");
        }
        return (int) n;
    }

    /** All elements in row-major order, converted to float. */
    public float[] toFloatArray() {
        float[] out = new float[arrayLength("toFloatArray")];
        copyTo(out);
        return out;
    }

    /**
     * All elements in row-major order, converted to float, into {@code destination} (exactly {@link #numel()}
     * long): a read-back that allocates no array, e.g. in a loop that reads a result every step (a fresh array
     * of a few hundred KiB costs the JVM the first touch of its pages, often more than the copy itself).
     */
    public void copyTo(float[] destination) {
        Dispatch.require("copyTo", "destination", destination);
        if (destination.length != numel()) {
            throw new ShapeMismatchException("copyTo needs an array of " + numel() + " elements for " + this
                    + ", got " + destination.length);
        }
        if (dtype == DType.F32) {
            readInto(MemorySegment.ofArray(destination));
            return;
        }
        MemorySegment m = readElements();
        for (int i = 0; i < destination.length; i++) destination[i] = HostElements.getFloat(m, dtype, i);
    }

    public double[] toDoubleArray() {
        if (dtype == DType.F64) {
            double[] out = new double[arrayLength("toDoubleArray")];
            readInto(MemorySegment.ofArray(out));
            return out;
        }
        MemorySegment m = readElements();
        double[] out = new double[arrayLength("toDoubleArray")];
        for (int i = 0; i < out.length; i++) out[i] = HostElements.getDouble(m, dtype, i);
        return out;
    }

    public long[] toLongArray() {
        if (dtype == DType.I64) {
            long[] out = new long[arrayLength("toLongArray")];
            readInto(MemorySegment.ofArray(out));
            return out;
        }
        MemorySegment m = readElements();
        long[] out = new long[arrayLength("toLongArray")];
        for (int i = 0; i < out.length; i++) out[i] = HostElements.getLong(m, dtype, i);
        return out;
    }

    /**
     * All elements in row-major order as ints. A value an int cannot hold (an I64 outside the int range; NaN,
     * an infinity or an out-of-range float) throws ArithmeticException naming the value and its index, instead
     * of wrapping; fractions truncate toward zero.
     */
    public int[] toIntArray() {
        int[] out = new int[arrayLength("toIntArray")];
        if (dtype == DType.I32) {
            readInto(MemorySegment.ofArray(out));
            return out;
        }
        MemorySegment m = readElements();
        for (int i = 0; i < out.length; i++) {
            if (dtype.isFloating()) {
                double v = HostElements.getDouble(m, dtype, i);
                if (!(v > -2147483649.0 && v < 2147483648.0)) throw notAnInt(Double.toString(v), i);
                out[i] = (int) v;
            } else {
                long v = HostElements.getLong(m, dtype, i);
                if (v != (int) v) throw notAnInt(Long.toString(v), i);
                out[i] = (int) v;
            }
        }
        return out;
    }

    private ArithmeticException notAnInt(String value, int flatIndex) {
        long[] index = new long[rank()];
        long rest = flatIndex;
        for (int d = rank() - 1; d >= 0; d--) {
            long size = layout.size(d);
            index[d] = rest % size;
            rest /= size;
        }
        return new ArithmeticException("toIntArray: element " + Arrays.toString(index) + " (flat index " + flatIndex
                + ") of " + describe() + " is " + value + ", which an int cannot hold; read it with toLongArray()"
                + " or toDoubleArray()");
    }

    public boolean[] toBooleanArray() {
        double[] d = toDoubleArray();
        boolean[] out = new boolean[d.length];
        for (int i = 0; i < d.length; i++) out[i] = d[i] != 0;
        return out;
    }

    private void checkSingleElement() {
        if (numel() != 1) throw new ShapeMismatchException("item() needs exactly one element, " + describe() + " has " + numel());
    }

    /** The only element, as a double. */
    public double item() { checkSingleElement(); return toDoubleArray()[0]; }

    public long longItem() { checkSingleElement(); return toLongArray()[0]; }

    public boolean booleanItem() { checkSingleElement(); return toBooleanArray()[0]; }

    private String describe() {
        return "Tensor[" + dtype + " " + Arrays.toString(layout.shape()) + " on " + storage.backend().name() + "]";
    }

    @Override
    public String toString() { return describe(); }
}
