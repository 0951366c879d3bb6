package dev.gpuos.jit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.gpuos.cuda.CudaUnavailableException;
import dev.gpuos.cuda.NvJitLink;
import dev.gpuos.cuda.Nvrtc;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaCompilerTest {
    private static final CudaCompiler.ToolVersions V = new CudaCompiler.ToolVersions("13.0", "13.0");

    @TempDir
    Path dir;

    @Test
    void archComesFromComputeCapability() {
        assertEquals("sm_90", CudaCompiler.archFor(new int[] {9, 0}));
        assertEquals("sm_100", CudaCompiler.archFor(new int[] {10, 0}));
        assertEquals("sm_86", CudaCompiler.archFor(new int[] {8, 6}));
        assertThrows(IllegalArgumentException.class, () -> CudaCompiler.archFor(new int[] {9}));
    }

    @Test
    void rejectsVirtualArchAndImpossibleRegisterCaps() {
        IllegalArgumentException arch = assertThrows(IllegalArgumentException.class,
                () -> new CudaCompiler(JitCache.disabled(), "compute_90", 128, V));
        assertTrue(arch.getMessage().contains("'compute_90'"), arch.getMessage());
        IllegalArgumentException regs = assertThrows(IllegalArgumentException.class,
                () -> new CudaCompiler(JitCache.disabled(), "sm_90", 300, V));
        assertTrue(regs.getMessage().contains("got 300"), regs.getMessage());
        new CudaCompiler(JitCache.disabled(), "sm_90a", 0, V);
    }

    @Test
    void optionsAreFixedPrefixThenUnitOptions() {
        CudaCompiler c = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V);
        CompileUnit u = new CompileUnit("k.cu", "", Map.of(), List.of("-DTILE=64", "-lineinfo"));
        assertEquals(List.of("--gpu-architecture=sm_90", "-rdc=true", "-maxrregcount=128", "--std=c++17",
                "-default-device", "-DTILE=64", "-lineinfo"), c.compileOptions(u));
        assertEquals(List.of("-arch=sm_90", "-maxrregcount=128"), c.linkOptions());
        assertEquals(List.of("-arch=sm_90"), new CudaCompiler(JitCache.disabled(), "sm_90", 0, V).linkOptions());
    }

    @Test
    void leanCallsDefineTheirAbiInEveryUnitAndRefuseAnUnclearSwitch() {
        CompileUnit u = new CompileUnit("k.cu", "", Map.of(), List.of("-DTILE=64"));
        CudaCompiler lean = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V, true);
        assertTrue(lean.leanCalls());
        assertEquals(List.of("--gpu-architecture=sm_90", "-rdc=true", "-maxrregcount=128", "--std=c++17",
                "-default-device", "-DGPUOS_LEAN_CALLS", "-DTILE=64"), lean.compileOptions(u));
        CudaCompiler table = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V, false);
        assertFalse(table.compileOptions(u).contains("-DGPUOS_LEAN_CALLS"));
        assertEquals(table.linkOptions(), lean.linkOptions(), "the link takes cubins of either ABI alike");
        assertTrue(lean.toString().contains("lean calls"), lean.toString());

        assertFalse(CudaCompiler.leanCalls(null));
        assertFalse(CudaCompiler.leanCalls("false"));
        assertTrue(CudaCompiler.leanCalls(" TRUE "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaCompiler.leanCalls("yes"));
        assertTrue(e.getMessage().contains("-Dgpuos.jit.leanCalls=yes"), e.getMessage());
    }

    @Test
    void headerOrderIsPreservedByCompileUnit() {
        Map<String, String> ordered = new java.util.LinkedHashMap<>();
        for (int i = 9; i >= 0; i--) {
            ordered.put("h" + i + ".cuh", "" + i);
        }
        CompileUnit u = new CompileUnit("k.cu", "", ordered, List.of());
        assertEquals(List.copyOf(ordered.keySet()), List.copyOf(u.headers().keySet()));
    }

    @Test
    void cachedArtifactsAreServedWithoutTouchingTheTools() {
        JitCache cache = JitCache.at(dir);
        CudaCompiler c = new CudaCompiler(cache, "sm_90", 128, V);
        CompileUnit u = new CompileUnit("op.cu", "__device__ float op(float x) { return x; }");
        byte[] fakeCubin = {0x7f, 'E', 'L', 'F', 1, 2, 3};
        cache.put(c.compileKey(u), fakeCubin);
        assertArrayEquals(fakeCubin, c.compileRelocatable(u));

        List<NvJitLink.Input> inputs = List.of(new NvJitLink.Input("op.cu", fakeCubin, NvJitLink.Kind.CUBIN));
        byte[] fakeLinked = {9, 8, 7};
        cache.put(c.linkKey(inputs), fakeLinked);
        assertArrayEquals(fakeLinked, c.link(inputs));

        CudaCompiler.Timings t = c.timings();
        assertEquals(1, t.compileHits());
        assertEquals(0, t.compileMisses());
        assertTrue(t.lastCompileHit());
        assertEquals(1, t.linkHits());
        assertTrue(t.lastLinkHit());
        assertTrue(t.compileNanos() >= t.lastCompileNanos() && t.lastCompileNanos() > 0, t.toString());
    }

    @Test
    void missWithoutNvrtcReportsTheMissingLibraryAndCountsTheMiss() {
        assumeFalse(Nvrtc.isAvailable(), "NVRTC is present; the GPU tests cover the real miss path");
        CudaCompiler c = new CudaCompiler(JitCache.at(dir), "sm_90", 128, V);
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> c.compileRelocatable(new CompileUnit("k.cu", "__global__ void k() {}")));
        assertTrue(e.getMessage().contains("NVRTC"), e.getMessage());
        assertFalse(c.timings().lastCompileHit());
        assertEquals(0, c.cache().stats().writes(), "nothing may be cached for a failed compile");
    }

    @Test
    void compileAllServesEveryUnitInOrderFromConcurrentCompiles() {
        JitCache cache = JitCache.at(dir);
        CudaCompiler c = new CudaCompiler(cache, "sm_90", 128, V);
        List<CompileUnit> units = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            CompileUnit u = new CompileUnit("op" + i + ".cu", "__device__ int op" + i + "() { return " + i + "; }");
            cache.put(c.compileKey(u), new byte[] {0x7f, 'E', 'L', 'F', (byte) i});
            units.add(u);
        }
        List<byte[]> cubins = c.compileAllRelocatable(units);
        assertEquals(units.size(), cubins.size());
        for (int i = 0; i < units.size(); i++) {
            assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F', (byte) i}, cubins.get(i), "unit " + i);
        }
        assertEquals(units.size(), c.timings().compileHits(), "every unit counted once, from any thread");
    }

    @Test
    void compileAllAttemptsEveryUnitAndThrowsTheFirstFailureInListOrder() {
        assumeFalse(Nvrtc.isAvailable(), "NVRTC is present; the GPU tests cover real compile errors");
        JitCache cache = JitCache.at(dir);
        CudaCompiler c = new CudaCompiler(cache, "sm_90", 128, V);
        CompileUnit cached = new CompileUnit("cached.cu", "__device__ int a() { return 1; }");
        cache.put(c.compileKey(cached), new byte[] {1});
        CompileUnit first = new CompileUnit("first.cu", "__device__ int b() { return 2; }");
        CompileUnit second = new CompileUnit("second.cu", "__device__ int d() { return 3; }");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> c.compileAllRelocatable(List.of(cached, first, second)));
        assertEquals(1, e.getSuppressed().length, "the second miss is attached to the first: " + e);
        assertEquals(1, c.timings().compileHits(), c.timings().toString());
    }
}
