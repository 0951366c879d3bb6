package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibraryTest {
    @TempDir
    Path root;

    /** Pretends that exactly the existing absolute paths are loadable; records every attempt. */
    private final List<String> attempts = new ArrayList<>();
    private final NativeLibrary.Loader fakeLoader = nameOrPath -> {
        attempts.add(nameOrPath);
        if (nameOrPath.startsWith("/") && Files.isRegularFile(Path.of(nameOrPath))) {
            return name -> Optional.empty();
        }
        throw new IllegalArgumentException("cannot open " + nameOrPath);
    };

    private NativeLibrary.Spec spec(List<Path> dirs) {
        return new NativeLibrary.Spec("NVRTC (test)", "gpuos.nvrtc.library", "GPUOS_NVRTC",
                List.of("libnvrtc.so.13"), List.of("libnvrtc.so.13", "libnvrtc.so"), dirs,
                List.of("libnvrtc-builtins.so"));
    }

    private Path touch(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "not really ELF");
        return p;
    }

    @Test
    void propertyOverrideWinsOverEnvironmentAndDirectories() throws IOException {
        Path fromProperty = touch("custom/libnvrtc.so.13");
        Path fromEnv = touch("env/libnvrtc.so.13");
        touch("usr/local/cuda/lib64/libnvrtc.so.13");
        NativeLibrary.Located located = NativeLibrary.locate(
                spec(NativeLibrary.toolkitDirectories(k -> null, root)),
                Map.of("gpuos.nvrtc.library", fromProperty.toString())::get,
                Map.of("GPUOS_NVRTC", fromEnv.toString())::get, fakeLoader);
        assertTrue(located.isLoaded(), located.reason());
        assertTrue(located.origin().contains("system property gpuos.nvrtc.library"), located.origin());
        assertTrue(located.origin().endsWith(fromProperty.toString()), located.origin());
        assertEquals(List.of(fromProperty.toString()), attempts);
    }

    @Test
    void environmentOverrideUsedWhenNoProperty() throws IOException {
        Path fromEnv = touch("env/libnvrtc.so.13");
        NativeLibrary.Located located = NativeLibrary.locate(spec(List.of()), k -> null,
                Map.of("GPUOS_NVRTC", fromEnv.toString())::get, fakeLoader);
        assertTrue(located.isLoaded(), located.reason());
        assertTrue(located.origin().startsWith("environment variable GPUOS_NVRTC="), located.origin());
    }

    @Test
    void brokenOverrideStopsTheSearchAndSaysWhy() throws IOException {
        touch("usr/local/cuda/lib64/libnvrtc.so.13");
        String missing = root.resolve("nowhere/libnvrtc.so.13").toString();
        NativeLibrary.Located located = NativeLibrary.locate(
                spec(NativeLibrary.toolkitDirectories(k -> null, root)),
                Map.of("gpuos.nvrtc.library", missing)::get, k -> null, fakeLoader);
        assertFalse(located.isLoaded());
        assertNull(located.lookup());
        assertTrue(located.reason().contains("gpuos.nvrtc.library"), located.reason());
        assertTrue(located.reason().contains(missing), located.reason());
        assertEquals(List.of(missing), attempts, "must not fall back to other installations");
    }

    @Test
    void sonameComesBeforeDirectories() throws IOException {
        Path inDir = touch("usr/local/cuda/lib64/libnvrtc.so.13");
        NativeLibrary.Loader sonameWorks = nameOrPath -> {
            attempts.add(nameOrPath);
            return name -> Optional.empty();
        };
        NativeLibrary.Located located = NativeLibrary.locate(spec(List.of(inDir.getParent())), k -> null,
                k -> null, sonameWorks);
        assertEquals("soname libnvrtc.so.13", located.origin());
        assertEquals(List.of("libnvrtc.so.13"), attempts);
    }

    @Test
    void directoriesSearchedInOrderCudaHomeFirstThenNewestVersionedToolkit() throws IOException {
        touch("usr/local/cuda-13.0/targets/x86_64-linux/lib/libnvrtc.so.13");
        Path newest = touch("usr/local/cuda-13.1/targets/x86_64-linux/lib/libnvrtc.so.13");
        touch("usr/local/cuda-13.1/targets/x86_64-linux/lib/libnvrtc-builtins.so.13.1");
        Path home = root.resolve("home-cuda");
        List<Path> dirs = NativeLibrary.toolkitDirectories(Map.of("CUDA_HOME", home.toString())::get, root);
        assertEquals(List.of(home.resolve("lib64"), home.resolve("targets/x86_64-linux/lib"),
                root.resolve("usr/local/cuda/lib64"), root.resolve("usr/local/cuda/targets/x86_64-linux/lib"),
                root.resolve("usr/local/cuda-13.1/targets/x86_64-linux/lib"),
                root.resolve("usr/local/cuda-13.0/targets/x86_64-linux/lib")), dirs);

        NativeLibrary.Located located = NativeLibrary.locate(spec(dirs), k -> null, k -> null, fakeLoader);
        assertEquals(newest.toString(), located.origin());
        // The builtins companion is loaded from the same directory before NVRTC itself.
        int builtins = attempts.indexOf(newest.getParent().resolve("libnvrtc-builtins.so.13.1").toString());
        assertTrue(builtins >= 0 && builtins < attempts.indexOf(newest.toString()), attempts.toString());
    }

    @Test
    void missingLibraryReasonNamesEveryPathTried() {
        List<Path> dirs = NativeLibrary.toolkitDirectories(k -> null, root);
        NativeLibrary.Located located = NativeLibrary.locate(spec(dirs), k -> null, k -> null, fakeLoader);
        assertFalse(located.isLoaded());
        String reason = located.reason();
        assertTrue(reason.contains("libnvrtc.so.13: cannot open libnvrtc.so.13"), reason);
        for (Path dir : dirs) {
            assertTrue(reason.contains(dir.resolve("libnvrtc.so.13") + ": no such file"), reason);
            assertTrue(reason.contains(dir.resolve("libnvrtc.so") + ": no such file"), reason);
        }
        assertTrue(reason.contains("gpuos.nvrtc.library") && reason.contains("GPUOS_NVRTC"), reason);
    }

    @Test
    void systemLoaderLoadsARealLibraryNamedByProperty() {
        Path libjava = Path.of(System.getProperty("java.home"), "lib", "libjava.so");
        NativeLibrary.Located located = NativeLibrary.locate(spec(List.of()),
                Map.of("gpuos.nvrtc.library", libjava.toString())::get, k -> null, NativeLibrary.SYSTEM_LOADER);
        assertTrue(located.isLoaded(), located.reason());
        assertTrue(located.lookup().find("JNI_OnLoad").isPresent(), "libjava exports JNI_OnLoad");
    }

    @Test
    void systemLoaderReportsAMissingFileNamedByEnvironment() {
        String missing = root.resolve("libcuda.so.1").toString();
        NativeLibrary.Located located = NativeLibrary.locate(spec(List.of()), k -> null,
                Map.of("GPUOS_NVRTC", missing)::get, NativeLibrary.SYSTEM_LOADER);
        assertFalse(located.isLoaded());
        assertTrue(located.reason().contains("environment variable GPUOS_NVRTC names " + missing),
                located.reason());
    }

    @Test
    void bindPicksTheFirstExportedCandidateAndMissingSymbolsThrowOnCall() throws Throwable {
        SymbolLookup libc = Linker.nativeLinker().defaultLookup();
        NativeLibrary.Located located = new NativeLibrary.Located("libc (test)", libc, "default lookup", null,
                List.of());
        Downcalls downcalls = new Downcalls(located);
        var strlenDescriptor = FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.ADDRESS);
        var strlen = downcalls.bind(strlenDescriptor, "strlen_v2_does_not_exist", "strlen");
        try (var arena = Arena.ofConfined()) {
            assertEquals(5L, (long) strlen.invokeExact(arena.allocateFrom("gpuos")));
        }
        var missing = downcalls.bind(strlenDescriptor, "nope_v2", "nope");
        var e = assertThrows(CudaUnavailableException.class,
                () -> { long ignored = (long) missing.invokeExact(MemorySegment.NULL); });
        assertTrue(e.getMessage().contains("[nope_v2, nope]") && e.getMessage().contains("libc (test)"),
                e.getMessage());
    }

    @Test
    void unloadedLibraryGivesHandlesThatThrowWithTheReason() {
        NativeLibrary.Located located = new NativeLibrary.Located("CUDA driver (test)", null, null,
                "libcuda.so.1: not found", List.of());
        var handle = new Downcalls(located).bind(FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), "cuInit");
        var e = assertThrows(CudaUnavailableException.class,
                () -> { int ignored = (int) handle.invokeExact(0); });
        assertEquals("CUDA driver (test) is unavailable: libcuda.so.1: not found", e.getMessage());
        assertEquals("CUDA driver (test)", e.library());
    }
}
