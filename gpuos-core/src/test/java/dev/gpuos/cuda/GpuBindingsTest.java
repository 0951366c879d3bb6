package dev.gpuos.cuda;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** End-to-end checks of the bindings on a real GPU; skipped with a reason when there is none. */
@Tag("gpu")
class GpuBindingsTest {
    /** Kernel unit: calls a __device__ function defined in another unit, so it only loads after linking. */
    private static final String AXPY = """
            extern __device__ float scale_add(float a, float x, float y);
            extern "C" __global__ void axpy(float a, const float* x, const float* y, float* out, int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) out[i] = scale_add(a, x[i], y[i]);
            }
            """;
    private static final String SCALE_ADD = """
            __device__ float scale_add(float a, float x, float y) { return a * x + y; }
            """;
    private static final String FILL = """
            __device__ int fills[1];
            extern "C" __global__ void fill(unsigned int* out, int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) out[i] = 3u * i + 1u;
                if (i == 0) atomicAdd(&fills[0], 1);
            }
            """;

    private static GpuTestContext gpu;

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

    private byte[] rdc(String name, String source) {
        return Nvrtc.compile(name, source, Map.of(), List.of("--gpu-architecture=" + gpu.arch, "-rdc=true"))
                .cubin();
    }

    private long loadStandalone(String name, String source) {
        byte[] cubin = Nvrtc.compile(name, source, Map.of(), List.of("--gpu-architecture=" + gpu.arch)).cubin();
        return Driver.moduleLoadData(cubin);
    }

