package dev.gpuos.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The driver API downcall handles, created once when this class initialises (on first use of {@link Driver}),
 * never per call: a downcall through a static final handle costs about as much as the native call itself,
 * creating one costs far more. Type mapping: CUresult and enums -> int, unsigned int -> int, CUdevice -> int,
 * size_t and CUdeviceptr -> long, every handle and pointer -> ADDRESS.
 *
 * <p>CUDA 13's cuda.h maps the plain names to versioned exports with #defines (cuMemAlloc -> cuMemAlloc_v2 ...);
 * a binding that dlsyms the plain name would get the legacy ABI, so the versioned names come first.
 */
final class DriverSymbols {
    static final NativeLibrary.Spec SPEC = new NativeLibrary.Spec("CUDA driver (libcuda)", "gpuos.cuda.library",
            "GPUOS_CUDA_LIBRARY", List.of("libcuda.so.1", "libcuda.so"), List.of("libcuda.so.1"),
            driverDirectories(), List.of());

    static final Downcalls LIB = new Downcalls(NativeLibrary.locate(SPEC));

    private static final FunctionDescriptor I_I = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor I_V = FunctionDescriptor.of(JAVA_INT);
    private static final FunctionDescriptor I_P = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor I_PP = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    private static final FunctionDescriptor I_PI = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
    private static final FunctionDescriptor I_IP = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS);
    private static final FunctionDescriptor I_PII = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);

    static final MethodHandle cuGetErrorName = LIB.bind(I_IP, "cuGetErrorName");
    static final MethodHandle cuGetErrorString = LIB.bind(I_IP, "cuGetErrorString");
    static final MethodHandle cuInit = LIB.bind(I_I, "cuInit");
    static final MethodHandle cuDriverGetVersion = LIB.bind(I_P, "cuDriverGetVersion");

    static final MethodHandle cuDeviceGetCount = LIB.bind(I_P, "cuDeviceGetCount");
    static final MethodHandle cuDeviceGet = LIB.bind(I_PI, "cuDeviceGet");
    static final MethodHandle cuDeviceGetName = LIB.bind(I_PII, "cuDeviceGetName");
    static final MethodHandle cuDeviceGetAttribute = LIB.bind(I_PII, "cuDeviceGetAttribute");
    static final MethodHandle cuDeviceTotalMem = LIB.bind(I_PI, "cuDeviceTotalMem_v2");

    static final MethodHandle cuDevicePrimaryCtxRetain = LIB.bind(I_PI, "cuDevicePrimaryCtxRetain");
    static final MethodHandle cuDevicePrimaryCtxRelease = LIB.bind(I_I, "cuDevicePrimaryCtxRelease_v2");
    static final MethodHandle cuDevicePrimaryCtxReset = LIB.bind(I_I, "cuDevicePrimaryCtxReset_v2");
    static final MethodHandle cuCtxCreate = LIB.bind(I_PII, "cuCtxCreate_v2");
    static final MethodHandle cuCtxDestroy = LIB.bind(I_P, "cuCtxDestroy_v2");
    static final MethodHandle cuCtxSetCurrent = LIB.bind(I_P, "cuCtxSetCurrent");
    static final MethodHandle cuCtxGetCurrent = LIB.bind(I_P, "cuCtxGetCurrent");
    static final MethodHandle cuCtxSynchronize = LIB.bind(I_V, "cuCtxSynchronize");

    static final MethodHandle cuMemAlloc = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG),
            "cuMemAlloc_v2");
    static final MethodHandle cuMemFree = LIB.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG), "cuMemFree_v2");
    static final MethodHandle cuMemGetInfo = LIB.bind(I_PP, "cuMemGetInfo_v2");
    static final MethodHandle cuMemHostAlloc = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), "cuMemHostAlloc");
    static final MethodHandle cuMemFreeHost = LIB.bind(I_P, "cuMemFreeHost");
    static final MethodHandle cuMemHostGetDevicePointer = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), "cuMemHostGetDevicePointer_v2");

    static final MethodHandle cuMemcpyHtoD = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG), "cuMemcpyHtoD_v2");
    static final MethodHandle cuMemcpyDtoH = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoH_v2");
    static final MethodHandle cuMemcpyHtoDAsync = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS), "cuMemcpyHtoDAsync_v2");
    static final MethodHandle cuMemcpyDtoHAsync = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS), "cuMemcpyDtoHAsync_v2");
    static final MethodHandle cuMemcpyDtoD = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoD_v2");
    /** {@code unsigned char uc}: JAVA_BYTE so the linker does the ABI's narrow-argument extension. */
    static final MethodHandle cuMemsetD8 = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG), "cuMemsetD8_v2");
    static final MethodHandle cuMemsetD32Async = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS), "cuMemsetD32Async");

    static final MethodHandle cuStreamCreate = LIB.bind(I_PI, "cuStreamCreate");
    static final MethodHandle cuStreamQuery = LIB.bind(I_P, "cuStreamQuery");
    static final MethodHandle cuStreamSynchronize = LIB.bind(I_P, "cuStreamSynchronize");
    static final MethodHandle cuStreamDestroy = LIB.bind(I_P, "cuStreamDestroy_v2");

    static final MethodHandle cuModuleLoadData = LIB.bind(I_PP, "cuModuleLoadData");
    static final MethodHandle cuModuleUnload = LIB.bind(I_P, "cuModuleUnload");
    static final MethodHandle cuModuleGetFunction = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuModuleGetFunction");
    static final MethodHandle cuModuleGetGlobal = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS), "cuModuleGetGlobal_v2");

    static final MethodHandle cuFuncGetAttribute = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), "cuFuncGetAttribute");
    static final MethodHandle cuFuncSetAttribute = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuFuncSetAttribute");
    static final MethodHandle cuOccupancyMaxActiveBlocksPerMultiprocessor = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG),
            "cuOccupancyMaxActiveBlocksPerMultiprocessor");

    static final MethodHandle cuLaunchKernel = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
            "cuLaunchKernel");
    /** Same as cuLaunchKernel without the trailing {@code extra} argument. */
    static final MethodHandle cuLaunchCooperativeKernel = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
            "cuLaunchCooperativeKernel");

    static final MethodHandle cuEventCreate = LIB.bind(I_PI, "cuEventCreate");
    static final MethodHandle cuEventRecord = LIB.bind(I_PP, "cuEventRecord");
    static final MethodHandle cuEventQuery = LIB.bind(I_P, "cuEventQuery");
    static final MethodHandle cuEventSynchronize = LIB.bind(I_P, "cuEventSynchronize");
    static final MethodHandle cuEventElapsedTime = LIB.bind(
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuEventElapsedTime_v2",
            "cuEventElapsedTime");
    static final MethodHandle cuEventDestroy = LIB.bind(I_P, "cuEventDestroy_v2");

    private DriverSymbols() {
    }

    /** libcuda is installed with the kernel driver, not the toolkit; these are the distributions' locations. */
    private static List<Path> driverDirectories() {
        List<Path> dirs = new ArrayList<>();
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        dirs.add(Path.of("/usr/lib64"));
        dirs.add(Path.of("/usr/lib/wsl/lib"));
        return dirs;
    }
}
