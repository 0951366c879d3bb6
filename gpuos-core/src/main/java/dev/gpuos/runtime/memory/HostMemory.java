package dev.gpuos.runtime.memory;

import java.lang.foreign.MemorySegment;

/**
 * Pinned (page-locked) host memory for staging copies, as {@link PinnedStagingPool} needs it. The production
 * implementation wraps {@code cuMemAllocHost}/{@code cuMemFreeHost} inside {@code dev.gpuos.cuda}.
 */
public interface HostMemory {

    /** Allocates {@code bytes} of pinned host memory, aligned to at least 4096 bytes. */
    MemorySegment allocate(long bytes);

    /** Frees a segment returned by {@link #allocate}; only legal while {@link #freeAllowed()}. */
    void free(MemorySegment segment);

    /**
     * False while freeing pinned memory could block on the running worker kernel. {@code cuMemFreeHost} is
     * expected to synchronize like {@code cuMemFree} (HIP documents an implicit device synchronize for its
     * equivalent; not yet verified on the target GPU), so the CUDA implementation should answer the same as
     * {@link DeviceMemory#freeAllowed()} until measured otherwise.
     */
    default boolean freeAllowed() {
        return true;
    }
}
