package dev.gpuos.tensor.gpu;

import java.util.Arrays;

/**
 * Dimension bookkeeping shared by the task builders. Coalescing merges neighbouring dimensions that every
 * operand walks as one (stride[d] == stride[d+1] * size[d+1]) and drops size-1 dimensions: row-major order is
 * unchanged, so flat indices keep their meaning, but operators do fewer divisions per element and most views
 * fit the descriptor's 8 dimensions even when the tensor has more.
 */
final class Dims {
    private Dims() {}

    /** Coalesced shape and strides: {@code result[0]} is the shape, {@code result[1 + k]} operand k's strides. */
    static long[][] coalesce(long[] shape, long[]... strides) {
        int rank = shape.length, n = strides.length;
        long[] outShape = new long[rank];
        long[][] outStrides = new long[n][rank];
        int r = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 1) continue;
            boolean merge = r > 0;
            for (int k = 0; merge && k < n; k++) merge = outStrides[k][r - 1] == strides[k][d] * shape[d];
            if (merge) {
                outShape[r - 1] *= shape[d];
                for (int k = 0; k < n; k++) outStrides[k][r - 1] = strides[k][d];
            } else {
                outShape[r] = shape[d];
                for (int k = 0; k < n; k++) outStrides[k][r] = strides[k][d];
                r++;
            }
        }
        long[][] result = new long[n + 1][];
        result[0] = Arrays.copyOf(outShape, r);
        for (int k = 0; k < n; k++) result[k + 1] = Arrays.copyOf(outStrides[k], r);
        return result;
    }

    /** The entries of {@code a} at {@code dims}, in that order. */
    static long[] pick(long[] a, int[] dims) {
        long[] out = new long[dims.length];
        for (int i = 0; i < dims.length; i++) out[i] = a[dims[i]];
        return out;
    }

    static long[] concat(long[] a, long... b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static int[] range(int from, int to) {
        int[] out = new int[Math.max(0, to - from)];
        for (int i = 0; i < out.length; i++) out[i] = from + i;
        return out;
    }

    static long product(long[] a) {
        long n = 1;
        for (long v : a) n = Math.multiplyExact(n, v);
        return n;
    }

    /** Tile size and count for {@code n} work items: at least {@code minTile} per tile, at most 4096 tiles. */
    static int[] tiling(long n, int minTile) {
        return tiling(n, minTile, 1);
    }

    /**
     * As {@link #tiling(long, int)}, with the tile size a multiple of {@code multiple} (a power of two): tiles
     * then start on multiples of it, so an operator that moves packs of up to that many elements finds whole
     * packs in every tile of a dense operand, with a short tail only in the last.
     */
    static int[] tiling(long n, int minTile, int multiple) {
        if (multiple < 1 || Integer.bitCount(multiple) != 1 || minTile % multiple != 0) {
            throw new IllegalArgumentException("tile multiple " + multiple + " must be a power of two dividing the"
                    + " minimum tile " + minTile);
        }
        long size = Math.max(minTile, Math.ceilDiv(Math.max(n, 1), dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        size = Math.ceilDiv(size, multiple) * multiple;
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(n + " work items do not fit 4096 tiles of at most 2^31-1 each");
        }
        return new int[]{(int) size, (int) Math.max(1, Math.ceilDiv(n, size))};
    }
}
