package dev.gpuos.tensor;

import dev.gpuos.tensor.op.OpNode;

import java.lang.foreign.MemorySegment;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

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
    /**
     * A short name used in messages that tells this backend from others of its kind, e.g. "cpu-eager#2" or
     * "gpu#1" (an error about operands on two backends names both).
     */
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

    /**
     * Captures {@code program} (ops this thread records while it runs) to run again by {@link Replay#run()}. On the
     * GPU backend the program is planned once into a task batch and every run is one submission of it (see
     * {@code GpuBackend#capture}). By default, which is what the CPU backends do, nothing is planned: the capture
     * does not call the program and every run calls it again, so a program runs the same on every backend. A
     * program meant for every backend records ops only: the GPU capture refuses reads, syncs and uploads inside
     * it (tensors the program reads must exist before the capture; feed them with {@link Tensor#copyFrom}).
     */
    default Replay capture(Runnable program) {
        java.util.Objects.requireNonNull(program, "program");
        return new RerunReplay(() -> {
            program.run();
            return List.of();
        }, false);
    }

    /**
     * Captures {@code program}, which returns the tensors it computes ({@link Replay#outputs()}). The GPU backend
     * may keep the tensors the program creates and does not return in registers (see
     * {@code GpuBackend#captureReturning}). By default (the CPU backends) every run calls the program again and
     * copies what it returns into the first run's outputs, so outputs() keeps naming the same tensors; before the
     * first run a CPU capture has no outputs yet (outputs() throws).
     */
    default Replay captureReturning(Supplier<? extends Collection<Tensor>> program) {
        return new RerunReplay(program, true);
    }
}
