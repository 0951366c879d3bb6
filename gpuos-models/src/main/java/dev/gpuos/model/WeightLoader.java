package dev.gpuos.model;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

/**
 * Uploads a model's weights into one long-lived scope, widened to the compute dtype. A widened weight is converted
 * in a scope of its own, so the stored-dtype copy is freed as soon as the conversion ran instead of living as long
 * as the model.
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
        SafetensorsFile.Entry e = weights.entry(name);
        if (e.type().dtype() == dtype) return weights.load(owner, name, dtype, shape);
        try (TensorScope temp = TensorScope.open(backend)) {
            Tensor t = weights.load(temp, name, dtype, shape).transferTo(owner);
            temp.sync();   // the stored-dtype copy is released when temp closes: let the conversion finish first
            return t;
        }
    }
}
