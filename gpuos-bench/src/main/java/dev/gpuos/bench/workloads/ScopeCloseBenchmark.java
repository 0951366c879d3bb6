package dev.gpuos.bench.workloads;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.LongAdder;

/**
 * What closing scopes costs on the CPU backends (issue 15): {@code threads} threads each fill a scope of their
 * own with {@code buffers / threads} small tensors on one shared backend, wait for each other, and close their
 * scopes at the same moment. Prints the summed close time over the threads, the time per buffer and the wall
 * time of the concurrent closes, for the eager and the batched backend, best of {@code rounds}.
 *
 * <p>Run: {@code java -cp 'gpuos-bench.jar:lib/*' dev.gpuos.bench.workloads.ScopeCloseBenchmark [threads]
 * [buffers] [rounds]} (defaults 8, 160000, 5).
 */
public final class ScopeCloseBenchmark {
    private ScopeCloseBenchmark() {}

    public record Result(String backend, int threads, int buffers, long summedCloseNanos, long wallNanos) {
        double microsPerBuffer() { return summedCloseNanos / 1e3 / buffers; }

        @Override
        public String toString() {
            return String.format("%-12s %d threads x %,d buffers: summed close %,.1f ms (%.3f us/buffer), concurrent"
                            + " closes took %,.1f ms wall", backend, threads, buffers / threads, summedCloseNanos / 1e6,
                    microsPerBuffer(), wallNanos / 1e6);
        }
    }

    public static Result measure(String label, Backend backend, int threads, int buffers) throws Exception {
        int perThread = buffers / threads;
        CyclicBarrier filled = new CyclicBarrier(threads);
        LongAdder summed = new LongAdder();
        long[] firstStart = {Long.MAX_VALUE}, lastEnd = {0};
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    TensorScope scope = TensorScope.open(backend);
                    for (int i = 0; i < perThread; i++) scope.zeros(DType.F32, 16);
                    scope.sync();
                    filled.await();
                    long t0 = System.nanoTime();
                    scope.close();
                    long t1 = System.nanoTime();
                    summed.add(t1 - t0);
                    synchronized (firstStart) {
                        firstStart[0] = Math.min(firstStart[0], t0);
                        lastEnd[0] = Math.max(lastEnd[0], t1);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread w : workers) w.join();
        if (!failures.isEmpty()) throw new IllegalStateException("a worker failed", failures.getFirst());
        return new Result(label, threads, perThread * threads, summed.sum(), lastEnd[0] - firstStart[0]);
    }

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int buffers = args.length > 1 ? Integer.parseInt(args[1]) : 160_000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        for (String kind : List.of("cpu-eager", "cpu-batched")) {
            Result best = null;
            for (int r = 0; r < rounds; r++) {
                Backend backend = kind.equals("cpu-eager") ? CpuBackend.eager()
                        : CpuBackend.batched(1024, Duration.ofMillis(1));
                Result res = measure(kind, backend, threads, buffers);
                if (best == null || res.summedCloseNanos() < best.summedCloseNanos()) best = res;
            }
            System.out.println("scope close, best of " + rounds + ": " + best);
        }
    }
}
