package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * W3: the decode step of attention for {@code tokens} tokens against a fixed cache of length {@code length}:
 * {@code softmax(q_t @ K^T / 8) @ V} with q_t of 1x64, K and V of length x 64 (K^T is a transposed view).
 */
public final class AttentionDecode extends WorkloadCase {
    static final int HEAD = 64;
    private final int length;
    private final int tokens;

    public AttentionDecode(int length, int tokens) {
        super("W3", "L=" + length);
        this.length = length;
        this.tokens = tokens;
    }

    @Override
    public String description() {
        return tokens + " tokens of softmax(q @ K^T / 8) @ V, head 64, cache length " + length;
    }

    @Override
    public List<InputSpec> inputs() {
        return List.of(InputSpec.symmetric("q", 31, tokens, HEAD), InputSpec.symmetric("k", 32, length, HEAD),
                InputSpec.symmetric("v", 33, length, HEAD));
    }

    @Override
    public int rows() {
        return tokens;
    }

    @Override
    public long ops() {
        return 4L * tokens;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ACCUMULATING;
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor q = in.get("q"), kt = in.get("k").transpose(0, 1), v = in.get("v");
        List<Tensor> rows = rowList(tokens);
        for (int t = 0; t < tokens; t++) {
            Tensor scores = q.select(0, t).unsqueeze(0).matmul(kt);
            rows.add(scores.div(8.0).softmax(-1).matmul(v).squeeze(0));
        }
        return Recorded.of(rows);
    }

    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] q = in.get("q"), k = in.get("k"), v = in.get("v");
        double[] p = new double[length];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < length; j++) {
            double s = 0;
            for (int i = 0; i < HEAD; i++) {
                s += (double) q[row * HEAD + i] * k[j * HEAD + i];
            }
            p[j] = s / 8;
            max = Math.max(max, p[j]);
        }
        double total = 0;
        for (int j = 0; j < length; j++) {
            p[j] = Math.exp(p[j] - max);
            total += p[j];
        }
        double[] out = new double[HEAD];
        for (int j = 0; j < length; j++) {
            double w = p[j] / total;
            for (int c = 0; c < HEAD; c++) {
                out[c] += w * v[j * HEAD + c];
            }
        }
        return out;
    }
}
