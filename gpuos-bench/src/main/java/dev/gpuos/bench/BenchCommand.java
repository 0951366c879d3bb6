package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code gpuos bench [--out DIR]}: runs the benchmarks on the GPU and writes results under DIR. */
final class BenchCommand implements CliCommand {
    private final PrintStream out;

    BenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "measure the runtime on the GPU (round trip, 10k adds, chains, swap pause, JIT) and workloads W1-W6; --out DIR [--only runtime|workloads|host]";
    }

    @Override
    public String usage() {
        return """
                --out DIR                          where the results go (default: results)
                --only runtime|workloads|interp|host
                                                   one part only (interp: the interpreter tier, run only on request;
                                                   host: the host cost per op, JMH, needs no GPU)
                -h, --help                         this text""";
    }

    @Override
    public int run(List<String> args) throws Exception {
        Path outDir = Path.of("results");
        String only = "all";
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--out" -> {
                    if (i + 1 >= args.size()) {
                        throw new CliUsageException("--out needs a directory");
                    }
                    outDir = Path.of(args.get(++i));
                }
                case "--only" -> {
                    if (i + 1 >= args.size() || !List.of("runtime", "workloads", "interp", "host").contains(args.get(i + 1))) {
                        throw new CliUsageException("--only needs 'runtime', 'workloads', 'interp' or 'host'");
                    }
                    only = args.get(++i);
                }
                default -> throw new CliUsageException("unknown option " + args.get(i)
                        + " (known: --out DIR, --only runtime|workloads|interp|host)");
            }
        }
        if (only.equals("host")) {  // issue 12: the host path per op, on the simulated device
            return new dev.gpuos.bench.workloads.HostCostRun(out).run(outDir);
        }
        if (!GpuOS.gpuAvailable()) {
            out.println("bench: no GPU here (" + GpuOS.gpuUnavailableReason()
                    + "); the benchmarks measure the GPU runtime and need one");
            return 1;
        }
        if (only.equals("interp")) {  // issue 6: the interpreter tier (only on request)
            new InterpBenchmark(out).run(outDir);
            return 0;
        }
        if (!only.equals("workloads")) {
            new RuntimeBenchmark(out).run(outDir);
        }
        if (!only.equals("runtime")) {
            new dev.gpuos.bench.workloads.WorkloadBenchmark(out).run(outDir);
        }
        return 0;
    }
}
