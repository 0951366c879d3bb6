package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** W5: {@code steps} dependent multiplies {@code x = x * c} on {@code n} elements; c in [0.999, 1.001). */
public final class DependentChain extends WorkloadCase {
    private final int n;
    private final int steps;

    public DependentChain(int n, int steps) {
        super("W5", "n=" + n);
        this.n = n;
        this.steps = steps;
    }

    @Override
    public String description() {
        return steps + " dependent multiplies x = x * c on " + n + " elements";
    }

    @Override
    public List<InputSpec> inputs() {
        return List.of(InputSpec.symmetric("x", 51, n), new InputSpec("c", new long[]{n}, 52, 0.999f, 0.002f));
    }

    @Override
    public int rows() {
        return 1;
    }

    @Override
    public long ops() {
        return steps;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ELEMENTWISE;
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor x = in.get("x"), c = in.get("c");
        for (int s = 0; s < steps; s++) {
            x = x.mul(c);
        }
        return Recorded.of(List.of(x));
    }

    /** Rounded to float after every step, as eager PyTorch does it (the order defines the float result). */
    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] x = in.get("x").clone(), c = in.get("c");
        for (int s = 0; s < steps; s++) {
            for (int j = 0; j < n; j++) {
                x[j] *= c[j];
            }
        }
        return toDouble(x, 0, n);
    }

    /** Ping-pong between two scratch buffers; task t reads what task t-1 wrote. */
    @Override
    public Optional<BinaryProgram> rawProgram() {
        List<BinaryProgram.Buffer> buffers = List.of(new BinaryProgram.Buffer("x", n, "x"),
                new BinaryProgram.Buffer("c", n, "c"), new BinaryProgram.Buffer("even", n, null),
                new BinaryProgram.Buffer("odd", n, null));
        List<BinaryProgram.Task> tasks = new ArrayList<>(steps);
        BinaryProgram.Operand c = new BinaryProgram.Operand(1, 0);
        BinaryProgram.Operand current = new BinaryProgram.Operand(0, 0);
        for (int s = 0; s < steps; s++) {
            BinaryProgram.Operand out = new BinaryProgram.Operand(2 + (s & 1), 0);
            tasks.add(new BinaryProgram.Task(out, current, c));
            current = out;
        }
        return Optional.of(new BinaryProgram("mul_f32", n, buffers, tasks, true, List.of(current)));
    }
}
