package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** W4: {@code iterations} x {@code sum(dim=-1)} over a (rows, cols) matrix, iteration k on slice k of the input. */
public final class SmallReductions extends WorkloadCase {
    private final int rowsPer;
    private final int cols;
    private final int iterations;

    public SmallReductions(int rows, int cols, int iterations) {
        super("W4", rows + "x" + cols);
        this.rowsPer = rows;
        this.cols = cols;
        this.iterations = iterations;
    }

    @Override
    public String description() {
        return iterations + " x sum(dim=-1) over (" + rowsPer + ", " + cols + ")";
    }

    @Override
    public List<InputSpec> inputs() {
        return List.of(InputSpec.symmetric("x", 41, iterations, rowsPer, cols));
    }

    @Override
    public int rows() {
        return iterations;
    }

    @Override
    public long ops() {
        return iterations;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ACCUMULATING;
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor x = in.get("x");
        List<Tensor> rows = rowList(iterations);
        int[] last = {-1};
        for (int k = 0; k < iterations; k++) {
            rows.add(x.select(0, k).sum(last, false));
        }
        return Recorded.of(rows);
    }

    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] x = in.get("x");
        double[] out = new double[rowsPer];
        int at = row * rowsPer * cols;
        for (int r = 0; r < rowsPer; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += x[at++];
            }
            out[r] = s;
        }
        return out;
    }
}
