package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** W1: {@code ops} independent adds {@code a[i] + b[i]} of {@code n} elements each (micro-batched elementwise). */
public final class ElementwiseBatch extends WorkloadCase {
    private final int n;
    private final int ops;

    public ElementwiseBatch(int n, int ops) {
        super("W1", "n=" + n);
        this.n = n;
        this.ops = ops;
    }

    public int n() {
        return n;
    }

    @Override
    public String description() {
        return ops + " independent adds of " + n + " elements";
    }

    @Override
    public List<InputSpec> inputs() {
        return List.of(InputSpec.symmetric("a", 11, ops, n), InputSpec.symmetric("b", 12, ops, n));
    }

    @Override
    public int rows() {
        return ops;
    }

    @Override
    public long ops() {
        return ops;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ELEMENTWISE;
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor a = in.get("a"), b = in.get("b");
        List<Tensor> rows = rowList(ops);
        for (int i = 0; i < ops; i++) {
            rows.add(a.select(0, i).add(b.select(0, i)));
        }
        return Recorded.of(rows);
    }

    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] a = in.get("a"), b = in.get("b");
        double[] out = new double[n];
        for (int j = 0, at = row * n; j < n; j++, at++) {
            out[j] = a[at] + b[at]; // a float add, as on the GPU
        }
        return out;
    }

    @Override
    public Optional<BinaryProgram> rawProgram() {
        long elements = (long) ops * n;
        List<BinaryProgram.Buffer> buffers = List.of(new BinaryProgram.Buffer("a", elements, "a"),
                new BinaryProgram.Buffer("b", elements, "b"), new BinaryProgram.Buffer("out", elements, null));
        List<BinaryProgram.Task> tasks = new ArrayList<>(ops);
        List<BinaryProgram.Operand> rows = new ArrayList<>(ops);
        for (int i = 0; i < ops; i++) {
            long at = (long) i * n;
            BinaryProgram.Operand out = new BinaryProgram.Operand(2, at);
            tasks.add(new BinaryProgram.Task(out, new BinaryProgram.Operand(0, at), new BinaryProgram.Operand(1, at)));
            rows.add(out);
        }
        return Optional.of(new BinaryProgram("add_f32", n, buffers, tasks, false, rows));
    }
}
