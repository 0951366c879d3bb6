package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.TaskBatch;

import java.util.List;

/**
 * A program captured once by {@link GpuBackend#capture} and run again as the same task batch: recording, fusion
 * and planning happen at capture, a run is one submission of the prepared descriptors (the GPUOS counterpart
 * of replaying a CUDA graph). Every run reads the captured input tensors as they are when it runs and
 * overwrites the captured output tensors; read them (or sync) after {@link #run()}.
 *
 * <p>Ordering: a run starts after everything recorded on the backend before it has completed (it syncs
 * first), and ops recorded after it see its writes, like any other submission. Runs of one replay do not
 * overlap each other. Closing a tensor the replay uses makes later runs fail with {@link IllegalStateException}.
 */
public final class GpuReplay {
    private final GpuBackend backend;
    final TaskBatch batch;
    private final int nodes;
    private final GpuStorage[] read, written;
    private final int[] readAt, writtenAt;
    final int indexSelectAt;
    private long runs;

    GpuReplay(GpuBackend backend, TaskBatch batch, int nodes, List<GpuStorage> read, List<Integer> readAt,
              List<GpuStorage> written, List<Integer> writtenAt, int indexSelectAt) {
        this.backend = backend;
        this.batch = batch;
        this.nodes = nodes;
        this.read = read.toArray(GpuStorage[]::new);
        this.readAt = readAt.stream().mapToInt(Integer::intValue).toArray();
        this.written = written.toArray(GpuStorage[]::new);
        this.writtenAt = writtenAt.stream().mapToInt(Integer::intValue).toArray();
        this.indexSelectAt = indexSelectAt;
    }

    /** Submits the captured tasks once more (after syncing what was recorded before); returns without waiting. */
    public void run() {
        backend.runReplay(this);
    }

    /** Recorded ops the capture held (nodes without effect excluded). */
    public int nodeCount() {
        return nodes;
    }

    /** Tasks one run submits (joins included). */
    public int taskCount() {
        return batch.size();
    }

    /** Runs so far. */
    public synchronized long runs() {
        return runs;
    }

    /** Throws if a tensor this replay touches was released. */
    void checkLive() {
        for (GpuStorage s : read) s.block();
        for (GpuStorage s : written) s.block();
    }

    /** Records the tasks of a run that started at {@code base} as the last users of their buffers. */
    synchronized void noteRun(long base, long completed) {
        for (int i = 0; i < read.length; i++) read[i].noteRead(base + readAt[i], completed);
        for (int i = 0; i < written.length; i++) written[i].noteWrite(base + writtenAt[i]);
        runs++;
    }
}
