package dev.gpuos.cuda;

import static dev.gpuos.cuda.DriverSymbols.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The CUDA driver API as checked static methods: every non-success CUresult becomes a {@link CudaException}
 * naming the function (a {@link CudaOutOfMemoryException} for CUDA_ERROR_OUT_OF_MEMORY). Handles (contexts,
 * streams, events, modules, functions) and device pointers are plain longs.
 *
 * <p>The current context is per thread in the driver; this class never sets it implicitly. A thread must call
 * {@link #ctxSetCurrent} before any call that needs a context.
 *
 * <p>Blocking: while any kernel runs in the context, cuModuleLoadData, cuModuleUnload and cuMemFree wait for the
 * whole context to go idle, so with a persistent kernel resident they must not be called on a path that the
 * kernel's progress depends on. cuMemAlloc, async copies and launches on other non-blocking streams proceed.
 * Stream 0 is the legacy NULL stream (these bindings use the non-_ptsz exports): work on it waits for every
 * blocking stream, so anything that must overtake a resident kernel goes on a {@link #CU_STREAM_NON_BLOCKING}
 * stream, and the resident kernel itself should be launched on one too.
 */
public final class Driver {
    public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
    public static final int CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK = 12;
    public static final int CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13;
    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_DEVICE_ATTRIBUTE_INTEGRATED = 18;
    public static final int CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY = 19;
    public static final int CU_DEVICE_ATTRIBUTE_ECC_ENABLED = 32;
    public static final int CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33;
    public static final int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39;
    public static final int CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING = 41;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR = 82;
    public static final int CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY = 83;
    public static final int CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS = 89;
    public static final int CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH = 95;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR = 106;

    public static final int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
    public static final int CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
    public static final int CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2;
    public static final int CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3;
    public static final int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
    public static final int CU_FUNC_ATTRIBUTE_PTX_VERSION = 5;
    public static final int CU_FUNC_ATTRIBUTE_BINARY_VERSION = 6;
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    public static final int CU_MEMHOSTALLOC_PORTABLE = 0x1;
    public static final int CU_MEMHOSTALLOC_DEVICEMAP = 0x2;
    public static final int CU_MEMHOSTALLOC_WRITECOMBINED = 0x4;
    public static final int CU_STREAM_DEFAULT = 0x0;
    public static final int CU_STREAM_NON_BLOCKING = 0x1;
    public static final int CU_EVENT_DEFAULT = 0x0;
    public static final int CU_EVENT_BLOCKING_SYNC = 0x1;
    public static final int CU_EVENT_DISABLE_TIMING = 0x2;

    private Driver() {
    }

    // ---- availability and errors -------------------------------------------------------------------------

    /** True when libcuda was found; no driver call is made (so no GPU is needed to answer). */
    public static boolean isAvailable() {
        return LIB.library().isLoaded();
    }

    /** Why {@link #isAvailable()} is false (names every path tried), or null when it is true. */
    public static String unavailableReason() {
        return LIB.library().reason();
    }

    /** Where libcuda was loaded from, or null. */
    public static String libraryOrigin() {
        return LIB.library().origin();
    }

    static void check(String function, int code) {
        if (code != CudaResult.SUCCESS) {
            throw error(function, code, null);
        }
    }

    /** Builds the exception for {@code code}, asking the driver for its name and text when it can. */
    static CudaException error(String function, int code, String detail) {
        String name = CudaResult.name(code);
        String description = null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment text = arena.allocate(ADDRESS);
            if ((int) cuGetErrorName.invokeExact(code, text) == CudaResult.SUCCESS) {
                name = cString(text.get(ADDRESS, 0));
            }
            if ((int) cuGetErrorString.invokeExact(code, text) == CudaResult.SUCCESS) {
                description = cString(text.get(ADDRESS, 0));
            }
        } catch (CudaUnavailableException e) {
            // No driver to describe it: the table name is the best we have.
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
        if (code == CudaResult.ERROR_OUT_OF_MEMORY) {
            return new CudaOutOfMemoryException(function, name, description, -1, -1, -1);
        }
        return new CudaException(function, code, name, description, detail);
    }

    /** A NUL-terminated string owned by the library (error names, NVRTC error text): read, never freed. */
    @SuppressWarnings("restricted")
    static String cString(MemorySegment pointer) {
        return pointer.equals(MemorySegment.NULL) ? null : pointer.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static MemorySegment handle(long address) {
        return MemorySegment.ofAddress(address);
    }

    // ---- init and devices --------------------------------------------------------------------------------

    public static void init() {
        try {
            check("cuInit", (int) cuInit.invokeExact(0));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** e.g. 13000 for CUDA 13.0; works before {@link #init()}. */
    public static int driverVersion() {
        return intOut("cuDriverGetVersion", cuDriverGetVersion);
    }

    public static int deviceCount() {
        return intOut("cuDeviceGetCount", cuDeviceGetCount);
    }

    public static int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(out, ordinal));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static String deviceName(int dev) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(out, 256, dev));
            return out.getString(0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static int attribute(int attrib, int dev) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            int rc = (int) cuDeviceGetAttribute.invokeExact(out, attrib, dev);
            if (rc != CudaResult.SUCCESS) {
                throw error("cuDeviceGetAttribute", rc, "attribute " + attrib + ", device " + dev);
            }
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static int multiprocessorCount(int dev) {
        return attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    }

    /** {major, minor}, e.g. {9, 0} for H100. */
    public static int[] computeCapability(int dev) {
        return new int[] {attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
                attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev)};
    }

    public static long totalMemory(int dev) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check("cuDeviceTotalMem", (int) cuDeviceTotalMem.invokeExact(out, dev));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    // ---- contexts ----------------------------------------------------------------------------------------

    public static long primaryCtxRetain(int dev) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(out, dev));
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static void primaryCtxRelease(int dev) {
        try {
            check("cuDevicePrimaryCtxRelease", (int) cuDevicePrimaryCtxRelease.invokeExact(dev));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Destroys all allocations and modules of the primary context; the only recovery from a sticky error. */
    public static void primaryCtxReset(int dev) {
        try {
            check("cuDevicePrimaryCtxReset", (int) cuDevicePrimaryCtxReset.invokeExact(dev));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Context flag: allow mapped pinned host memory (implied with unified addressing, stated anyway). */
    public static final int CU_CTX_MAP_HOST = 0x08;

    /**
     * Creates a context of its own (made current on this thread). Unlike the primary context, it can be
     * destroyed outright, which is how a process recovers from a sticky error such as an illegal address.
     */
    public static long ctxCreate(int flags, int dev) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuCtxCreate", (int) cuCtxCreate.invokeExact(out, flags, dev));
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static void ctxDestroy(long ctx) {
        try {
            check("cuCtxDestroy", (int) cuCtxDestroy.invokeExact(handle(ctx)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static void ctxSetCurrent(long ctx) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(handle(ctx)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** The calling thread's current context, 0 when none. */
    public static long ctxGetCurrent() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuCtxGetCurrent", (int) cuCtxGetCurrent.invokeExact(out));
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static void ctxSynchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    // ---- device and host memory, copies and fills: see DriverMemory for the bodies -------------------------

    /** Throws {@link CudaOutOfMemoryException} with the requested size and the device's free/total bytes. */
    public static long memAlloc(long bytes) {
        return DriverMemory.memAlloc(bytes);
    }

    public static void memFree(long dptr) {
        DriverMemory.memFree(dptr);
    }

    /** {free, total} bytes of the current context's device. */
    public static long[] memGetInfo() {
        return DriverMemory.memGetInfo();
    }

    /**
     * Page-locked host memory of exactly {@code bytes}. The segment is not tied to any Java arena: it is valid
     * until {@link #memFreeHost} and must not be touched afterwards.
     */
    public static MemorySegment memHostAlloc(long bytes, int flags) {
        return DriverMemory.memHostAlloc(bytes, flags);
    }

    public static void memFreeHost(MemorySegment hostMemory) {
        DriverMemory.memFreeHost(hostMemory);
    }

    /** The device address of memory from {@link #memHostAlloc} with {@link #CU_MEMHOSTALLOC_DEVICEMAP}. */
    public static long memHostGetDevicePointer(MemorySegment hostMemory) {
        return DriverMemory.memHostGetDevicePointer(hostMemory);
    }

    /** Heap segments are staged through a temporary native buffer (the driver needs a stable address). */
    public static void memcpyHtoD(long dst, MemorySegment src, long bytes) {
        DriverMemory.memcpyHtoD(dst, src, bytes);
    }

    public static void memcpyDtoH(MemorySegment dst, long src, long bytes) {
        DriverMemory.memcpyDtoH(dst, src, bytes);
    }

    /** {@code src} must be native and stay valid until the stream passes this copy (pinned to be async). */
    public static void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, long stream) {
        DriverMemory.memcpyHtoDAsync(dst, src, bytes, stream);
    }

    public static void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, long stream) {
        DriverMemory.memcpyDtoHAsync(dst, src, bytes, stream);
    }

    public static void memcpyDtoD(long dst, long src, long bytes) {
        DriverMemory.memcpyDtoD(dst, src, bytes);
    }

    /** Sets {@code count} bytes to the low 8 bits of {@code value}. */
    public static void memsetD8(long dptr, int value, long count) {
        DriverMemory.memsetD8(dptr, value, count);
    }

    /** Sets {@code count} 32-bit words (not bytes); {@code dptr} must be 4-byte aligned. */
    public static void memsetD32Async(long dptr, int value, long count, long stream) {
        DriverMemory.memsetD32Async(dptr, value, count, stream);
    }

    // ---- streams and events ------------------------------------------------------------------------------

    public static long streamCreate(int flags) {
        return handleOut("cuStreamCreate", cuStreamCreate, flags);
    }

    /** True when all work in the stream has completed, false while some is pending (CUDA_ERROR_NOT_READY). */
    public static boolean streamQuery(long stream) {
        return isComplete("cuStreamQuery", cuStreamQuery, stream);
    }

    public static void streamSynchronize(long stream) {
        onHandle("cuStreamSynchronize", cuStreamSynchronize, stream);
    }

    public static void streamDestroy(long stream) {
        onHandle("cuStreamDestroy", cuStreamDestroy, stream);
    }

    public static long eventCreate(int flags) {
        return handleOut("cuEventCreate", cuEventCreate, flags);
    }

    public static void eventRecord(long event, long stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(handle(event), handle(stream)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** True when the event has completed, false while pending. */
    public static boolean eventQuery(long event) {
        return isComplete("cuEventQuery", cuEventQuery, event);
    }

    public static void eventSynchronize(long event) {
        onHandle("cuEventSynchronize", cuEventSynchronize, event);
    }

    /** Milliseconds between two completed events (resolution about half a microsecond). */
    public static float eventElapsedTime(long start, long end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(out, handle(start), handle(end)));
            return out.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    public static void eventDestroy(long event) {
        onHandle("cuEventDestroy", cuEventDestroy, event);
    }

    // ---- modules, functions, launches: see DriverModules for the bodies ----------------------------------

    public static long moduleLoadData(byte[] image) {
        return DriverModules.loadData(image);
    }

    public static void moduleUnload(long module) {
        onHandle("cuModuleUnload", cuModuleUnload, module);
    }

    public static long moduleGetFunction(long module, String name) {
        return DriverModules.getFunction(module, name);
    }

    /** {device pointer, size in bytes} of a {@code __device__} global. */
    public static long[] moduleGetGlobal(long module, String name) {
        return DriverModules.getGlobal(module, name);
    }

    public static int funcGetAttribute(int attrib, long func) {
        return DriverModules.funcGetAttribute(attrib, func);
    }

    public static void funcSetAttribute(long func, int attrib, int value) {
        DriverModules.funcSetAttribute(func, attrib, value);
    }

    public static int occupancyMaxActiveBlocksPerMultiprocessor(long func, int blockSize, long dynamicSmemBytes) {
        return DriverModules.occupancy(func, blockSize, dynamicSmemBytes);
    }

    /** Each element of {@code params} is one 8-byte kernel argument; see {@link KernelParams}. */
    public static void launchKernel(long func, int gridX, int gridY, int gridZ, int blockX, int blockY,
                                    int blockZ, int sharedMemBytes, long stream, long... params) {
        DriverModules.launch(false, func, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes, stream,
                params);
    }

    /** As {@link #launchKernel}, but all blocks are co-resident (grid-wide sync is legal). */
    public static void launchCooperativeKernel(long func, int gridX, int gridY, int gridZ, int blockX, int blockY,
                                               int blockZ, int sharedMemBytes, long stream, long... params) {
        DriverModules.launch(true, func, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes, stream,
                params);
    }

    // ---- shapes shared by several calls ------------------------------------------------------------------

    private static int intOut(String function, java.lang.invoke.MethodHandle h) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(function, (int) h.invokeExact(out));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static long handleOut(String function, java.lang.invoke.MethodHandle h, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(function, (int) h.invokeExact(out, flags));
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static void onHandle(String function, java.lang.invoke.MethodHandle h, long handle) {
        try {
            check(function, (int) h.invokeExact(handle(handle)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static boolean isComplete(String function, java.lang.invoke.MethodHandle h, long handle) {
        try {
            int rc = (int) h.invokeExact(handle(handle));
            if (rc == CudaResult.ERROR_NOT_READY) {
                return false;
            }
            check(function, rc);
            return true;
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }
}
