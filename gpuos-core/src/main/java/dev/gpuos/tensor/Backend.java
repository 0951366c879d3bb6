package dev.gpuos.tensor;

import dev.gpuos.tensor.op.OpNode;

import java.lang.foreign.MemorySegment;

/**
 * Executes op nodes. {@link Tensor} validates every op at the call site, allocates the output through
 * {@link #allocate}, builds an {@link OpNode}, asks {@link #checkSupported} and then hands the node to
 * {@link #submit}. A backend may run the node at once (the CPU backend's eager mode) or record it and run a
 * whole batch later (a GPU backend); the only points where the caller waits are {@link #read} and {@link #sync}.
 *
 * <p>Contract for batching backends: nodes of one thread must take effect in submission order; nodes touching
 * the same {@link Storage} from different threads are ordered by submission time. Everything a node needs is
 * in the node (inputs, output, scalar immediates, op parameters, host data of uploads), so it may be executed
 * long after submit returns.
 */
public interface Backend {
    /** A short name used in messages, e.g. "cpu" or "cuda:0". */
    String name();

    /** Allocates a buffer for {@code elementCount} elements of {@code dtype}. Contents are unspecified. */
    Storage allocate(DType dtype, long elementCount);

    /**
     * Throws {@link UnsupportedOnBackendException} if this backend cannot run the node. Called before
     * {@link #submit}; the default accepts every node.
     */
    default void checkSupported(OpNode node) {
    }

    /** Runs the node now or records it for a later submission. The node has been validated. */
    void submit(OpNode node);

    /**
     * Copies {@code destination.byteSize()} bytes starting at {@code byteOffset} of {@code storage} into host
     * memory, after all previously submitted ops that write it have completed. A sync point.
     */
    void read(Storage storage, long byteOffset, MemorySegment destination);

    /** Hands recorded work to the device without waiting for it. No-op for eager backends. */
    void flush();

    /** Flushes and waits until all submitted work has completed. */
    void sync();
}
