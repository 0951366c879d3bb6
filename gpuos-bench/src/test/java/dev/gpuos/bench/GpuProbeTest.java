package dev.gpuos.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

public class GpuProbeTest {

    /** Stands in for dev.gpuos.cuda.Driver on a machine without libcuda. */
    public static final class NoDriver {
        public static boolean isAvailable() { return false; }
        public static String unavailableReason() { return "libcuda.so.1 not found"; }
    }

    public static final class WorkingDriver {
        public static boolean isAvailable() { return true; }
        public static String unavailableReason() { return ""; }
    }

    public static final class WrongShape {
        public static int isAvailable() { return 1; }
    }

    public static final class Crashing {
        public static boolean isAvailable() { throw new IllegalStateException("cuInit returned 999"); }
        public static String unavailableReason() { return "unused"; }
    }

    private static GpuProbe.Result probe(Class<?> driver) {
        return new GpuProbe(driver.getName()).probe();
    }

    @Test
    void reportsMissingRuntimeClasses() {
        var result = new GpuProbe("dev.gpuos.cuda.NoSuchDriver").probe();
        assertFalse(result.available());
        assertTrue(result.detail().startsWith("GPU runtime classes not present"), result.detail());
    }

    @Test
    void passesOnTheDriversReason() {
        assertEquals(new GpuProbe.Result(false, "libcuda.so.1 not found"), probe(NoDriver.class));
    }

    @Test
    void reportsAnAvailableRuntime() {
        assertTrue(probe(WorkingDriver.class).available());
    }

    @Test
    void namesTheExpectedSignatureWhenTheDriverHasAnother() {
        var result = probe(WrongShape.class);
        assertFalse(result.available());
        assertTrue(result.detail().contains("boolean isAvailable()"), result.detail());
    }

    @Test
    void turnsACrashInTheProbeIntoTheReason() {
        var result = probe(Crashing.class);
        assertFalse(result.available());
        assertTrue(result.detail().contains("cuInit returned 999"), result.detail());
    }

    @Test
    void aResultWithoutDetailIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new GpuProbe.Result(false, " "));
    }

    @Test
    void infoPrintsJavaOsAndTheGpuReason() {
        var bytes = new ByteArrayOutputStream();
        var out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int status = new InfoCommand(out, new GpuProbe(NoDriver.class.getName())).run(List.of());
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, status);
        assertTrue(text.contains("java:") && text.contains(String.valueOf(Runtime.version().feature())), text);
        assertTrue(text.contains("os:") && text.contains(System.getProperty("os.name")), text);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("gpu:") && l.endsWith("no GPU: libcuda.so.1 not found")), text);
    }

    @Test
    void infoRejectsArguments() {
        var out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThrows(CliUsageException.class, () -> new InfoCommand(out, new GpuProbe()).run(List.of("--verbose")));
    }
}
