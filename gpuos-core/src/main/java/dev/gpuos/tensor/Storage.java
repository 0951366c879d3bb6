package dev.gpuos.tensor;

/**
 * A buffer that tensors view. Storage is untyped bytes; {@link Tensor}s add dtype and {@link Layout}. A backend
 * creates it ({@link Backend#allocate}) and decides what it is: host memory for the CPU backend, a device
 * address for a GPU backend (which may also allocate lazily, at first use in a submission).
 *
 * <p>Dependencies between recorded ops are computed per Storage (read-after-write, write-after-read,
 * write-after-write), so a backend must hand out distinct Storage objects for distinct buffers, and identity
 * ({@code ==}) is the buffer identity.
 */
public interface Storage {
    /** The backend that allocated this storage and runs every op that touches it. */
    Backend backend();

    long byteSize();

    boolean isReleased();

    /**
     * Frees the buffer. Called by the owning {@link TensorScope}; idempotent. A batching backend must not reuse
     * the memory before recorded ops that touch it have finished.
     */
    void release();

    /**
     * Why this buffer's contents were never computed (a recorded op that should have written it could not run),
     * or null. Only batching backends record it ({@link dev.gpuos.tensor.record.Skipped}); eager ones never do.
     */
    default RuntimeException neverComputed() {
        return null;
    }

    /** Records that a recorded op writing this buffer could not run, for {@link #neverComputed()}. */
    default void markNeverComputed(RuntimeException cause) {
        throw new UnsupportedOperationException(this + " does not record ops, so none can be skipped");
    }

    /**
     * The lease on this buffer's memory ({@link BufferLease}), through which its scope releases it and the GC
     * reclaims it once this Storage is unreachable; null for a backend without one, whose buffers then live
     * until their scope closes.
     */
    default BufferLease lease() {
        return null;
    }
}
