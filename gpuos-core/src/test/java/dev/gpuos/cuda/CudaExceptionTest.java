package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

class CudaExceptionTest {
    @Test
    void messageNamesFunctionErrorAndDescription() {
        CudaException e = new CudaException("cuModuleLoadData", 200, "CUDA_ERROR_INVALID_IMAGE",
                "device kernel image is invalid");
        assertEquals("cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is invalid)",
                e.getMessage());
        assertEquals(200, e.code());
        assertEquals("cuModuleLoadData", e.function());
        assertFalse(e.isSticky());
    }

    @Test
    void detailIsAppendedAndMissingDescriptionIsOmitted() {
        CudaException e = new CudaException("cuLaunchKernel", 701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", null,
                "grid (1,1,1), block (2048,1,1)");
        assertEquals("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: grid (1,1,1), block (2048,1,1)",
                e.getMessage());
    }

    @Test
    void stickyCodesAreExactlyTheContextDestroyingOnes() {
        Set<Integer> sticky = Set.of(214, 226, 700, 702, 710, 714, 715, 716, 717, 718, 719, 721);
        for (int code = 0; code < 1000; code++) {
            assertEquals(sticky.contains(code), CudaResult.isSticky(code), "code " + code + " "
                    + CudaResult.name(code));
            assertEquals(sticky.contains(code), new CudaException("f", code, "n", "d").isSticky(), "code " + code);
        }
    }

    @Test
    void nameTableCoversCommonCodesAndFallsBackForUnknownOnes() {
        assertEquals("CUDA_SUCCESS", CudaResult.name(0));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", CudaResult.name(2));
        assertEquals("CUDA_ERROR_NOT_READY", CudaResult.name(600));
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", CudaResult.name(700));
        assertEquals("CUDA_ERROR_LAUNCH_FAILED", CudaResult.name(719));
        assertEquals("CUDA_ERROR_UNKNOWN", CudaResult.name(999));
        assertEquals("CUresult(12345)", CudaResult.name(12345));
    }

    @Test
    void outOfMemoryNamesRequestedFreeAndTotal() {
        CudaOutOfMemoryException e = new CudaOutOfMemoryException("cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY",
                "out of memory", 1L << 50, 80_000_000_000L, 85_000_000_000L);
        assertEquals("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory): requested 1125899906842624"
                + " bytes, device has 80000000000 bytes free of 85000000000 total", e.getMessage());
        assertEquals(CudaResult.ERROR_OUT_OF_MEMORY, e.code());
        assertEquals(1L << 50, e.requestedBytes());
        assertEquals(80_000_000_000L, e.freeBytes());
    }

    @Test
    void outOfMemoryWithUnknownSizesSaysOnlyWhatItKnows() {
        CudaOutOfMemoryException e = new CudaOutOfMemoryException("cuMemHostAlloc", "CUDA_ERROR_OUT_OF_MEMORY",
                "out of memory", 4096, -1, -1);
        assertEquals("cuMemHostAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory): requested 4096 bytes",
                e.getMessage());
    }

    @Test
    void driverErrorFactoryFallsBackToTheNameTableWithoutADriver() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Driver.isAvailable(),
                "with a driver loaded the name comes from cuGetErrorName instead");
        CudaException e = Driver.error("cuMemFree", 1, "dptr 0x10");
        assertEquals("cuMemFree failed: CUDA_ERROR_INVALID_VALUE: dptr 0x10", e.getMessage());
        assertTrue(Driver.error("cuMemAlloc", 2, null) instanceof CudaOutOfMemoryException);
    }

    @Test
    void nvrtcExceptionCarriesTheWholeLog() {
        String log = "prog.cu(3): error: identifier \"undefined_thing\" is undefined\n\n1 error detected\n";
        NvrtcException e = new NvrtcException("prog.cu", "compilation", 6, "NVRTC_ERROR_COMPILATION", log);
        assertEquals("NVRTC compilation failed for program 'prog.cu': NVRTC_ERROR_COMPILATION\n"
                + "prog.cu(3): error: identifier \"undefined_thing\" is undefined\n\n1 error detected", e.getMessage());
        assertEquals(log, e.log());
        assertEquals(6, e.result());
        assertEquals("NVRTC_ERROR_COMPILATION", NvrtcException.name(6));
        assertEquals("nvrtcResult(99)", NvrtcException.name(99));
    }

    @Test
    void nvJitLinkExceptionCarriesBothLogs() {
        NvJitLinkException e = new NvJitLinkException("nvJitLinkComplete", 3,
                "error   : Undefined reference to '_Z9scale_addff' in 'kernel.cu'", "info    : 2 inputs");
        assertEquals("nvJitLinkComplete failed: NVJITLINK_ERROR_INVALID_INPUT\n"
                + "error log: error   : Undefined reference to '_Z9scale_addff' in 'kernel.cu'\n"
                + "info log: info    : 2 inputs", e.getMessage());
        assertEquals("NVJITLINK_ERROR_INVALID_INPUT", e.resultName());
        NvJitLinkException empty = new NvJitLinkException("nvJitLinkCreate", 1, "", null);
        assertEquals("nvJitLinkCreate failed: NVJITLINK_ERROR_UNRECOGNIZED_OPTION\nerror log: (empty)\n"
                + "info log: (empty)", empty.getMessage());
    }

    @Test
    void unavailableExceptionNamesLibraryAndReason() {
        CudaUnavailableException e = new CudaUnavailableException("NVRTC (libnvrtc)", "tried /a; /b");
        assertEquals("NVRTC (libnvrtc) is unavailable: tried /a; /b", e.getMessage());
    }
}
