package dev.gpuos.bench;

import java.io.PrintStream;
import java.util.List;

/** {@code gpuos info}: the Java runtime, the OS and whether a GPU runtime is usable (and if not, why). */
public final class InfoCommand implements CliCommand {

    private final PrintStream out;
    private final GpuProbe probe;

    public InfoCommand(PrintStream out, GpuProbe probe) {
        this.out = out;
        this.probe = probe;
    }

    @Override
    public String name() {
        return "info";
    }

    @Override
    public String summary() {
        return "show the Java runtime, the OS and whether a GPU runtime is available";
    }

    @Override
    public int run(List<String> args) {
        if (!args.isEmpty()) {
            throw new CliUsageException("takes no arguments, got " + args);
        }
        Runtime runtime = Runtime.getRuntime();
        row("java", Runtime.version() + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")");
        row("vm", System.getProperty("java.vm.name") + ", max heap " + runtime.maxMemory() / (1024 * 1024) + " MiB");
        row("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch")
                + ", " + runtime.availableProcessors() + " CPUs");
        // Without --enable-native-access the first downcall prints a warning (and will fail in later JDKs).
        row("native", InfoCommand.class.getModule().isNativeAccessEnabled()
                ? "native access enabled" : "native access NOT enabled: pass --enable-native-access=ALL-UNNAMED");
        GpuProbe.Result gpu = probe.probe();
        row("gpu", gpu.available() ? gpu.detail() : "no GPU: " + gpu.detail());
        return 0;
    }

    private void row(String key, String value) {
        out.printf("%-8s %s%n", key + ":", value);
    }
}
