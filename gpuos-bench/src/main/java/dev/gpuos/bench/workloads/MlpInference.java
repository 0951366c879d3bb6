package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * W6: {@code requests} independent batch-1 requests of a 2-layer MLP, {@code gelu(x @ w1 + b1) @ w2 + b2}
 * (256 -> 256 -> 256), recorded from {@code threads} Java threads at once (request r on thread r mod threads),
 * each thread into a scope of its own. PyTorch runs the same requests in one sequential eager loop.
 */
public final class MlpInference extends WorkloadCase {
    static final int WIDTH = 256;
    private final int requests;
    private final int threads;
    private ExecutorService pool;

    public MlpInference(int requests, int threads) {
        super("W6", "threads=" + threads);
        this.requests = requests;
        this.threads = threads;
    }

    @Override
    public String description() {
        return requests + " batch-1 requests of gelu(x @ w1 + b1) @ w2 + b2 (256-256-256) from " + threads
                + " threads";
    }

    @Override
    public List<InputSpec> inputs() {
        float lo = -1f / 16, span = 1f / 8; // weights in [-1/16, 1/16): activations stay O(1)
        return List.of(InputSpec.symmetric("x", 61, requests, WIDTH),
                new InputSpec("w1", new long[]{WIDTH, WIDTH}, 62, lo, span),
                new InputSpec("b1", new long[]{WIDTH}, 63, lo, span),
                new InputSpec("w2", new long[]{WIDTH, WIDTH}, 64, lo, span),
                new InputSpec("b2", new long[]{WIDTH}, 65, lo, span));
    }

    @Override
    public int rows() {
        return requests;
    }

    @Override
    public long ops() {
        return 5L * requests;
    }

    @Override
    public Accuracy.Tolerance tolerance() {
        return Accuracy.Tolerance.ACCUMULATING;
    }

    @Override
    public String notReplayable() {
        return "its requests are recorded by " + threads + " threads, and a capture takes one recording thread";
    }

    @Override
    public Recorded record(Map<String, Tensor> in) {
        Tensor x = in.get("x"), w1 = in.get("w1"), b1 = in.get("b1"), w2 = in.get("w2"), b2 = in.get("b2");
        Tensor[] rows = new Tensor[requests];
        List<Future<TensorScope>> parts = new ArrayList<>();
        ExecutorService workers = pool();
        for (int t = 0; t < threads; t++) {
            int first = t;
            parts.add(workers.submit(() -> {
                TensorScope scope = TensorScope.open(x.backend());
                try {
                    for (int r = first; r < requests; r += threads) {
                        Tensor h = x.select(0, r).unsqueeze(0).matmul(w1).add(b1).gelu();
                        rows[r] = h.matmul(w2).add(b2).squeeze(0);
                    }
                    return scope;
                } catch (RuntimeException | Error e) {
                    scope.close();
                    throw e;
                }
            }));
        }
        List<TensorScope> scopes = new ArrayList<>();
        RuntimeException failure = null;
        for (Future<TensorScope> part : parts) {
            try {
                scopes.add(part.get());
            } catch (ExecutionException e) {
                failure = failure != null ? failure : new IllegalStateException("a W6 recording thread failed: "
                        + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new IllegalStateException("interrupted while W6 threads were recording", e);
            }
        }
        Recorded recorded = new Recorded(Arrays.asList(rows), scopes);
        if (failure != null) {
            recorded.close();
            throw failure;
        }
        return recorded;
    }

    private synchronized ExecutorService pool() {
        if (pool == null) {
            pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "w6-request");
                t.setDaemon(true); // a pool left behind by a failed run must not keep the JVM alive
                return t;
            });
        }
        return pool;
    }

    @Override
    public double[] reference(Map<String, float[]> in, int row) {
        float[] x = in.get("x"), w1 = in.get("w1"), b1 = in.get("b1"), w2 = in.get("w2"), b2 = in.get("b2");
        double[] h = new double[WIDTH];
        for (int j = 0; j < WIDTH; j++) {
            double s = b1[j];
            for (int i = 0; i < WIDTH; i++) {
                s += (double) x[row * WIDTH + i] * w1[i * WIDTH + j];
            }
            h[j] = 0.5 * s * (1 + Erf.erf(s / Math.sqrt(2)));
        }
        double[] out = new double[WIDTH];
        for (int j = 0; j < WIDTH; j++) {
            double s = b2[j];
            for (int i = 0; i < WIDTH; i++) {
                s += h[i] * w2[i * WIDTH + j];
            }
            out[j] = s;
        }
        return out;
    }
}
