package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorFactory;
import java.util.Arrays;

/**
 * One named float32 input of a workload case: its shape and the seeded range it is drawn from
 * ({@link SeededInputs}); {@code bench/pytorch/cases.py} declares the same names, shapes, seeds and ranges.
 */
public record InputSpec(String name, long[] shape, long seed, float lo, float span) {
    public InputSpec {
        shape = shape.clone();
        long count = 1;
        for (long s : shape) {
            if (s < 1) {
                throw new IllegalArgumentException("input " + name + ": sizes must be >= 1, got " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, s);
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("input " + name + " " + Arrays.toString(shape) + " has " + count
                    + " elements; a Java array holds at most 2^31-9");
        }
    }

    /** Uniform in [-1, 1), every value exact. */
    static InputSpec symmetric(String name, long seed, long... shape) {
        return new InputSpec(name, shape, seed, -1f, 2f);
    }

    public int count() {
        long c = 1;
        for (long s : shape) {
            c *= s;
        }
        return (int) c;
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public float[] generate() {
        return SeededInputs.generate(seed, count(), lo, span);
    }

    /** The generated values as a tensor of {@code factory}'s backend (one upload). */
    public Tensor upload(TensorFactory factory, float[] values) {
        return factory.tensor(values, shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape) + " seed " + seed + " in [" + lo + ", " + lo + " + " + span + ")";
    }
}
