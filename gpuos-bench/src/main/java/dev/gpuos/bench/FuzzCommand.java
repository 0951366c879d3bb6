package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.bench.workloads.ResultFiles;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.GpuTier;
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
 *
 * <p>On the GPU, {@code --tier} picks the code path of elementwise structures: {@code interp} (default: the
 * in-kernel interpreter, never promoted, so nothing of that kind compiles and thousands of programs run per
 * minute), {@code native} (every new structure compiled) or {@code tiered} (the default policy). Programs run
 * in rounds of {@code --round K} sharing their syncs, so a native round compiles its new structures in one
 * generation swap; a program that mismatches is run again alone and shrunk.
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
                + "[--backend gpu|cpu] [--tier interp|native|tiered] [--round K] [--out DIR] [--minutes M]";
    }

    @Override
    public String usage() {
        return """
                --programs N                   programs to run (default 100000), seeds S, S+1, ...
                --seed S                       the first seed (default 1)
                --backend gpu|cpu              the side compared with the eager CPU backend (default: gpu if present)
                --tier interp|native|tiered    the GPU code path of elementwise structures (default interp)
                --round K                      programs per round on the GPU (default: the tier's)
                --out DIR                      where fuzz-summary.json goes (default results/fuzz)
                --minutes M                    stop after M minutes (default 60)
                -h, --help                     this text""";
    }

    @Override
    public int run(List<String> args) throws Exception {
        long programs = 100_000, seed = 1;
        String backend = GpuOS.gpuAvailable() ? "gpu" : "cpu";
        Path outDir = Path.of("results", "fuzz");
        double minutes = 60;
        GpuTier tier = GpuTier.INTERP;
        int round = 0;  // 0: the tier's default
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
                    case "--round" -> {
                        round = Integer.parseInt(v);
                        if (round < 1) throw new CliUsageException("--round needs a count >= 1");
                    }
                    case "--tier" -> {
                        try {
                            tier = GpuTier.parse(v);
                        } catch (IllegalArgumentException e) {
                            throw new CliUsageException("--tier needs interp, native or tiered");
                        }
                    }
                    case "--backend" -> {
                        if (!v.equals("gpu") && !v.equals("cpu")) throw new CliUsageException("--backend needs gpu or cpu");
                        backend = v;
                    }
                    default -> throw new CliUsageException("unknown option " + a
                            + " (known: --programs N, --seed S, --backend gpu|cpu, --tier interp|native|tiered, --round K,"
                            + " --out DIR, --minutes M)");
                }
            } catch (NumberFormatException e) {
                throw new CliUsageException(a + " needs a number, got '" + v + "'");
            }
        }
        if (backend.equals("gpu") && !GpuOS.gpuAvailable()) {
            out.println("fuzz: no GPU here (" + GpuOS.gpuUnavailableReason() + "); use --backend cpu");
            return 1;
        }
        Duration budget = Duration.ofMillis((long) (minutes * 60_000));
        long every = Math.max(100, Math.min(10_000, programs / 20));
        if (backend.equals("cpu")) {
            if (round == 0) round = 1;
            out.printf("fuzz: %,d programs from seed %d on cpu (batched) vs cpu (eager), rounds of %d, at most %.1f min%n",
                    programs, seed, round, minutes);
            Backend batched = CpuBackend.batched(GpuBackend.DEFAULT_MAX_NODES, GpuBackend.DEFAULT_MAX_AGE);
            return finish(fuzz(batched, round, seed, programs, budget, every), "cpu-batched", seed, outDir, Map.of());
        }
        if (round == 0) round = tier.defaultRound();
        out.printf("fuzz: %,d programs from seed %d on gpu (tier %s, rounds of %d) vs cpu (eager), at most %.1f min%n",
                programs, seed, tier.label(), round, minutes);
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = tier.backend(os, round);
            out.println("fuzz: GPU " + os.deviceName());
            DifferentialFuzzer.Report report = fuzz(gpu, round, seed, programs, budget, every);
            out.println("fuzz: tier " + tier.label() + ": " + GpuTier.describe(gpu));
            GpuBackend.Stats s = gpu.stats();
            Map<String, Object> stats = new LinkedHashMap<>();
            stats.put("device", os.deviceName());
            stats.put("tier", tier.label());
            stats.put("submissions", s.submissions());
            stats.put("tasks", s.tasks());
            stats.put("operatorsCompiled", s.operatorsCompiled());
            if (gpu.tiers() != null) {
                var t = gpu.tiers().stats();
                stats.put("interpretedTasks", t.interpretedTasks());
                stats.put("nativeTasks", t.nativeTasks());
                stats.put("opPrograms", t.programs());
                stats.put("promotions", t.promotions());
                stats.put("promotedOperators", t.promotedOperators());
            }
            return finish(report, "gpu", seed, outDir, stats);
        }
    }

    private DifferentialFuzzer.Report fuzz(Backend tested, int round, long seed, long programs, Duration budget,
                                           long every) {
        CpuBackend cpu = CpuBackend.eager();
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, tested),
                ps -> Interpreter.runRound(ps, tested), round);
        return fuzzer.run(seed, programs, budget, every, line -> out.println("fuzz: " + line));
    }

    private int finish(DifferentialFuzzer.Report r, String backend, long seed, Path outDir, Map<String, Object> device)
            throws Exception {
        Object tier = device.getOrDefault("tier", "-"), compiles = device.getOrDefault("operatorsCompiled", "-");
        out.printf("fuzz: %,d programs (seeds %d..%d), %,d ops, %d mismatches, %d steps rejected by the API, "
                        + "%.1f s, %.0f programs/s, tier %s, rounds of %d, %s operators compiled%n", r.programs(), seed,
                seed + r.programs() - 1, r.ops(), r.mismatches(), r.rejected(), r.elapsed().toMillis() / 1e3,
                r.programsPerSecond(), tier, r.roundSize(), compiles);
        if (!r.rejectedByOp().isEmpty()) {
            StringBuilder line = new StringBuilder("fuzz: steps refused by the API (the tested side must refuse alike), by op:");
            r.rejectedByOp().forEach((op, n) -> line.append(' ').append(op.apiName()).append(' ').append(n));
            Long legal = r.opCounts().get(FuzzOp.AS_STRIDED);
            out.println(line.append("; legal as_strided views computed: ").append(legal == null ? 0 : legal));
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("backend", backend);
        json.put("against", "cpu (eager)");
        json.put("firstSeed", seed);
        json.put("programs", r.programs());
        json.put("ops", r.ops());
        json.put("mismatches", r.mismatches());
        json.put("mismatchesOnlyInRound", r.roundOnly());
        json.put("roundSize", r.roundSize());
        json.put("tier", tier);
        json.put("operatorsCompiled", compiles);
        json.put("rejectedSteps", r.rejected());
        Map<String, Object> refused = new LinkedHashMap<>();
        for (Map.Entry<FuzzOp, Long> e : r.rejectedByOp().entrySet()) refused.put(e.getKey().apiName(), e.getValue());
        json.put("rejectedByOp", refused);  // refused on both sides alike (else a mismatch): issue 15's overflow steps
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
            out.println("fuzz: replay one program with: ./gpuos fuzz --backend " + (backend.equals("gpu") ? "gpu --tier " + tier : "cpu")
                    + " --round 1 --programs 1 --seed " + r.failures().getFirst().seed());
        }
        return r.mismatches() == 0 ? 0 : 1;
    }
}
