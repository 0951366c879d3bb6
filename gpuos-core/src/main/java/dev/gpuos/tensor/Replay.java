package dev.gpuos.tensor;

import java.util.List;

/**
 * A program captured once by {@link Backend#capture} or {@link Backend#captureReturning} and run again by
 * {@link #run()}. On the GPU backend ({@code GpuReplay}) a run is one submission of a batch planned at capture;
 * on the CPU backends a run calls the program again (see {@link Backend#capture}). Either way, a run sees the
 * captured inputs as they are when it runs, and its results are read after it.
 *
 * <p>Close it when done: the GPU backend then gives its task template back, and any backend stops referencing
 * the program's tensors, so their memory can be reclaimed. {@link #run()} after {@link #close()} throws
 * {@link IllegalStateException}.
 */
public interface Replay extends AutoCloseable {
    /** Runs the captured program once more; returns without waiting where the backend batches. */
    void run();

    /**
     * The tensors the program returned (captureReturning), in its order; the same tensors after every run.
     * Empty for a program captured with {@link Backend#capture(Runnable)}.
     */
    List<Tensor> outputs();

    /** Runs so far. */
    long runs();

    /** Idempotent. */
    @Override
    void close();
}
