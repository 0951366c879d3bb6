package dev.gpuos;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpuos.cuda.Driver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Shared by the GPU tests: skip without a GPU, load operator sources, a private JIT cache. */
public final class GpuTestSupport {
    private GpuTestSupport() {}

    public static void assumeGpu() {
        boolean ok;
        String why;
        try {
            ok = Driver.isAvailable();
            why = ok ? "" : Driver.unavailableReason();
        } catch (Throwable t) {
            ok = false;
            why = t.toString();
        }
        assumeTrue(ok, "no GPU: " + why);
    }

    public static String op(String name) {
        try (InputStream in = GpuTestSupport.class.getResourceAsStream("/dev/gpuos/ops/" + name + ".cu")) {
            if (in == null) {
                throw new IllegalStateException("missing test operator " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Options with a JIT cache under the build directory, so tests neither read nor pollute ~/.cache. */
    public static GpuOSOptions options() {
        try {
            Path dir = Path.of(System.getProperty("java.io.tmpdir"), "gpuos-test-cache");
            Files.createDirectories(dir);
            return GpuOSOptions.defaults().withCacheDir(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
