package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * One workload at one size (e.g. W1 at n = 1024): its seeded inputs, the program written once with the tensor
 * API, and a plain-Java reference. {@code bench/pytorch/cases.py} mirrors every case: same names, shapes,
 * seeds, ops and output rows.
 *
 * <p>The output is a list of rows, one per op, iteration or request; rows are what accuracy is judged on and
 * what the probe files carry to {@code run.py}.
 */
public abstract class WorkloadCase {
    private final String workload;
    private final String label;

    protected WorkloadCase(String workload, String label) {
        this.workload = workload;
        this.label = label;
    }

    /** "W1" .. "W6". */
    public final String workload() {
        return workload;
    }

    /** The size of this case, e.g. "n=1024". */
    public final String label() {
        return label;
    }

    /** File-name form: "W1_n1024". */
    public final String key() {
        return workload + "_" + label.replaceAll("[^A-Za-z0-9]+", "");
    }

    public abstract String description();

    public abstract List<InputSpec> inputs();

    /** Number of output rows. */
    public abstract int rows();

    /** Tensor-API ops the program records (for per-op figures). */
    public abstract long ops();

    public abstract Accuracy.Tolerance tolerance();

    /**
     * Records the whole workload on the backend of {@code inputs}, results owned by the calling thread's current
     * scope (or scopes the result opens, see {@link Recorded}); no sync point inside.
     */
    public abstract Recorded record(Map<String, Tensor> inputs);

    /** Row {@code row} computed on the host from the same inputs. */
    public abstract double[] reference(Map<String, float[]> inputs, int row);

    /** The same workload as raw tasks of one binary operator, where that makes sense (W1, W5). */
    /**
     * Null if {@link #record} can be captured once and replayed ({@code GpuBackend.capture}: one recording
     * thread, no uploads, no reads), else why not.
     */
    public String notReplayable() {
        return null;
    }

    public Optional<BinaryProgram> rawProgram() {
        return Optional.empty();
    }

    /** Rows written to the probe files: every {@code max(1, rows/16)}-th row and the last (as cases.py). */
    public final int[] probeRows() {
        int n = rows();
        int step = Math.max(1, n / 16);
        TreeSet<Integer> rows = new TreeSet<>();
        for (int k = 0; k < n; k += step) {
            rows.add(k);
        }
        rows.add(n - 1);
        return rows.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String toString() {
        return workload + " " + label;
    }

    /**
     * The outputs of one recorded run, one tensor per row, and any scopes the recording opened on other threads
     * (W6 records from 8 threads, each into a scope of its own); closing releases those scopes.
     */
    public record Recorded(List<Tensor> rows, List<TensorScope> scopes) implements AutoCloseable {
        public static Recorded of(List<Tensor> rows) {
            return new Recorded(rows, List.of());
        }

        @Override
        public void close() {
            for (TensorScope s : scopes) {
                s.close();
            }
        }
    }

    static List<Tensor> rowList(int capacity) {
        return new ArrayList<>(capacity);
    }

    static double[] toDouble(float[] values, int from, int count) {
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            out[i] = values[from + i];
        }
        return out;
    }
}
