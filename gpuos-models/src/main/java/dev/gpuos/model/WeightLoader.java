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
     */
    Tensor stacked(long cols, String[] names, long[] rows) {
        return stacked(dtype, cols, names, rows);
    }

    /** {@link #stacked(long, String[], long[])} as {@code as}, whatever the loader's dtype. */
    Tensor stacked(DType as, long cols, String[] names, long[] rows) {
        long total = 0;
        for (long r : rows) total += r;
        Tensor out = cols == 0 ? owner.zeros(as, total) : owner.zeros(as, total, cols);
        long at = 0;
        for (int i = 0; i < names.length; i++) {
            try (TensorScope temp = TensorScope.open(backend)) {
                long[] shape = cols == 0 ? new long[]{rows[i]} : new long[]{rows[i], cols};
                out.narrow(0, at, rows[i]).copyFrom(weights.load(temp, names[i], as, shape));
                temp.sync();   // the copy has read the temporary before temp releases it
            }
            at += rows[i];
        }
        return out;
    }
}
