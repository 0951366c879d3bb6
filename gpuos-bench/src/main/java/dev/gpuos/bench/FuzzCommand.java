package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.bench.workloads.ResultFiles;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.Interpreter;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code gpuos fuzz}: differential fuzzing of the tensor API. Generated programs run on the backend under test
 * and on the eager CPU backend; mismatches beyond the dtype tolerances are shrunk and printed as reproducers
 * (seed + op list). {@code --backend cpu} tests the batched CPU backend (the lazy path) against the eager one;
 * the CI slice checks the CPU backend itself against an independent reference (FuzzSliceTest).
 */
final class FuzzCommand implements CliCommand {
    private final PrintStream out;

    FuzzCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public String name() {
        return "fuzz";
    }

    @Override
    public String summary() {
        return "differential fuzzing of the tensor API against the CPU backend; [--programs N] [--seed S] "
                + "[--backend gpu|cpu] [--out DIR] [--minutes M]";
    }

    @Override
    public int run(List<String> args) throws Exception {
        long programs = 100_000, seed = 1;
        String backend = GpuOS.gpuAvailable() ? "gpu" : "cpu";
        Path outDir = Path.of("results", "fuzz");
        double minutes = 60;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (i + 1 >= args.size()) throw new CliUsageException(a + " needs a value");
            String v = args.get(++i);
            try {
                switch (a) {
                    case "--programs" -> programs = Long.parseLong(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--minutes" -> minutes = Double.parseDouble(v);
                    case "--out" -> outDir = Path.of(v);
                    case "--backend" -> {
                        if (!v.equals("gpu") && !v.equals("cpu")) throw new CliUsageException("--backend needs gpu or cpu");
                        backend = v;
                    }
                    default -> throw new CliUsageException("unknown option " + a
                            + " (known: --programs N, --seed S, --backend gpu|cpu, --out DIR, --minutes M)");
                }
            } catch (NumberFormatException e) {
                throw new CliUsageException(a + " needs a number, got '" + v + "'");
            }
        }
        if (backend.equals("gpu") && !GpuOS.gpuAvailable()) {
            out.println("fuzz: no GPU here (" + dev.gpuos.cuda.Driver.unavailableReason() + "); use --backend cpu");
            return 1;
        }
        Duration budget = Duration.ofMillis((long) (minutes * 60_000));
        long every = Math.max(100, Math.min(10_000, programs / 20));
        out.printf("fuzz: %,d programs from seed %d on %s vs cpu (eager), at most %.1f min%n", programs, seed, backend, minutes);
        if (backend.equals("cpu")) {
            Backend batched = CpuBackend.batched(GpuBackend.DEFAULT_MAX_NODES, GpuBackend.DEFAULT_MAX_AGE);
            return finish(fuzz(batched, seed, programs, budget, every), "cpu-batched", seed, outDir, Map.of());
        }
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = new GpuBackend(os);
            out.println("fuzz: GPU " + os.deviceName());
            DifferentialFuzzer.Report report = fuzz(gpu, seed, programs, budget, every);
            GpuBackend.Stats s = gpu.stats();
            Map<String, Object> stats = new LinkedHashMap<>();
            stats.put("device", os.deviceName());
            stats.put("submissions", s.submissions());
            stats.put("tasks", s.tasks());
            stats.put("operatorsCompiled", s.operatorsCompiled());
            return finish(report, "gpu", seed, outDir, stats);
        }
    }

    private DifferentialFuzzer.Report fuzz(Backend tested, long seed, long programs, Duration budget, long every) {
        CpuBackend cpu = CpuBackend.eager();
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, tested));
        return fuzzer.run(seed, programs, budget, every, line -> out.println("fuzz: " + line));
    }

    private int finish(DifferentialFuzzer.Report r, String backend, long seed, Path outDir, Map<String, Object> device)
            throws Exception {
        out.printf("fuzz: %,d programs (seeds %d..%d), %,d ops, %d mismatches, %d steps rejected by the API, "
                        + "%.1f s, %.0f programs/s%n", r.programs(), seed, seed + r.programs() - 1, r.ops(),
                r.mismatches(), r.rejected(), r.elapsed().toMillis() / 1e3, r.programsPerSecond());
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("backend", backend);
        json.put("against", "cpu (eager)");
        json.put("firstSeed", seed);
        json.put("programs", r.programs());
        json.put("ops", r.ops());
        json.put("mismatches", r.mismatches());
        json.put("rejectedSteps", r.rejected());
        json.put("elapsedSeconds", r.elapsed().toMillis() / 1e3);
        json.put("programsPerSecond", r.programsPerSecond());
        Map<String, Object> counts = new LinkedHashMap<>();
        for (Map.Entry<FuzzOp, Long> e : r.opCounts().entrySet()) counts.put(e.getKey().apiName(), e.getValue());
        json.put("opCounts", counts);
        List<Object> failures = new ArrayList<>();
        for (DifferentialFuzzer.Failure f : r.failures()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("seed", f.seed());
            m.put("op", f.mismatch().step().op().apiName());
            m.put("detail", f.mismatch().detail());
            m.put("reproducer", f.reproducer());
            failures.add(m);
        }
        json.put("failures", failures);
        if (!device.isEmpty()) json.put("device", device);
        Files.createDirectories(outDir);
        Path file = outDir.resolve("fuzz-summary.json");
        ResultFiles.writeAtomically(file, ResultFiles.json(json));
        out.println("fuzz: summary in " + file);
        if (r.mismatches() > 0) {
            out.println("fuzz: replay one program with: ./gpuos fuzz --backend " + (backend.equals("gpu") ? "gpu" : "cpu")
                    + " --programs 1 --seed " + r.failures().getFirst().seed());
        }
        return r.mismatches() == 0 ? 0 : 1;
    }
}
