package dev.gpuos;

import dev.gpuos.runtime.DeviceRuntime;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Settings of a {@link GpuOS} instance.
 *
 * @param runtime            queue sizing and worker tuning
 * @param maxRegisters       register cap for the worker and every operator (NVRTC and nvJitLink get the same
 *                           cap; an operator that wants more is compiled to the cap, spilling, never truncated)
 * @param maxOperatorSlots   physical operator slots (versions in flight included)
 * @param slabBytes          device arena slab size
 * @param cacheDir           JIT cache directory, or null for the default ($GPUOS_CACHE_DIR or ~/.cache/gpuos)
 * @param submitTimeoutNanos longest a submit waits for room in a full ring
 * @param waitTimeoutNanos   longest {@link GpuOS#await} waits
 */
public record GpuOSOptions(DeviceRuntime.Config runtime, int maxRegisters, int maxOperatorSlots, long slabBytes,
                           Path cacheDir, long submitTimeoutNanos, long waitTimeoutNanos) {

    public static GpuOSOptions defaults() {
        return new GpuOSOptions(DeviceRuntime.Config.defaults(), 128, 1024, 64L << 20, null,
                TimeUnit.SECONDS.toNanos(30), TimeUnit.SECONDS.toNanos(60));
    }

    public GpuOSOptions withRuntime(DeviceRuntime.Config config) {
        return new GpuOSOptions(config, maxRegisters, maxOperatorSlots, slabBytes, cacheDir, submitTimeoutNanos,
                waitTimeoutNanos);
    }

    public GpuOSOptions withCacheDir(Path dir) {
        return new GpuOSOptions(runtime, maxRegisters, maxOperatorSlots, slabBytes, dir, submitTimeoutNanos,
                waitTimeoutNanos);
    }

    public GpuOSOptions withTimeouts(long submitNanos, long waitNanos) {
        return new GpuOSOptions(runtime, maxRegisters, maxOperatorSlots, slabBytes, cacheDir, submitNanos, waitNanos);
    }
}
