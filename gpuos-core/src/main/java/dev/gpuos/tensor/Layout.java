package dev.gpuos.tensor;

import java.util.Arrays;

/**
 * Where the elements of a tensor view lie in its storage: sizes, strides (in elements, never negative, zero for
 * broadcast dimensions) and the storage offset of element [0,...,0]. Immutable; every view op returns a new
 * Layout over the same storage.
 */
public final class Layout {
    /**
     * The most elements a tensor may have: 2^60 - 1, so that its size in bytes (8 bytes an element at most) and
     * every element offset fit in a long. PyTorch's limit is the same in spirit (its storage size must fit).
     */
    public static final long MAX_NUMEL = Long.MAX_VALUE / 8;

    private final long[] shape;
    private final long[] strides;
    private final long offset;

    public Layout(long[] shape, long[] strides, long offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 0) throw new IllegalArgumentException("negative size in shape " + Arrays.toString(shape));
            if (strides[d] < 0) {
                throw new IllegalArgumentException("negative stride in strides " + Arrays.toString(strides));
            }
        }
        if (offset < 0) throw new IllegalArgumentException("negative storage offset " + offset);
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    public static Layout contiguous(long... shape) {
        int cell = internCell(shape);
        Layout known = INTERNED[cell];
        if (known != null && Arrays.equals(known.shape, shape)) return known;
        Layout made = new Layout(shape, contiguousStrides(shape), 0);
        INTERNED[cell] = made;
        return made;
    }

    /**
     * Recent contiguous layouts by shape, direct-mapped: every op's result of one shape shares one Layout (and its
     * arrays) instead of 88 bytes of its own. Layouts are immutable, so any thread may take any entry; a lost race
     * only replaces one entry with an equal layout. 256 entries hold the shapes a model's layers cycle through.
     */
    private static final Layout[] INTERNED = new Layout[256];

    private static int internCell(long[] shape) {
        long h = shape.length;
        for (long s : shape) h = h * 0x9E3779B97F4A7C15L + s;
        return (int) (h ^ (h >>> 29) ^ (h >>> 47)) & (INTERNED.length - 1);
    }

    /** Trusts its arrays (owned from here on, already valid): the per-op path makes no defensive copies. */
    private Layout(long[] shape, long[] strides, long offset, boolean trusted) {
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    /**
     * {@code contiguous(shape)}, reusing {@code like} when it is exactly that layout (same shape, row-major
     * strides, offset 0): an op's result usually has its first operand's shape, and layouts are immutable.
     */
    static Layout contiguousLike(Layout like, long[] shape) {
        if (like.offset == 0 && Arrays.equals(like.shape, shape)) {
            long stride = 1;
            boolean canonical = true;
            for (int d = shape.length - 1; d >= 0 && canonical; d--) {
                canonical = like.strides[d] == stride;
                stride *= Math.max(shape[d], 1);
            }
            if (canonical) return like;
        }
        // Results of views at an offset (W1's rows: a[i] + b[i]) cannot share their operand's layout; they share
        // the interned contiguous layout of their shape (a layout and two arrays per op were 100 of W1's bytes).
        return contiguous(shape);
    }

    /** Whether this view has exactly {@code other} as its shape (no copy of either). */
    boolean hasShape(long[] other) {
        return Arrays.equals(shape, other);
    }

    /** The shape array itself, for read-only use inside this package. */
    long[] shapeArray() {
        return shape;
    }

    public static long[] contiguousStrides(long[] shape) {
        long[] strides = new long[shape.length];
        long stride = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            strides[d] = stride;
            stride *= Math.max(shape[d], 1);
        }
        return strides;
    }

    /**
     * The element count of {@code shape}; a ShapeMismatchException naming the shape and the limit when it exceeds
     * {@link #MAX_NUMEL} (a product that overflowed a long would otherwise be a bare ArithmeticException, or a
     * wrong count).
     */
    public static long numel(long[] shape) {
        long n = 1;
        boolean empty = false, tooMany = false;
        for (long s : shape) {
            if (s < 0) throw new ShapeMismatchException("negative size in shape " + Arrays.toString(shape));
            if (s == 0) {
                empty = true;
            } else {
                long product = n * s;  // per op, often: a multiply-high instead of a division per dimension
                if (Math.multiplyHigh(n, s) != 0 || product < 0 || product > MAX_NUMEL) tooMany = true;
                else n = product;
            }
        }
        // Checked even when a size is 0: the other sizes still make the strides, which must fit in a long.
        if (tooMany) throw tooManyElements(shape);
        return empty ? 0 : n;
    }

    static ShapeMismatchException tooManyElements(long[] shape) {
        return new ShapeMismatchException("shape " + Arrays.toString(shape) + " has more elements than the limit of "
                + MAX_NUMEL + " (2^60 - 1, so that its byte size fits in a long)");
    }

    public long[] shape() { return shape.clone(); }

    public long[] strides() { return strides.clone(); }

    public long size(int dim) { return shape[dim]; }

    public long stride(int dim) { return strides[dim]; }

    public long offset() { return offset; }

    public int rank() { return shape.length; }

    public long numel() {
        long n = numel;
        if (n < 0) numel = n = numel(shape);  // a benign race: every thread computes the same
        return n;
    }

    /** numel(), once asked for (-1 before): planning asks per node and per operand. */
    private long numel = -1;

    /** C-contiguous, ignoring the strides of size-1 dimensions (as PyTorch does). */
    public boolean isContiguous() {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 0) return true;
            if (shape[d] != 1 && strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    /**
     * Whether this view touches every one of a storage's first {@code elements} elements (a permutation of a
     * contiguous layout from offset 0, so no element twice): a write through it overwrites the whole buffer, so
     * whatever was wrong with the old contents (a failed op, issue 15) is gone.
     */
    public boolean coversAll(long elements) {
        if (offset != 0 || numel() != elements) return false;
        if (elements <= 1) return true;
        if (isContiguous()) return true;  // the common case, without sorting dims
        long[][] dims = new long[shape.length][];
        int n = 0;
        for (int d = 0; d < shape.length; d++) if (shape[d] != 1) dims[n++] = new long[]{strides[d], shape[d]};
        Arrays.sort(dims, 0, n, (a, b) -> Long.compare(a[0], b[0]));
        long expected = 1;
        for (int i = 0; i < n; i++) {
            if (dims[i][0] != expected) return false;
            expected *= dims[i][1];
        }
        return true;
    }

    /**
     * One past the largest storage element index this view can touch (offset for empty views); Long.MAX_VALUE
     * when that index does not fit in a long (huge strides or offset), which no storage can hold.
     */
    public long extent() {
        for (long s : shape) if (s == 0) return offset;
        long last = offset;
        for (int d = 0; d < shape.length; d++) {
            long span = Math.multiplyHigh(shape[d] - 1, strides[d]) != 0 ? -1 : (shape[d] - 1) * strides[d];
            if (span < 0 || last > Long.MAX_VALUE - 1 - span) return Long.MAX_VALUE;
            last += span;
        }
        return last + 1;
    }

    /** The index {@code dim} normalised to [0, rank), accepting negative indices like PyTorch. */
    public static int normalizeDim(int dim, int rank) {
        int bound = Math.max(rank, 1); // a 0-dim tensor accepts dim 0 and -1, like PyTorch
        if (dim < -bound || dim >= bound) {
            throw new IndexOutOfBoundsException("dimension " + dim + " out of range [" + (-bound) + ", "
                    + (bound - 1) + "] for a tensor of rank " + rank);
        }
        return dim < 0 ? dim + bound : dim;
    }

    /** The broadcast shape of two shapes (NumPy/PyTorch rules), or a ShapeMismatchException. */
    public static long[] broadcastShapes(long[] a, long[] b) {
        if (Arrays.equals(a, b)) return a.clone();
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long sa = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            long sb = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (sa != sb && sa != 1 && sb != 1) {
                throw new ShapeMismatchException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast: size " + sa + " vs " + sb + " at dimension " + i);
            }
            out[i] = sa == 1 ? sb : sa;
        }
        return out;
    }

    /** This view expanded to {@code target} with zero strides for broadcast dimensions. */
    public Layout broadcastTo(long[] target) {
        if (Arrays.equals(shape, target)) return this;  // immutable: the same view
        if (target.length < shape.length) {
            throw new ShapeMismatchException("cannot broadcast shape " + Arrays.toString(shape) + " to fewer dims "
                    + Arrays.toString(target));
        }
        long[] newStrides = new long[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            if (i < lead) continue;
            long s = shape[i - lead];
            if (s == target[i]) newStrides[i] = strides[i - lead];
            else if (s == 1) newStrides[i] = 0;
            else {
                throw new ShapeMismatchException("cannot broadcast shape " + Arrays.toString(shape) + " to "
                        + Arrays.toString(target) + ": size " + s + " vs " + target[i] + " at dimension " + i);
            }
        }
        return new Layout(target.clone(), newStrides, offset, true);
    }

    public Layout permute(int... dims) {
        if (dims.length != shape.length) {
            throw new IllegalArgumentException("permute needs " + shape.length + " dims, got " + Arrays.toString(dims));
        }
        long[] newShape = new long[dims.length], newStrides = new long[dims.length];
        boolean[] seen = new boolean[dims.length];
        for (int i = 0; i < dims.length; i++) {
            int d = normalizeDim(dims[i], shape.length);
            if (seen[d]) throw new IllegalArgumentException("permute repeats dimension " + d + " in " + Arrays.toString(dims));
            seen[d] = true;
            newShape[i] = shape[d];
            newStrides[i] = strides[d];
        }
        return new Layout(newShape, newStrides, offset);
    }

    /** Elements start, start+step, ... below end of dimension {@code dim}; indices already clamped. */
    public Layout slice(int dim, long start, long end, long step) {
        long length = end <= start ? 0 : (end - start - 1) / step + 1;
        long[] newShape = shape.clone(), newStrides = strides.clone();
        newShape[dim] = length;
        // With two or more elements taken, stride * step is within the view's extent; with one or none, a huge
        // step could overflow it and the stride is never used: keep the old one then.
        boolean overflows = Math.multiplyHigh(strides[dim], step) != 0 || strides[dim] * step < 0;
        newStrides[dim] = length <= 1 && overflows ? strides[dim] : strides[dim] * step;
        return new Layout(newShape, newStrides, offset + (length == 0 ? 0 : start * strides[dim]));
    }

    // select, unsqueeze and squeeze make fresh arrays from this layout's valid ones: trusted, no copies or checks
    // (a W1 row view per operand per op spent 4% of its host time validating and copying them).
    public Layout select(int dim, long index) {
        if (index < 0 || index >= shape[dim]) {
            throw new IndexOutOfBoundsException("index " + index + " is out of range for dimension " + dim + " of size "
                    + shape[dim]);
        }
        if (dim != 0) return new Layout(remove(shape, dim), remove(strides, dim), offset + index * strides[dim], true);
        // Rows differ only in their offset: they share one pair of arrays (W1 takes two rows per add).
        Layout r = rows;
        if (r == null) rows = r = new Layout(remove(shape, 0), remove(strides, 0), 0, true);
        return new Layout(r, offset + index * strides[0]);
    }

    /** A row of {@code rows} at {@code offset}: shares its arrays and element count (see {@link #select}). */
    private Layout(Layout rows, long offset) {
        this.shape = rows.shape;
        this.strides = rows.strides;
        this.offset = offset;
        this.numel = rows.numel();
    }

    /**
     * select(0, i)'s shape and strides, made by the first such select (a benign race: every thread makes an equal
     * one, and its final arrays are safely published). The field fills what would be padding: no bigger Layout.
     */
    private Layout rows;

    public Layout unsqueeze(int dim) {
        long stride = dim < shape.length ? shape[dim] * strides[dim] : 1;
        return new Layout(insert(shape, dim, 1), insert(strides, dim, Math.max(stride, 1)), offset, true);
    }

    public Layout squeeze(int dim) {
        if (shape.length == 0 || shape[dim] != 1) return this;
        return new Layout(remove(shape, dim), remove(strides, dim), offset, true);
    }

    public Layout squeezeAll() {
        Layout l = this;
        for (int d = shape.length - 1; d >= 0; d--) l = l.squeeze(d);
        return l;
    }

    /**
     * This view with a new shape of the same element count, if strides can express it (PyTorch's computeStride);
     * null otherwise, in which case reshape has to copy.
     */
    public Layout viewAs(long[] newShape) {
        if (numel(newShape) != numel()) {
            throw new ShapeMismatchException("shape " + Arrays.toString(newShape) + " is invalid for " + numel()
                    + " elements of shape " + Arrays.toString(shape));
        }
        if (numel() == 0 || shape.length == 0) return new Layout(newShape, contiguousStrides(newShape), offset);
        long[] newStrides = new long[newShape.length];
        int viewD = newShape.length - 1;
        long chunkBaseStride = strides[shape.length - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int tensorD = shape.length - 1; tensorD >= 0; tensorD--) {
            tensorNumel *= shape[tensorD];
            boolean chunkEnds = tensorD == 0
                    || (shape[tensorD - 1] != 1 && strides[tensorD - 1] != tensorNumel * chunkBaseStride);
            if (chunkEnds) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    newStrides[viewD] = viewNumel * chunkBaseStride;
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (tensorD > 0) {
                    chunkBaseStride = strides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return new Layout(newShape, newStrides, offset);
    }

    /** Resolves a single -1 entry of a requested shape against the element count. */
    public static long[] inferShape(long[] requested, long numel) {
        long[] out = requested.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (inferred >= 0) throw new ShapeMismatchException("only one dimension can be -1 in " + Arrays.toString(requested));
                inferred = i;
            } else if (out[i] < 0) {
                throw new ShapeMismatchException("invalid size " + out[i] + " in shape " + Arrays.toString(requested));
            } else {
                if (out[i] != 0 && known > MAX_NUMEL / out[i]) throw tooManyElements(requested);
                known *= out[i];
            }
        }
        if (inferred >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new ShapeMismatchException("shape " + Arrays.toString(requested) + " is invalid for " + numel + " elements");
            }
            out[inferred] = numel / known;
        }
        return out;
    }

    static long[] remove(long[] a, int index) {
        long[] out = new long[a.length - 1];
        System.arraycopy(a, 0, out, 0, index);
        System.arraycopy(a, index + 1, out, index, a.length - index - 1);
        return out;
    }

    static long[] insert(long[] a, int index, long value) {
        long[] out = new long[a.length + 1];
        System.arraycopy(a, 0, out, 0, index);
        out[index] = value;
        System.arraycopy(a, index, out, index + 1, a.length - index);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        if (o == this) return true;  // results of one shape share their operand's layout: planning compares them often
        return o instanceof Layout l && offset == l.offset && Arrays.equals(shape, l.shape) && Arrays.equals(strides, l.strides);
    }

    @Override
    public int hashCode() { return Arrays.hashCode(shape) * 31 + Arrays.hashCode(strides) + Long.hashCode(offset); }

    @Override
    public String toString() {
        return "Layout" + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + " offset " + offset;
    }
}
