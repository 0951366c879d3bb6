package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.Layout;

/**
 * Walks a shape in row-major order and keeps, for several layouts of that shape at once, the storage offset of
 * the current element. Advancing costs one add per layout in the common case (no carry), so kernels need no
 * per-element division.
 */
final class StridedCursor {
    private final long[] shape;
    private final long[][] strides;
    private final long[] offsets;
    private final long[] index;

    /** Every layout must have rank {@code shape.length}; their own sizes are ignored. */
    StridedCursor(long[] shape, Layout... layouts) {
        this.shape = shape;
        this.strides = new long[layouts.length][];
        this.offsets = new long[layouts.length];
        for (int k = 0; k < layouts.length; k++) {
            strides[k] = layouts[k].strides();
            offsets[k] = layouts[k].offset();
        }
        this.index = new long[shape.length];
    }

    long offset(int layout) { return offsets[layout]; }

    /** Current position along dimension {@code dim}. */
    long index(int dim) { return index[dim]; }

    void next() {
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d]++;
            for (int k = 0; k < offsets.length; k++) offsets[k] += strides[k][d];
            if (index[d] < shape[d]) return;
            for (int k = 0; k < offsets.length; k++) offsets[k] -= strides[k][d] * shape[d];
            index[d] = 0;
        }
    }
}
