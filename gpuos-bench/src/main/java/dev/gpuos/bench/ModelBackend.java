package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.model.LoadProgress;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.io.PrintStream;

/**
 * The backend the model commands (embed, generate) run on: the GPU when one is usable (or asked for with
 * {@code --backend gpu}), else the CPU backend with a note saying why. Closing it stops the GPU runtime.
 */
final class ModelBackend implements AutoCloseable {
    private final GpuOS os;
    private final Backend backend;
    private final String description;

    private ModelBackend(GpuOS os, Backend backend, String description) {
        this.os = os;
        this.backend = backend;
        this.description = description;
    }

    /** {@code choice}: "gpu", "cpu" or null (GPU if usable). Notes go to {@code err} so stdout stays the result. */
    static ModelBackend choose(String choice, PrintStream err) {
        boolean gpu = GpuOS.gpuAvailable();
        if ("gpu".equals(choice) && !gpu) {
            throw new CliUsageException("--backend gpu: no GPU here (" + GpuOS.gpuUnavailableReason() + ")");
        }
        if (gpu && !"cpu".equals(choice)) {
            GpuOS os = GpuOS.start(GpuOSOptions.defaults());
            return new ModelBackend(os, new GpuBackend(os), "GPU " + os.deviceName());
        }
        if (choice == null) {
            err.println("note: no GPU here (" + GpuOS.gpuUnavailableReason() + "); running on the CPU backend (slow for large models)");
        }
        return new ModelBackend(null, CpuBackend.eager(), "CPU backend");
    }

    Backend backend() { return backend; }

    String description() { return description; }

    /**
     * Weight loading progress on {@code err}: a bar redrawn in place at most every 1 % of the bytes on a terminal,
     * one line per 25 % otherwise (a log should not hold a hundred carriage-return frames); {@link #end} ends it.
     */
    static final class ProgressBar implements LoadProgress {
        private final PrintStream err;
        private final boolean terminal;
        private long lastPercent = -1;

        ProgressBar(PrintStream err) {
            this(err, System.console() != null && err == System.err);
        }

        ProgressBar(PrintStream err, boolean terminal) {
            this.err = err;
            this.terminal = terminal;
        }

        @Override
        public void uploaded(long done, long total, String name) {
            long percent = total == 0 ? 100 : done * 100 / total;
            long step = terminal ? percent : percent / 25 * 25;
            if (step == lastPercent) return;
            lastPercent = step;
            int filled = (int) (percent / 5);
            String bar = String.format("loading weights [%s%s] %3d%% %,.1f / %,.1f MB", "#".repeat(filled),
                    ".".repeat(20 - filled), percent, done / 1e6, total / 1e6);
            if (terminal) err.print("\r" + bar);
            else err.println(bar);
            err.flush();
        }

        /** Ends the bar's line (some stored tensors, e.g. BERT's pooler, are never loaded, so 100 % is not a given). */
        void end() {
            if (terminal && lastPercent >= 0) err.println();
            lastPercent = -1;
        }
    }

    @Override
    public void close() {
        if (os != null) os.close();
    }
}
