package dev.gpuos.cuda;

import static dev.gpuos.cuda.Driver.check;
import static dev.gpuos.cuda.Driver.error;
import static dev.gpuos.cuda.DriverSymbols.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Bodies of {@link Driver}'s memory, copy and fill calls, kept apart so Driver stays readable. */
final class DriverMemory {
    private DriverMemory() {
    }

    /** Throws {@link CudaOutOfMemoryException} with the requested size and the device's free/total bytes. */
    static long memAlloc(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("memAlloc: size must be positive, got " + bytes);
        }
        int rc;
        long dptr;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            rc = (int) cuMemAlloc.invokeExact(out, bytes);
            dptr = out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
        if (rc == CudaResult.ERROR_OUT_OF_MEMORY) {
            CudaException plain = error("cuMemAlloc", rc, null);
            long[] info = memGetInfoOrUnknown();
            throw new CudaOutOfMemoryException("cuMemAlloc", plain.errorName(), plain.description(), bytes,
                    info[0], info[1]);
        }
        if (rc != CudaResult.SUCCESS) {
            throw error("cuMemAlloc", rc, "requested " + bytes + " bytes");
        }
        return dptr;
    }

    static void memFree(long dptr) {
        try {
            check("cuMemFree", (int) cuMemFree.invokeExact(dptr));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    static long[] memGetInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check("cuMemGetInfo", (int) cuMemGetInfo.invokeExact(free, total));
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static long[] memGetInfoOrUnknown() {
        try {
            return memGetInfo();
        } catch (RuntimeException e) {
            return new long[] {-1, -1};
        }
    }

    /**
     * Page-locked host memory of exactly {@code bytes}. The segment is not tied to any Java arena: it is valid
     * until {@link Driver#memFreeHost} and must not be touched afterwards.
     */
    @SuppressWarnings("restricted") // the driver just gave us exactly this many bytes
    static MemorySegment memHostAlloc(long bytes, int flags) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("memHostAlloc: size must be positive, got " + bytes);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cuMemHostAlloc.invokeExact(out, bytes, flags);
            if (rc == CudaResult.ERROR_OUT_OF_MEMORY) {
                CudaException plain = error("cuMemHostAlloc", rc, null);
                throw new CudaOutOfMemoryException("cuMemHostAlloc", plain.errorName(), plain.description(),
                        bytes, -1, -1);
            }
            if (rc != CudaResult.SUCCESS) {
                throw error("cuMemHostAlloc", rc, "requested " + bytes + " bytes, flags 0x"
                        + Integer.toHexString(flags));
            }
            return out.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void memFreeHost(MemorySegment hostMemory) {
        try {
            check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(hostMemory));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** The device address of memory from {@link #memHostAlloc} with {@link Driver#CU_MEMHOSTALLOC_DEVICEMAP}. */
    static long memHostGetDevicePointer(MemorySegment hostMemory) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check("cuMemHostGetDevicePointer",
                    (int) cuMemHostGetDevicePointer.invokeExact(out, hostMemory, 0));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Heap segments are staged through a temporary native buffer (the driver needs a stable address). */
    static void memcpyHtoD(long dst, MemorySegment src, long bytes) {
        requireFits("memcpyHtoD", src, bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment from = src.isNative() ? src : arena.allocate(bytes, 16).copyFrom(src.asSlice(0, bytes));
            check("cuMemcpyHtoD", (int) cuMemcpyHtoD.invokeExact(dst, from, bytes));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void memcpyDtoH(MemorySegment dst, long src, long bytes) {
        requireFits("memcpyDtoH", dst, bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment to = dst.isNative() ? dst : arena.allocate(bytes, 16);
            check("cuMemcpyDtoH", (int) cuMemcpyDtoH.invokeExact(to, src, bytes));
            if (to != dst) {
                dst.asSlice(0, bytes).copyFrom(to);
            }
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** {@code src} must be native and stay valid until the stream passes this copy (pinned to be async). */
    static void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, long stream) {
        requireFits("memcpyHtoDAsync", src, bytes);
        requireNative("memcpyHtoDAsync", src);
        try {
            check("cuMemcpyHtoDAsync", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, MemorySegment.ofAddress(stream)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, long stream) {
        requireFits("memcpyDtoHAsync", dst, bytes);
        requireNative("memcpyDtoHAsync", dst);
        try {
            check("cuMemcpyDtoHAsync", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, MemorySegment.ofAddress(stream)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void memcpyDtoD(long dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoD", (int) cuMemcpyDtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Sets {@code count} bytes to the low 8 bits of {@code value}. */
    static void memsetD8(long dptr, int value, long count) {
        try {
            check("cuMemsetD8", (int) cuMemsetD8.invokeExact(dptr, (byte) value, count));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Sets {@code count} 32-bit words (not bytes); {@code dptr} must be 4-byte aligned. */
    static void memsetD32Async(long dptr, int value, long count, long stream) {
        try {
            check("cuMemsetD32Async", (int) cuMemsetD32Async.invokeExact(dptr, value, count, MemorySegment.ofAddress(stream)));
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static void requireFits(String function, MemorySegment host, long bytes) {
        if (bytes < 0 || bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException(function + ": " + bytes + " bytes requested but the host segment"
                    + " holds " + host.byteSize() + " bytes");
        }
    }

    private static void requireNative(String function, MemorySegment host) {
        if (!host.isNative()) {
            throw new IllegalArgumentException(function + " needs a native (preferably pinned) host segment: the"
                    + " copy runs after the call returns, when a heap array may have moved");
        }
    }
}
