package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.bench.opcheck.OpCheckDump;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * {@code gpuos opcheck --out DIR [--backend gpu|cpu] [--only TEXT] [--chunk N]}: runs every op of the tensor API on
 * seeded inputs (special values, every dtype, strided and zero-stride views) and dumps inputs and outputs for
 * {@code bench/pytorch/op_compare.py}, which compares them with PyTorch. {@code --only} keeps the cases whose id
 * contains TEXT; {@code --chunk} is how many cases are recorded before each read-back (default 200).
 */
final class OpCheckCommand implements CliCommand {
    private final PrintStream out;

    OpCheckCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public String name() {
        return "opcheck";
    }

    @Override
    public String summary() {
        return "dump every tensor op on seeded inputs for bench/pytorch/op_compare.py; --out DIR [--backend gpu|cpu] [--only TEXT] [--chunk N]";
    }

    @Override
    public String usage() {
        return """
                --out DIR             where the dump goes (required); compare with bench/pytorch/op_compare.py DIR
                --backend gpu|cpu     the backend (default: gpu when present, else cpu with a note)
                --only TEXT           only cases whose id contains TEXT
                --chunk N             cases per submission (default %d)
                -h, --help            this text""".formatted(OpCheckDump.DEFAULT_CHUNK);
    }

    @Override
    public int run(List<String> args) throws Exception {
        Path dir = null;
        String backend = null;
        Predicate<String> filter = id -> true;
        int chunk = OpCheckDump.DEFAULT_CHUNK;
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            if (i + 1 >= args.size() || !List.of("--out", "--backend", "--only", "--chunk").contains(option)) {
                throw new CliUsageException("unknown option or missing value: " + option
                        + " (known: --out DIR, --backend gpu|cpu, --only TEXT, --chunk N)");
            }
            String value = args.get(++i);
            switch (option) {
                case "--out" -> dir = Path.of(value);
                case "--backend" -> {
                    if (!value.equals("gpu") && !value.equals("cpu")) {
                        throw new CliUsageException("--backend needs 'gpu' or 'cpu', got " + value);
                    }
                    backend = value;
                }
                case "--chunk" -> {
                    try {
                        chunk = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        chunk = 0;
                    }
                    if (chunk < 1) throw new CliUsageException("--chunk needs a positive number of cases, got " + value);
                }
                default -> filter = id -> id.contains(value);
            }
        }
        if (dir == null) {
            throw new CliUsageException("--out DIR is required");
        }
        boolean gpu = GpuOS.gpuAvailable();
        if ("gpu".equals(backend) && !gpu) {
            out.println("opcheck: no GPU here (" + GpuOS.gpuUnavailableReason() + "); use --backend cpu");
            return 1;
        }
        OpCheckDump dump = new OpCheckDump(out, chunk);
        OpCheckDump.Summary summary;
        if (gpu && !"cpu".equals(backend)) {
            try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
                // Record whole chunks before submitting: the new kernels of a chunk compile in one generation swap.
                GpuBackend gpuBackend = new GpuBackend(os, 1 << 16, Duration.ofMinutes(1));
                summary = dump.run(gpuBackend, os.deviceName(), dir, filter);
                GpuBackend.Stats stats = gpuBackend.stats();
                out.printf("opcheck: GPU backend: %d submissions, %d tasks, %d operators compiled%n",
                        stats.submissions(), stats.tasks(), stats.operatorsCompiled());
            }
        } else {
            if (backend == null) {
                out.println("opcheck: no GPU here (" + GpuOS.gpuUnavailableReason() + "); running on the CPU backend");
            }
            summary = dump.run(CpuBackend.eager(), "cpu (" + System.getProperty("os.arch") + ")", dir, filter);
        }
        out.printf("opcheck: %d cases computed, %d rejected by GPUOS (dtype), %d failed, in %d ms; %s%n",
                summary.computed(), summary.rejected(), summary.errors(), summary.millis(),
                dir.resolve(OpCheckDump.MANIFEST));
        out.println("compare with: python3 bench/pytorch/op_compare.py " + dir);
        return summary.errors() == 0 ? 0 : 1;
    }
}
