package dev.gpuos.jit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpuos.cuda.Driver;
import dev.gpuos.cuda.GpuTestContext;
import dev.gpuos.cuda.NvJitLink;
import dev.gpuos.cuda.Nvrtc;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The compile -> link -> load pipeline through the cache on a real GPU; skipped with a reason when there is none. */
@Tag("gpu")
class GpuJitCacheTest {
    private static final CompileUnit KERNEL = new CompileUnit("square_plus.cu", """
            #include "ops.cuh"
            extern "C" __global__ void square_plus(int* data, int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) data[i] = square(data[i]) + OFFSET;
            }
            """, Map.of("ops.cuh", "#define OFFSET 7\nint square(int x);\n"), List.of());
    // With -default-device an unannotated function is a __device__ function: the generated operator style.
    private static final CompileUnit OPERATOR = new CompileUnit("square.cu", "int square(int x) { return x * x; }");

    private static GpuTestContext gpu;

    @TempDir
    Path cacheDir;

    /** Assumptions live here rather than in @BeforeAll so every skipped test is reported with the reason. */
    @BeforeEach
    void acquireAndMakeCurrent() {
        if (gpu == null) {
            gpu = GpuTestContext.acquire();
        }
        gpu.makeCurrent();
        assumeTrue(Nvrtc.isAvailable(), () -> "no NVRTC: " + Nvrtc.unavailableReason());
        assumeTrue(NvJitLink.isAvailable(), () -> "no nvJitLink: " + NvJitLink.unavailableReason());
    }

    @AfterAll
    static void release() {
        if (gpu != null) {
            gpu.release();
            gpu = null;
        }
    }

    @Test
    void secondCompileAndLinkAreCacheHitsWithIdenticalBytesAndTheResultRuns() {
        CudaCompiler cold = new CudaCompiler(JitCache.at(cacheDir), gpu.arch, 128);
        byte[] kernel = cold.compileRelocatable(KERNEL);
        byte[] operator = cold.compileRelocatable(OPERATOR);
        assertFalse(cold.timings().lastCompileHit());
        List<NvJitLink.Input> inputs = List.of(new NvJitLink.Input(KERNEL.name(), kernel, NvJitLink.Kind.CUBIN),
                new NvJitLink.Input(OPERATOR.name(), operator, NvJitLink.Kind.CUBIN));
        byte[] linked = cold.link(inputs);
        CudaCompiler.Timings coldTimings = cold.timings();
        assertEquals(2, coldTimings.compileMisses());
        assertEquals(1, coldTimings.linkMisses());

        assertArrayEquals(kernel, cold.compileRelocatable(KERNEL));
        assertTrue(cold.timings().lastCompileHit());
        assertArrayEquals(linked, cold.link(inputs));
        assertTrue(cold.timings().lastLinkHit());

        // A fresh process would start like this: new cache object, same directory.
        CudaCompiler warm = new CudaCompiler(JitCache.at(cacheDir), gpu.arch, 128);
        assertArrayEquals(kernel, warm.compileRelocatable(KERNEL));
        assertArrayEquals(operator, warm.compileRelocatable(OPERATOR));
        assertArrayEquals(linked, warm.link(List.of(new NvJitLink.Input(KERNEL.name(), kernel, NvJitLink.Kind.CUBIN),
                new NvJitLink.Input(OPERATOR.name(), operator, NvJitLink.Kind.CUBIN))));
        CudaCompiler.Timings warmTimings = warm.timings();
        assertEquals(2, warmTimings.compileHits());
        assertEquals(1, warmTimings.linkHits());
        assertEquals(0, warmTimings.compileMisses() + warmTimings.linkMisses());
        System.out.printf("JIT cold: compile %.2f ms (2 units), link %.2f ms; warm: compile %.3f ms, link %.3f ms%n",
                coldTimings.compileNanos() / 1e6, coldTimings.linkNanos() / 1e6,
                warmTimings.compileNanos() / 1e6, warmTimings.linkNanos() / 1e6);

        long module = Driver.moduleLoadData(linked);
        int n = 1000;
        long data = Driver.memAlloc(4L * n);
        try {
            int[] values = new int[n];
            for (int i = 0; i < n; i++) {
                values[i] = i - 500;
            }
            Driver.memcpyHtoD(data, MemorySegment.ofArray(values), 4L * n);
            Driver.launchKernel(Driver.moduleGetFunction(module, "square_plus"), (n + 127) / 128, 1, 1, 128, 1, 1,
                    0, 0, data, n);
            Driver.ctxSynchronize();
            MemorySegment back = MemorySegment.ofArray(new int[n]);
            Driver.memcpyDtoH(back, data, 4L * n);
            for (int i = 0; i < n; i++) {
                assertEquals((i - 500) * (i - 500) + 7, back.getAtIndex(JAVA_INT, i), "element " + i);
            }
        } finally {
            Driver.memFree(data);
            Driver.moduleUnload(module);
        }
    }

    @Test
    void aChangedOptionIsAMissNotAStaleHit() {
        CudaCompiler compiler = new CudaCompiler(JitCache.at(cacheDir), gpu.arch, 128);
        compiler.compileRelocatable(OPERATOR);
        compiler.compileRelocatable(new CompileUnit(OPERATOR.name(), OPERATOR.source(), Map.of(),
                List.of("-lineinfo")));
        assertEquals(2, compiler.timings().compileMisses());
        assertEquals(0, compiler.timings().compileHits());
    }
}
