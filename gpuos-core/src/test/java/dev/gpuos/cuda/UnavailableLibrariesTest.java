package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** On a machine without CUDA (like CI), every entry point must fail cleanly and say where it looked. */
class UnavailableLibrariesTest {
    @Test
    void driverCallsThrowUnavailableWithTheSearchedPaths() {
        assumeFalse(Driver.isAvailable(), "libcuda is present here; nothing to check");
        String reason = Driver.unavailableReason();
        assertNotNull(reason);
        assertTrue(reason.contains("libcuda.so.1"), reason);
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, Driver::init);
        assertEquals(reason, e.reason());
        assertTrue(e.getMessage().startsWith("CUDA driver (libcuda) is unavailable: "), e.getMessage());
        assertThrows(CudaUnavailableException.class, () -> Driver.memAlloc(1024));
        assertThrows(CudaUnavailableException.class, () -> Driver.launchKernel(1, 1, 1, 1, 1, 1, 1, 0, 0, 42L));
    }

    /**
     * Every entry point must reach its downcall with exactly the handle's type: a mismatch would surface here as
     * WrongMethodTypeException instead of CudaUnavailableException, on a CPU-only machine.
     */
    @Test
    void everyDriverEntryPointReachesItsDowncall() {
        assumeFalse(Driver.isAvailable(), "libcuda is present here; the GPU tests exercise the real calls");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(64);
            Map<String, Executable> calls = new LinkedHashMap<>();
            calls.put("init", Driver::init);
            calls.put("driverVersion", Driver::driverVersion);
            calls.put("deviceCount", Driver::deviceCount);
            calls.put("device", () -> Driver.device(0));
            calls.put("deviceName", () -> Driver.deviceName(0));
            calls.put("attribute", () -> Driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
            calls.put("computeCapability", () -> Driver.computeCapability(0));
            calls.put("totalMemory", () -> Driver.totalMemory(0));
            calls.put("primaryCtxRetain", () -> Driver.primaryCtxRetain(0));
            calls.put("primaryCtxRelease", () -> Driver.primaryCtxRelease(0));
            calls.put("primaryCtxReset", () -> Driver.primaryCtxReset(0));
            calls.put("ctxSetCurrent", () -> Driver.ctxSetCurrent(0));
            calls.put("ctxGetCurrent", Driver::ctxGetCurrent);
            calls.put("ctxSynchronize", Driver::ctxSynchronize);
            calls.put("memAlloc", () -> Driver.memAlloc(64));
            calls.put("memFree", () -> Driver.memFree(0x1000));
            calls.put("memGetInfo", Driver::memGetInfo);
            calls.put("memHostAlloc", () -> Driver.memHostAlloc(64, Driver.CU_MEMHOSTALLOC_DEVICEMAP));
            calls.put("memFreeHost", () -> Driver.memFreeHost(host));
            calls.put("memHostGetDevicePointer", () -> Driver.memHostGetDevicePointer(host));
            calls.put("memcpyHtoD", () -> Driver.memcpyHtoD(0x1000, host, 64));
            calls.put("memcpyHtoD heap", () -> Driver.memcpyHtoD(0x1000, MemorySegment.ofArray(new byte[8]), 8));
            calls.put("memcpyDtoH", () -> Driver.memcpyDtoH(host, 0x1000, 64));
            calls.put("memcpyDtoH heap", () -> Driver.memcpyDtoH(MemorySegment.ofArray(new int[2]), 0x1000, 8));
            calls.put("memcpyHtoDAsync", () -> Driver.memcpyHtoDAsync(0x1000, host, 64, 0));
            calls.put("memcpyDtoHAsync", () -> Driver.memcpyDtoHAsync(host, 0x1000, 64, 0));
            calls.put("memcpyDtoD", () -> Driver.memcpyDtoD(0x1000, 0x2000, 64));
            calls.put("memsetD8", () -> Driver.memsetD8(0x1000, 0xFF, 64));
            calls.put("memsetD32Async", () -> Driver.memsetD32Async(0x1000, -1, 16, 0));
            calls.put("streamCreate", () -> Driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING));
            calls.put("streamQuery", () -> Driver.streamQuery(0));
            calls.put("streamSynchronize", () -> Driver.streamSynchronize(0));
            calls.put("streamDestroy", () -> Driver.streamDestroy(0x10));
            calls.put("eventCreate", () -> Driver.eventCreate(Driver.CU_EVENT_DISABLE_TIMING));
            calls.put("eventRecord", () -> Driver.eventRecord(0x10, 0));
            calls.put("eventQuery", () -> Driver.eventQuery(0x10));
            calls.put("eventSynchronize", () -> Driver.eventSynchronize(0x10));
            calls.put("eventElapsedTime", () -> Driver.eventElapsedTime(0x10, 0x20));
            calls.put("eventDestroy", () -> Driver.eventDestroy(0x10));
            calls.put("moduleLoadData", () -> Driver.moduleLoadData(new byte[] {0x7f, 'E', 'L', 'F'}));
            calls.put("moduleUnload", () -> Driver.moduleUnload(0x10));
            calls.put("moduleGetFunction", () -> Driver.moduleGetFunction(0x10, "k"));
            calls.put("moduleGetGlobal", () -> Driver.moduleGetGlobal(0x10, "g"));
            calls.put("funcGetAttribute", () -> Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_NUM_REGS, 0x10));
            calls.put("funcSetAttribute", () -> Driver.funcSetAttribute(0x10,
                    Driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1024));
            calls.put("occupancy", () -> Driver.occupancyMaxActiveBlocksPerMultiprocessor(0x10, 128, 0));
            calls.put("launchKernel no params", () -> Driver.launchKernel(0x10, 1, 1, 1, 32, 1, 1, 0, 0));
            calls.put("launchCooperativeKernel", () -> Driver.launchCooperativeKernel(0x10, 1, 1, 1, 32, 1, 1, 0,
                    0, 1L, 2L));
            calls.forEach((name, call) -> assertThrows(CudaUnavailableException.class, call, name));
        }
    }

    @Test
    void nvrtcCallsThrowUnavailableNamingToolkitDirectories() {
        assumeFalse(Nvrtc.isAvailable(), "NVRTC is present here; nothing to check");
        String reason = Nvrtc.unavailableReason();
        assertTrue(reason.contains("libnvrtc.so.13") && reason.contains("/usr/local/cuda/lib64"), reason);
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> Nvrtc.compile("k.cu", "__global__ void k() {}", Map.of(), List.of()));
        assertTrue(e.getMessage().contains("NVRTC"), e.getMessage());
    }

    @Test
    void nvJitLinkCallsThrowUnavailable() {
        assumeFalse(NvJitLink.isAvailable(), "nvJitLink is present here; nothing to check");
        assertTrue(NvJitLink.unavailableReason().contains("libnvJitLink.so.13"), NvJitLink.unavailableReason());
        assertThrows(CudaUnavailableException.class, NvJitLink::version);
    }

    @Test
    void argumentErrorsAreReportedBeforeAnyNativeCall() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Driver.memAlloc(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        IndexOutOfBoundsException oob = assertThrows(IndexOutOfBoundsException.class,
                () -> Driver.memcpyHtoD(0x1000, MemorySegment.ofArray(new byte[8]), 16));
        assertTrue(oob.getMessage().contains("16 bytes requested") && oob.getMessage().contains("holds 8"),
                oob.getMessage());
        IllegalArgumentException heap = assertThrows(IllegalArgumentException.class,
                () -> Driver.memcpyHtoDAsync(0x1000, MemorySegment.ofArray(new byte[8]), 8, 0));
        assertTrue(heap.getMessage().contains("native"), heap.getMessage());
    }
}
