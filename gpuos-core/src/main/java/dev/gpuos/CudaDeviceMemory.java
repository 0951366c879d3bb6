package dev.gpuos;

import dev.gpuos.cuda.CudaOutOfMemoryException;
import dev.gpuos.cuda.Driver;
import dev.gpuos.runtime.memory.DeviceOutOfMemoryException;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.memory.DeviceMemory;

/** The arena's view of the GPU: cuMemAlloc always, cuMemFree only while no worker runs (it would block). */
final class CudaDeviceMemory implements DeviceMemory {
    private final DeviceRuntime runtime;

    CudaDeviceMemory(DeviceRuntime runtime) {
        this.runtime = runtime;
    }

    @Override
    public long allocate(long bytes) {
        runtime.makeCurrent();
        try {
            long t0 = System.nanoTime();
            long ptr = Driver.memAlloc(bytes);
            dev.gpuos.runtime.TransferTimes.allocated(bytes, System.nanoTime() - t0);
            return ptr;
        } catch (CudaOutOfMemoryException e) {
            long free = Driver.memGetInfo()[0];
            throw new DeviceOutOfMemoryException(bytes, free, "cuMemAlloc of " + bytes + " bytes failed with "
                    + free + " bytes free on the device", e);
        }
    }

    @Override
    public void free(long address) {
        if (!runtime.isIdle()) {
            throw new IllegalStateException("cuMemFree while the worker runs would block until it exits");
        }
        runtime.makeCurrent();
        Driver.memFree(address);
    }

    @Override
    public long freeBytes() {
        runtime.makeCurrent();
        return Driver.memGetInfo()[0];
    }

    @Override
    public long totalBytes() {
        runtime.makeCurrent();
        return Driver.memGetInfo()[1];
    }

    @Override
    public boolean freeAllowed() {
        return runtime.isIdle();
    }
}