    @Test
    void deviceQueriesAnswer() {
        assertFalse(Driver.deviceName(gpu.device).isBlank());
        assertTrue(Driver.multiprocessorCount(gpu.device) > 0);
        assertTrue(Driver.totalMemory(gpu.device) > 0);
        long[] info = Driver.memGetInfo();
        assertTrue(info[0] > 0 && info[0] <= info[1], "free " + info[0] + " total " + info[1]);
        assertTrue(Driver.driverVersion() >= 12000, "driver version " + Driver.driverVersion());
        assertEquals(1, Driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, gpu.device));
        assertEquals(gpu.context, Driver.ctxGetCurrent());
        int[] nvrtc = Nvrtc.version();
        int[] link = NvJitLink.version();
        assertTrue(nvrtc[0] >= 12 && link[0] >= 12, "NVRTC " + nvrtc[0] + ", nvJitLink " + link[0]);
    }

    @Test
    void allocateCopyFillAndFree() {
        int n = 1 << 20;
        long a = Driver.memAlloc(n);
        long b = Driver.memAlloc(n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(n);
            for (int i = 0; i < n; i++) {
                host.set(JAVA_BYTE, i, (byte) (i * 7));
            }
            Driver.memcpyHtoD(a, host, n);
            Driver.memcpyDtoD(b, a, n);
            Driver.memsetD8(b + 100, 0xAB, 50);
            byte[] back = new byte[n];
            Driver.memcpyDtoH(MemorySegment.ofArray(back), b, n);
            for (int i = 0; i < n; i++) {
                byte expected = i >= 100 && i < 150 ? (byte) 0xAB : (byte) (i * 7);
                assertEquals(expected, back[i], "byte " + i);
            }
            byte[] heapSource = {1, 2, 3, 4, 5, 6, 7, 8};
            Driver.memcpyHtoD(a, MemorySegment.ofArray(heapSource), heapSource.length);
            byte[] heapBack = new byte[8];
            Driver.memcpyDtoH(MemorySegment.ofArray(heapBack), a, 8);
            assertArrayEquals(heapSource, heapBack);
        } finally {
            Driver.memFree(a);
            Driver.memFree(b);
        }
    }

    @Test
    void separatelyCompiledUnitsLinkLoadAndRun() {
        NvJitLink.Result linked = NvJitLink.link(List.of(
                new NvJitLink.Input("axpy.cu", rdc("axpy.cu", AXPY), NvJitLink.Kind.CUBIN),
                new NvJitLink.Input("scale_add.cu", rdc("scale_add.cu", SCALE_ADD), NvJitLink.Kind.CUBIN)),
                List.of("-arch=" + gpu.arch));
        long module = Driver.moduleLoadData(linked.cubin());
        int n = 10_000;
        long bytes = 4L * n;
        long x = Driver.memAlloc(bytes);
        long y = Driver.memAlloc(bytes);
        long out = Driver.memAlloc(bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hx = arena.allocate(bytes);
            MemorySegment hy = arena.allocate(bytes);
            for (int i = 0; i < n; i++) {
                hx.setAtIndex(JAVA_FLOAT, i, i * 0.5f);
                hy.setAtIndex(JAVA_FLOAT, i, 1000f - i);
            }
            Driver.memcpyHtoD(x, hx, bytes);
            Driver.memcpyHtoD(y, hy, bytes);
            long axpy = Driver.moduleGetFunction(module, "axpy");
            float a = 3f;
            Driver.launchKernel(axpy, (n + 255) / 256, 1, 1, 256, 1, 1, 0, 0,
                    Float.floatToRawIntBits(a) & 0xFFFF_FFFFL, x, y, out, n);
            Driver.ctxSynchronize();
            MemorySegment result = arena.allocate(bytes);
            Driver.memcpyDtoH(result, out, bytes);
            for (int i = 0; i < n; i++) {
                float expected = a * (i * 0.5f) + (1000f - i);
                assertEquals(expected, result.getAtIndex(JAVA_FLOAT, i), "element " + i);
            }
        } finally {
            Driver.memFree(x);
            Driver.memFree(y);
            Driver.memFree(out);
            Driver.moduleUnload(module);
        }
    }

    @Test
    void unresolvedDeviceFunctionIsALinkErrorNamingIt() {
        NvJitLinkException e = assertThrows(NvJitLinkException.class, () -> NvJitLink.link(
                List.of(new NvJitLink.Input("axpy.cu", rdc("axpy.cu", AXPY), NvJitLink.Kind.CUBIN)),
                List.of("-arch=" + gpu.arch)));
        assertTrue(e.getMessage().contains("scale_add"), e.getMessage());
    }

    @Test
    void compileErrorCarriesTheCompilerLog() {
        NvrtcException e = assertThrows(NvrtcException.class, () -> Nvrtc.compile("broken.cu",
                "extern \"C\" __global__ void k(int* p) { *p = undefined_symbol_xyz; }", Map.of(),
                List.of("--gpu-architecture=" + gpu.arch)));
        assertTrue(e.getMessage().contains("undefined_symbol_xyz"), e.getMessage());
        assertTrue(e.getMessage().contains("broken.cu"), e.getMessage());
        assertEquals("NVRTC_ERROR_COMPILATION", e.resultName());
    }

    @Test
    void headersAreVisibleToIncludes() {
        Nvrtc.Result r = Nvrtc.compile("inc.cu", "#include \"k.cuh\"\nextern \"C\" __global__ void k(int* p) { *p = K; }",
                Map.of("k.cuh", "#define K 42"), List.of("--gpu-architecture=" + gpu.arch));
        assertTrue(r.cubin().length > 0);
        Nvrtc.PtxResult ptx = Nvrtc.compilePtx("inc.cu", "#include \"k.cuh\"\nextern \"C\" __global__ void k(int* p) { *p = K; }",
                Map.of("k.cuh", "#define K 42"), List.of("--gpu-architecture=compute_" + gpu.arch.substring(3)));
        assertTrue(ptx.ptx().contains(".entry k") && ptx.ptx().contains("42"), ptx.ptx());
    }

    @Test
    void absurdAllocationIsOutOfMemoryWithSizes() {
        long absurd = 1L << 50;
        CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class, () -> Driver.memAlloc(absurd));
        assertEquals(absurd, e.requestedBytes());
        assertTrue(e.freeBytes() > 0 && e.freeBytes() <= e.totalBytes(), e.getMessage());
        assertTrue(e.getMessage().contains("requested " + absurd + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains(e.freeBytes() + " bytes free"), e.getMessage());
        assertFalse(e.isSticky());
        long ok = Driver.memAlloc(4096);
        Driver.memFree(ok);
    }

    @Test
    void kernelWritesToMappedPinnedMemoryAreVisibleAfterSync() {
        assumeTrue(Driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, gpu.device) == 1,
                "device cannot map host memory");
        long module = loadStandalone("fill.cu", FILL);
        int n = 5000;
        MemorySegment host = Driver.memHostAlloc(4L * n,
                Driver.CU_MEMHOSTALLOC_DEVICEMAP | Driver.CU_MEMHOSTALLOC_PORTABLE);
        try {
            assertEquals(4L * n, host.byteSize());
            long devicePtr = Driver.memHostGetDevicePointer(host);
            long fill = Driver.moduleGetFunction(module, "fill");
            Driver.launchKernel(fill, (n + 127) / 128, 1, 1, 128, 1, 1, 0, 0, devicePtr, n);
            Driver.ctxSynchronize();
            for (int i = 0; i < n; i++) {
                assertEquals(3 * i + 1, host.getAtIndex(JAVA_INT, i), "element " + i);
            }
            long[] global = Driver.moduleGetGlobal(module, "fills");
            assertEquals(4, global[1]);
            MemorySegment counter = MemorySegment.ofArray(new int[1]);
            Driver.memcpyDtoH(counter, global[0], 4);
            assertEquals(1, counter.getAtIndex(JAVA_INT, 0));
        } finally {
            Driver.memFreeHost(host);
            Driver.moduleUnload(module);
        }
    }

    @Test
    void functionAttributesAndOccupancy() {
        long module = loadStandalone("fill.cu", FILL);
        try {
            long fill = Driver.moduleGetFunction(module, "fill");
            assertTrue(Driver.occupancyMaxActiveBlocksPerMultiprocessor(fill, 128, 0) > 0);
            assertTrue(Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_NUM_REGS, fill) > 0);
            assertTrue(Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fill) >= 128);
            int dynamic = Driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, gpu.device)
                    / 2;
            Driver.funcSetAttribute(fill, Driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamic);
            assertEquals(dynamic,
                    Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, fill));
            CudaException missing = assertThrows(CudaException.class,
                    () -> Driver.moduleGetFunction(module, "no_such_kernel"));
            assertTrue(missing.getMessage().startsWith("cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND"),
                    missing.getMessage());
        } finally {
            Driver.moduleUnload(module);
        }
    }

    @Test
    void cooperativeLaunchRuns() {
        assumeTrue(Driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, gpu.device) == 1,
                "device has no cooperative launch");
        long module = loadStandalone("fill.cu", FILL);
        long out = Driver.memAlloc(4L * 256);
        try {
            long fill = Driver.moduleGetFunction(module, "fill");
            Driver.launchCooperativeKernel(fill, 2, 1, 1, 128, 1, 1, 0, 0, out, 256);
            Driver.ctxSynchronize();
            int[] back = new int[256];
            Driver.memcpyDtoH(MemorySegment.ofArray(back), out, 4L * 256);
            for (int i = 0; i < 256; i++) {
                assertEquals(3 * i + 1, back[i], "element " + i);
            }
        } finally {
            Driver.memFree(out);
            Driver.moduleUnload(module);
        }
    }

    @Test
    void asyncWorkOnANonBlockingStreamWithEvents() {
        int n = 1 << 16;
        long stream = Driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING);
        long start = Driver.eventCreate(Driver.CU_EVENT_DEFAULT);
        long end = Driver.eventCreate(Driver.CU_EVENT_DEFAULT);
        long buffer = Driver.memAlloc(4L * n);
        MemorySegment pinned = Driver.memHostAlloc(4L * n, 0);
        try {
            Driver.eventRecord(start, stream);
            Driver.memsetD32Async(buffer, 0x12345678, n, stream);
            Driver.memcpyDtoHAsync(pinned, buffer, 4L * n, stream);
            Driver.eventRecord(end, stream);
            Driver.streamSynchronize(stream);
            assertTrue(Driver.streamQuery(stream));
            assertTrue(Driver.eventQuery(end));
            Driver.eventSynchronize(end);
            assertTrue(Driver.eventElapsedTime(start, end) >= 0f);
            for (int i = 0; i < n; i++) {
                assertEquals(0x12345678, pinned.getAtIndex(JAVA_INT, i), "word " + i);
            }
            for (int i = 0; i < n; i++) {
                pinned.setAtIndex(JAVA_INT, i, i);
            }
            Driver.memcpyHtoDAsync(buffer, pinned, 4L * n, stream);
            Driver.streamSynchronize(stream);
            int[] back = new int[n];
            Driver.memcpyDtoH(MemorySegment.ofArray(back), buffer, 4L * n);
            for (int i = 0; i < n; i++) {
                assertEquals(i, back[i], "word " + i);
            }
        } finally {
            Driver.memFreeHost(pinned);
            Driver.memFree(buffer);
            Driver.eventDestroy(start);
            Driver.eventDestroy(end);
            Driver.streamDestroy(stream);
        }
    }

    @Test
    void invalidImageIsACudaExceptionWithDriverText() {
        CudaException e = assertThrows(CudaException.class,
                () -> Driver.moduleLoadData("definitely not a cubin".getBytes()));
        assertTrue(e.getMessage().startsWith("cuModuleLoadData failed: CUDA_ERROR_"), e.getMessage());
        assertFalse(e.isSticky());
    }
}
