package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.cuda.Driver;
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
            throw new CliUsageException("--backend gpu: no GPU here (" + Driver.unavailableReason() + ")");
        }
        if (gpu && !"cpu".equals(choice)) {
            GpuOS os = GpuOS.start(GpuOSOptions.defaults());
            return new ModelBackend(os, new GpuBackend(os), "GPU " + os.deviceName());
        }
        if (choice == null) {
            err.println("note: no GPU here (" + Driver.unavailableReason() + "); running on the CPU backend (slow for large models)");
        }
        return new ModelBackend(null, CpuBackend.eager(), "CPU backend");
    }

    Backend backend() { return backend; }

    String description() { return description; }

    /** A one-line progress bar on {@code err}, redrawn at most every 1 % of the bytes; {@link #end} ends its line. */
    static final class ProgressBar implements LoadProgress {
        private final PrintStream err;
        private long lastPercent = -1;

        ProgressBar(PrintStream err) {
            this.err = err;
        }

        @Override
        public void uploaded(long done, long total, String name) {
            long percent = total == 0 ? 100 : done * 100 / total;
            if (percent == lastPercent) return;
            lastPercent = percent;
            int filled = (int) (percent / 5);
            err.printf("\rloading weights [%s%s] %3d%% %,.1f / %,.1f MB", "#".repeat(filled), ".".repeat(20 - filled),
                    percent, done / 1e6, total / 1e6);
            err.flush();
        }

        /** Ends the bar's line (some stored tensors, e.g. BERT's pooler, are never loaded, so 100 % is not a given). */
        void end() {
            if (lastPercent >= 0) err.println();
            lastPercent = -1;
        }
    }

    @Override
    public void close() {
        if (os != null) os.close();
    }
}
