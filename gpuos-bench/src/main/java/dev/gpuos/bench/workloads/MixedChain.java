package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * W2: {@code iterations} times {@code x = a+b; y = x*c; z = relu(y); w = sigmoid(z); out = w/d} on {@code n}
 * elements, iteration k on row k of each input (so no iteration's result can be reused for another).
 */
public final class MixedChain extends WorkloadCase {
    private final int n;
    private final int iterations;

    public MixedChain(int n, int iterations) {
        super("W2", "n=" + n);
        this.n = n;
        this.iterations = iterations;
    }

    @Override
    public String description() {
        return iterations + " x (add, mul, relu, sigmoid, div) on " + n + " elements";
    }

    @Override
    public List<InputSpec> inputs() {
        return List.of(InputSpec.symmetric("a", 21, iterations, n), InputSpec.symmetric("b", 22, iterations, n),
                InputSpec.symmetric("c", 23, iterations, n),
                new InputSpec("d", new long[]{iterations, n}, 24, 1f, 1f)); // [1, 2): no division by ~0
    }

    @Override
    public int rows() {
        return iterations;
    }

    @Override
    public long ops() {
        return 5L * iterations;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ELEMENTWISE;
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor a = in.get("a"), b = in.get("b"), c = in.get("c"), d = in.get("d");
        List<Tensor> rows = rowList(iterations);
        for (int k = 0; k < iterations; k++) {
            Tensor x = a.select(0, k).add(b.select(0, k));
            Tensor y = x.mul(c.select(0, k));
            rows.add(y.relu().sigmoid().div(d.select(0, k)));
        }
        return Recorded.of(rows);
    }

    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] a = in.get("a"), b = in.get("b"), c = in.get("c"), d = in.get("d");
        double[] out = new double[n];
        for (int j = 0, at = row * n; j < n; j++, at++) {
            float y = (a[at] + b[at]) * c[at]; // float add and mul, as every backend does them
            double z = Math.max(y, 0f);
            out[j] = 1.0 / (1.0 + Math.exp(-z)) / d[at];
        }
        return out;
    }
}
