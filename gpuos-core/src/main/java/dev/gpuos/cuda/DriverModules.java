package dev.gpuos.cuda;

import static dev.gpuos.cuda.Driver.check;
import static dev.gpuos.cuda.Driver.error;
import static dev.gpuos.cuda.DriverSymbols.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Bodies of {@link Driver}'s module, function and launch calls, kept apart so Driver stays readable. */
final class DriverModules {
    private DriverModules() {
    }

    /**
     * The image is copied into native memory with a trailing NUL (harmless for ELF cubins, required for PTX,
     * which the driver reads as a C string); the driver has its own copy once the call returns.
     */
    static long loadData(byte[] image) {
        if (image.length == 0) {
            throw new IllegalArgumentException("moduleLoadData: empty image");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, data, JAVA_BYTE, 0, image.length);
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cuModuleLoadData.invokeExact(out, data);
            if (rc != CudaResult.SUCCESS) {
                throw error("cuModuleLoadData", rc, "image of " + image.length + " bytes");
            }
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static long getFunction(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cuModuleGetFunction.invokeExact(out, MemorySegment.ofAddress(module),
                    arena.allocateFrom(name));
            if (rc != CudaResult.SUCCESS) {
                throw error("cuModuleGetFunction", rc, "kernel '" + name + "' (extern \"C\" or mangled name?)");
            }
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static long[] getGlobal(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dptr = arena.allocate(JAVA_LONG);
            MemorySegment bytes = arena.allocate(JAVA_LONG);
            int rc = (int) cuModuleGetGlobal.invokeExact(dptr, bytes, MemorySegment.ofAddress(module),
                    arena.allocateFrom(name));
            if (rc != CudaResult.SUCCESS) {
                throw error("cuModuleGetGlobal", rc, "global '" + name + "'");
            }
            return new long[] {dptr.get(JAVA_LONG, 0), bytes.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static int funcGetAttribute(int attrib, long func) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            int rc = (int) cuFuncGetAttribute.invokeExact(out, attrib, MemorySegment.ofAddress(func));
            if (rc != CudaResult.SUCCESS) {
                throw error("cuFuncGetAttribute", rc, "attribute " + attrib);
            }
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void funcSetAttribute(long func, int attrib, int value) {
        try {
            int rc = (int) cuFuncSetAttribute.invokeExact(MemorySegment.ofAddress(func), attrib, value);
            if (rc != CudaResult.SUCCESS) {
                throw error("cuFuncSetAttribute", rc, "attribute " + attrib + " = " + value);
            }
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static int occupancy(long func, int blockSize, long dynamicSmemBytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            int rc = (int) cuOccupancyMaxActiveBlocksPerMultiprocessor.invokeExact(out,
                    MemorySegment.ofAddress(func), blockSize, dynamicSmemBytes);
            if (rc != CudaResult.SUCCESS) {
                throw error("cuOccupancyMaxActiveBlocksPerMultiprocessor", rc,
                        "block size " + blockSize + ", dynamic shared memory " + dynamicSmemBytes + " bytes");
            }
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    static void launch(boolean cooperative, long func, int gridX, int gridY, int gridZ, int blockX, int blockY,
                       int blockZ, int sharedMemBytes, long stream, long[] params) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kernelParams = KernelParams.marshal(arena, params);
            MemorySegment f = MemorySegment.ofAddress(func);
            MemorySegment s = MemorySegment.ofAddress(stream);
            int rc = cooperative
                    ? (int) cuLaunchCooperativeKernel.invokeExact(f, gridX, gridY, gridZ, blockX, blockY, blockZ,
                            sharedMemBytes, s, kernelParams)
                    : (int) cuLaunchKernel.invokeExact(f, gridX, gridY, gridZ, blockX, blockY, blockZ,
                            sharedMemBytes, s, kernelParams, MemorySegment.NULL);
            if (rc != CudaResult.SUCCESS) {
                throw error(cooperative ? "cuLaunchCooperativeKernel" : "cuLaunchKernel", rc,
                        "grid (" + gridX + "," + gridY + "," + gridZ + "), block (" + blockX + "," + blockY + ","
                                + blockZ + "), " + sharedMemBytes + " bytes dynamic shared memory, "
                                + params.length + " params");
            }
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }
}
