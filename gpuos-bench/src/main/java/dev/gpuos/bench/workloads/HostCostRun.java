package dev.gpuos.bench.workloads;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import dev.gpuos.tensor.Tensor;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code gpuos bench --only host}: runs {@link HostCostBenchmark} under JMH with the allocation profiler and
 * prints ns and bytes per op (no GPU needed). {@code GPUOS_HOST_BENCH} narrows it to the benchmarks whose names
 * match that regular expression. First it times {@code gpuStreamedAdd}, and W1 as written (row views, a task per
 * add), up to the submission of its last task
 * (the sync's wait for the simulated device left out) by the CPU time and allocation of the thread doing the
 * host work (the median of 60 rounds of 8192 ops, after 150 of warm-up): on a shared machine wall time counts other
 * processes' time slices too, CPU time does not.
 */
public final class HostCostRun {
    private final PrintStream out;

    public HostCostRun(PrintStream out) {
        this.out = out;
    }

    /**
     * gpuStreamedAdd by CPU time and allocated bytes per op of the benchmark thread, which does all of the host
     * work: front end, recording, planning, encoding, submission.
     */
    private void cpuTime() {
        HostCostBenchmark b = new HostCostBenchmark();
        b.setUp();
        try {
            cpuTime("gpuStreamedAdd", b::gpuStreamedAdds);
            cpuTime("gpuStreamedRowAdd (W1 as written)", b::gpuStreamedRowAdds);
        } finally {
            b.tearDown();
        }
    }

    /** One streamed loop of {@link HostCostBenchmark#STREAMED_OPS} ops: what it makes, and when all is submitted. */
    private interface StreamedLoop {
        void run(java.util.function.Consumer<Tensor> sink, Runnable submitted);
    }

    private void cpuTime(String name, StreamedLoop loop) {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        // 30 warm-up rounds left C2 still compiling on a loaded 2-core machine (medians of one build moved 2x
        // between runs); 150 take a second or two more.
        int rounds = 60, warmUp = 150;
        long[] cpu = new long[rounds], bytes = new long[rounds];
        Tensor[] last = new Tensor[1];
        for (int r = -warmUp; r < rounds; r++) {
            long c0 = hostCpu(threads, true), a0 = hostCpu(threads, false);
            int round = r;
            loop.run(t -> last[0] = t, () -> {
                if (round < 0) return;
                cpu[round] = hostCpu(threads, true) - c0;
                bytes[round] = hostCpu(threads, false) - a0;
            });
        }
        java.util.Arrays.sort(cpu);
        java.util.Arrays.sort(bytes);
        double ops = HostCostBenchmark.STREAMED_OPS;
        out.printf("%s by CPU time of the recording thread: %.0f ns/op (p10 %.0f, p90 %.0f), %.0f bytes/op%n", name,
                cpu[rounds / 2] / ops, cpu[rounds / 10] / ops, cpu[rounds * 9 / 10] / ops, bytes[rounds / 2] / ops);
    }

    /** CPU nanoseconds (or allocated bytes) so far of this thread. */
    private static long hostCpu(com.sun.management.ThreadMXBean threads, boolean cpu) {
        return cpu ? threads.getCurrentThreadCpuTime() : threads.getCurrentThreadAllocatedBytes();
    }

    public int run(Path outDir) throws RunnerException, IOException {
        cpuTime();
        String only = System.getenv().getOrDefault("GPUOS_HOST_BENCH", ".*");
        Options options = new OptionsBuilder()
                .include(HostCostBenchmark.class.getName() + "\\." + only)
                .addProfiler("gc")
                .verbosity(VerboseMode.SILENT)
                .build();
        out.println("JMH (wall time), " + HostCostBenchmark.OPS + " ops per invocation:");
        out.println("host cost per op (JMH, " + HostCostBenchmark.OPS + " ops per invocation; this takes about a minute"
                + " per benchmark)");
        Collection<RunResult> results = new Runner(options).run();
        StringBuilder table = new StringBuilder(String.format("%-24s %14s %12s%n", "benchmark", "ns/op", "bytes/op"));
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            Result<?> time = r.getPrimaryResult();
            Result<?> bytes = r.getSecondaryResults().get("gc.alloc.rate.norm");
            table.append(String.format("%-24s %8.1f ± %-5.0f %10.0f%n", name, time.getScore(), time.getScoreError(),
                    bytes == null ? Double.NaN : bytes.getScore()));
        }
        out.print(table);
        Files.createDirectories(outDir);
        Files.writeString(outDir.resolve("host-cost.txt"), table.toString());
        return 0;
    }
}
