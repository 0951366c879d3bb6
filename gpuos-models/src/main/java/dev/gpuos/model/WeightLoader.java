package dev.gpuos.model;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

/**
 * Uploads a model's weights into one long-lived scope as a given dtype (the compute dtype, or f32 for the small
 * norm weights). A converted weight is converted in a scope of its own, so the stored-dtype copy is freed as soon
 * as the conversion ran instead of living as long as the model.
 */
final class WeightLoader {
    private final ModelWeights weights;
    private final TensorScope owner;
    private final Backend backend;
    private final DType dtype;

    WeightLoader(ModelWeights weights, TensorScope owner, DType dtype) {
        this.weights = weights;
        this.owner = owner;
        this.backend = owner.backend();
        this.dtype = dtype;
    }

    Tensor load(String name, long... shape) {
        return load(dtype, name, shape);
    }

    /** {@code name} as {@code as}, whatever the loader's dtype. */
    Tensor load(DType as, String name, long... shape) {
        SafetensorsFile.Entry e = weights.entry(name);
        if (e.type().dtype() == as) return weights.load(owner, name, as, shape);
        try (TensorScope temp = TensorScope.open(backend)) {
            Tensor t = weights.load(temp, name, as, shape).transferTo(owner);
            temp.sync();   // the stored-dtype copy is released when temp closes: let the conversion finish first
            return t;
        }
    }

    /**
     * The weights {@code names} (each [rows_i, cols], or [rows_i] where {@code cols} is 0: biases) stacked along
     * dim 0 into one [sum rows_i, cols] (or [sum rows_i]) tensor of the loader's dtype: products that read the same
     * input (a layer's q, k and v projections; gate and up) become one product, one task and one pass over the input.
     * Stored in that dtype and back to back in the file, they are uploaded as the one slice of the mapping they
     * form (recorded like any weight's upload: no host copy, no sync); otherwise stacked on the host.
     */
    Tensor stacked(long cols, String[] names, long[] rows) {
        return stacked(dtype, cols, names, rows);
    }

    /** {@link #stacked(long, String[], long[])} as {@code as}, whatever the loader's dtype. */
    Tensor stacked(DType as, long cols, String[] names, long[] rows) {
        long total = 0;
        boolean stored = true;
        for (int i = 0; i < names.length; i++) {
            total += rows[i];
            stored &= weights.entry(names[i]).type().dtype() == as;
        }
        if (stored) {
            long[][] shapes = new long[names.length][];
            for (int i = 0; i < names.length; i++) shapes[i] = shape(rows[i], cols);
            // back to back in the file (gate and up): the file's own bytes are the stacked weight
            java.lang.foreign.MemorySegment span = weights.adjacentBytes(names, shapes);
            if (span != null) return owner.tensor(span, as, shape(total, cols));
            return stackedOnHost(as, cols, names, rows, total);
        }
        Tensor out = cols == 0 ? owner.zeros(as, total) : owner.zeros(as, total, cols);
        long at = 0;
        for (int i = 0; i < names.length; i++) {
            try (TensorScope temp = TensorScope.open(backend)) {
                long[] shape = shape(rows[i], cols);
                out.narrow(0, at, rows[i]).copyFrom(weights.load(temp, names[i], as, shape));
                temp.sync();   // the copy has read the temporary before temp releases it
            }
            at += rows[i];
        }
        return out;
    }

    private static long[] shape(long rows, long cols) {
        return cols == 0 ? new long[]{rows} : new long[]{rows, cols};
    }

    /** Bytes one thread copies at a time when a stacked weight is assembled on the host. */
    private static final long SLICE = 4L << 20;

    /**
     * Weights stored in the target dtype stacked on the host: their bytes copied side by side (several threads:
     * a mapped file reads from the page cache at a few GB/s per thread) and uploaded as one tensor. No fill, no
     * copy task on the device, no operator to compile during a load, one upload per stacked weight.
     */
    private Tensor stackedOnHost(DType as, long cols, String[] names, long[] rows, long total) {
        long width = (cols == 0 ? 1 : cols) * as.byteSize();
        try (java.lang.foreign.Arena staging = java.lang.foreign.Arena.ofShared()) {
            java.lang.foreign.MemorySegment host = staging.allocate(total * width, 64);
            long at = 0;
            for (int i = 0; i < names.length; i++) {
                java.lang.foreign.MemorySegment src = weights.bytes(names[i], shape(rows[i], cols));
                long base = at;
                java.util.stream.LongStream.range(0, Math.ceilDiv(src.byteSize(), SLICE)).parallel().forEach(s -> {
                    long off = s * SLICE;
                    java.lang.foreign.MemorySegment.copy(src, off, host, base + off, Math.min(SLICE, src.byteSize() - off));
                });
                at += src.byteSize();
            }
            Tensor out = owner.tensor(host, as, shape(total, cols));
            owner.sync();   // the upload read the staging bytes before they are freed
            return out;
        }
    }
}
