package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

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
                () -> Driver.memcpyHtoD(0x1000, java.lang.foreign.MemorySegment.ofArray(new byte[8]), 16));
        assertTrue(oob.getMessage().contains("16 bytes requested") && oob.getMessage().contains("holds 8"),
                oob.getMessage());
        IllegalArgumentException heap = assertThrows(IllegalArgumentException.class,
                () -> Driver.memcpyHtoDAsync(0x1000, java.lang.foreign.MemorySegment.ofArray(new byte[8]), 8, 0));
        assertTrue(heap.getMessage().contains("native"), heap.getMessage());
    }
}
