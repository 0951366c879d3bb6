package dev.gpuos.bench.workloads;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
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
 * match that regular expression.
 */
public final class HostCostRun {
    private final PrintStream out;

    public HostCostRun(PrintStream out) {
        this.out = out;
    }

    public int run(Path outDir) throws RunnerException, IOException {
        String only = System.getenv().getOrDefault("GPUOS_HOST_BENCH", ".*");
        Options options = new OptionsBuilder()
                .include(HostCostBenchmark.class.getName() + "\\." + only)
                .addProfiler("gc")
                .verbosity(VerboseMode.SILENT)
                .build();
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
