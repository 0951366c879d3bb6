package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.BufferLease;
import dev.gpuos.tensor.BufferLedger;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorClosedException;

import java.util.Arrays;

/**
 * A device buffer of the GPU backend: a block of the GpuOS arena, and the {@link DeviceBuffer} that tasks address
 * (so the result of an op is three objects: its {@code Tensor}, this and its lease). It is also the hazard tracker
 * of its bytes: it remembers which tasks touch it (the last writer, and the readers since that write), so that a
 * later task waits for exactly those, whether they are tasks of the batch being built (by batch index) or of
 * earlier submissions (by seq, only while not complete). The planner asks it for a task's dependencies in the form
 * the descriptor takes, once per buffer touch, and after submitting turns the batch's entries into seqs.
 */
final class GpuStorage implements Storage, DeviceBuffer {
    // The backend is the lease's (it needs it to free, and here it would cost 8 bytes per op's result).
    private final long byteSize;
    private final Lease lease;

    /**
     * The device memory, apart from this storage so that it can be given back once the storage is unreachable.
     * Either way the arena reuses it only after every task submitted so far completed; an explicit release first
     * submits the recorded nodes that touch it, and an unreachable storage has none (they would reference it).
     * Two kinds, so that neither carries a field for the other (a small one is 56 bytes): a small block held as a long
     * (most tensors: no DeviceBlock object per op), or a DeviceBlock (reserved extents, large blocks).
     */
    private abstract static sealed class Lease extends BufferLease permits SmallLease, BlockLease {
        final GpuBackend backend;

        Lease(GpuStorage storage, BufferLedger ledger, GpuBackend backend, long capacity) {
            super(storage, ledger, capacity);
            this.backend = backend;
        }

        abstract long address();

        @Override
        protected void free(boolean unreachable) {
            GpuStorage.free(backend.os(), java.util.List.of(this), unreachable);  // the backend frees many at once this way
        }
    }

    private static final class SmallLease extends Lease {
        /** {@link GpuOS#allocateSmall}'s long. */
        final long block;

        SmallLease(GpuStorage storage, BufferLedger ledger, GpuBackend backend, long block) {
            super(storage, ledger, backend, GpuOS.smallCapacity(block));
            this.block = block;
        }

        @Override
        long address() { return GpuOS.smallAddress(block); }

        @Override
        public long bytes() { return GpuOS.smallCapacity(block); }
    }

    private static final class BlockLease extends Lease {
        final DeviceBlock block;

        BlockLease(GpuStorage storage, BufferLedger ledger, GpuBackend backend, DeviceBlock block) {
            super(storage, ledger, backend, block.capacity());
            this.block = block;
        }

        @Override
        long address() { return block.address(); }

        @Override
        public long bytes() { return block.capacity(); }
    }

    /**
     * Gives back the memory of {@code leases} (this backend's, each released once) under one arena lock per kind: a
     * scope's close releases every buffer it owns, and a lock per block was most of its time.
     */
    static void free(GpuOS os, java.util.List<BufferLease> leases, boolean unreachable) {
        int n = leases.size(), small = 0;
        for (int i = 0; i < n; i++) if (leases.get(i) instanceof SmallLease) small++;
        long[] smalls = new long[small];
        DeviceBlock[] blocks = new DeviceBlock[n - small];
        int s = 0, b = 0;
        for (int i = 0; i < n; i++) {
            if (leases.get(i) instanceof SmallLease l) smalls[s++] = l.block;
            else blocks[b++] = ((BlockLease) leases.get(i)).block;
        }
        try {
            if (s > 0) os.releaseSmall(smalls, s);
            if (b > 0) os.release(blocks, b);
        } catch (IllegalStateException closed) {
            // The GpuOS closed before these buffers' scope closed or the GC found them: its arena, and the blocks
            // with it, are gone; closing a scope afterwards has nothing left to give back (and must not throw).
            if (!unreachable && !os.isClosed()) throw closed;
        }
    }

    // Written only by the thread that builds submissions (one at a time); lastWriter is also read by read().
    private volatile long lastWriter = -1;
    private long[] readers = NO_READERS;  // allocated by the first read: most results are written once, read once
    private int readerCount;
    // The batch being built (build number 'build'): its last task writing this buffer (task ordinal, -1: none)
    // and its tasks reading it since. Valid only while 'build' is the planner's current build.
    private long build = -1;
    private int batchWriter;
    private int[] batchReaders = NO_TASKS;
    private static final long[] NO_READERS = {};
    private static final int[] NO_TASKS = {};
    private int batchReaderCount;
    /** Set when a node writing this buffer could not be submitted: its contents were never computed. */
    private volatile RuntimeException failure;
    /** Ids of the index_selects (IndexFaults) these contents were computed from, not known good; null: none. */
    private volatile long[] faultIds;
    /** The captured index_selects (ReplayFaults) these contents were computed from; null: none. */
    private volatile ReplayFaults.Taint[] replayTaints;

    /** Over a block of {@link GpuOS#allocateSmall}. */
    GpuStorage(GpuBackend backend, BufferLedger ledger, long smallBlock, long byteSize) {
        this.byteSize = byteSize;
        this.lease = new SmallLease(this, ledger, backend, smallBlock);
    }

    GpuStorage(GpuBackend backend, BufferLedger ledger, DeviceBlock block, long byteSize) {
        this.byteSize = byteSize;
        this.lease = new BlockLease(this, ledger, backend, block);
    }

    static GpuStorage of(Tensor t) {
        if (!(t.storage() instanceof GpuStorage g)) {
            throw new IllegalArgumentException(t + " does not live on a GPU backend");
        }
        return g;
    }

    @Override
    public Backend backend() { return lease.backend; }

    @Override
    public long byteSize() { return byteSize; }

    @Override
    public boolean isReleased() { return lease.isReleased(); }

    @Override
    public BufferLease lease() { return lease; }

    /** The device memory as tasks address it (this storage); throws {@link TensorClosedException} once released. */
    DeviceBuffer block() {
        if (lease.isReleased()) throw new TensorClosedException("device buffer of " + byteSize + " bytes was released");
        return this;
    }

    /** Device address of the first byte (a multiple of 256); meaningful while {@link #isLive()}. */
    @Override
    public long address() { return lease.address(); }

    @Override
    public boolean isLive() { return !lease.isReleased(); }

    @Override
    public void release() {
        // Recorded nodes that touch this buffer are submitted first; the arena then keeps the block until every
        // task submitted so far has completed. Between submissions: a submission either was written before (its
        // tasks are among those the arena waits for) or sees the buffer released and drops the nodes using it.
        lease.release();
    }

    @Override
    public void markNeverComputed(RuntimeException cause) {
        if (cause != null) tainted = true;
        failure = cause;
    }

    /**
     * Set (never cleared) once any buffer of this process was marked never computed or given fault ids or replay
     * taints: until then no buffer has ancestry to propagate, and the planner skips looking, per node.
     */
    private static volatile boolean tainted;

    /** Whether any buffer may carry a failure, fault ids or replay taints (see {@link #tainted}). */
    static boolean anyTainted() { return tainted; }

    @Override
    public RuntimeException neverComputed() {
        return failure;
    }

    /** Written by the planning thread only (an array never changed after it is set); read by reads. */
    long[] faultIds() { return faultIds; }

    void setFaultIds(long[] ids) {
        if (ids != null) tainted = true;
        faultIds = ids;
        ReplayFaults.changed();
    }

    /** Written by the planning thread and by replay runs (an array never changed after it is set); read by reads. */
    ReplayFaults.Taint[] replayTaints() { return replayTaints; }

    void setReplayTaints(ReplayFaults.Taint[] taints) {
        if (taints != null) tainted = true;
        replayTaints = taints;
        ReplayFaults.changed();
    }

    // ---- dependency tracking (seqs are GpuOS task seqs; within a batch, task ordinals of the build)

    /**
     * Task {@code task} of build {@code build} reads this buffer: adds what it must wait for to {@code deps} (the
     * batch's last writer, or else the last writer of an earlier submission if not complete at {@code completed}).
     * Returns true the first time the build touches this buffer (the caller then lists it for {@link #commit}).
     */
    boolean read(long build, int task, long completed, BatchPlanner.Deps deps) {
        boolean first = begin(build);
        if (batchWriter >= 0) {
            if (batchWriter != task) deps.task(batchWriter);
        } else if (lastWriter >= completed) {
            deps.seq(lastWriter);
        }
        if (batchReaderCount == 0 || batchReaders[batchReaderCount - 1] != task) {
            if (batchReaderCount == batchReaders.length) batchReaders = Arrays.copyOf(batchReaders, Math.max(4, batchReaderCount * 2));
            batchReaders[batchReaderCount++] = task;
        }
        return first;
    }

    /**
     * Task {@code task} of build {@code build} writes this buffer: adds the last writer and every reader since
     * (of this batch, or of earlier submissions while not complete). Returns true as {@link #read} does.
     */
    boolean write(long build, int task, long completed, BatchPlanner.Deps deps) {
        boolean first = begin(build);
        if (batchWriter >= 0) {
            if (batchWriter != task) deps.task(batchWriter);
        } else {
            // Nothing of this batch wrote it yet: what an earlier submission left is still to wait for.
            if (lastWriter >= completed) deps.seq(lastWriter);
            for (int i = 0; i < readerCount; i++) if (readers[i] >= completed) deps.seq(readers[i]);
        }
        for (int i = 0; i < batchReaderCount; i++) if (batchReaders[i] != task) deps.task(batchReaders[i]);
        batchWriter = task;
        batchReaderCount = 0;
        return first;
    }

    private boolean begin(long build) {
        if (this.build == build) return false;
        this.build = build;
        batchWriter = -1;
        batchReaderCount = 0;
        return true;
    }

    /**
     * After build {@code build} was submitted as seqs {@code base + index[task]}: its writer and readers become
     * this buffer's last writer and readers since, for later submissions.
     */
    void commit(long build, long base, int[] index, long completed) {
        if (this.build != build) return;
        if (batchWriter >= 0) noteWrite(base + index[batchWriter]);
        for (int i = 0; i < batchReaderCount; i++) noteRead(base + index[batchReaders[i]], completed);
        this.build = -1;
    }

    long lastWriter() { return lastWriter; }

    /** True if no task that touches this buffer may still be running. */
    boolean idle(long completed) {
        if (lastWriter >= completed) return false;
        for (int i = 0; i < readerCount; i++) if (readers[i] >= completed) return false;
        return true;
    }

    /**
     * Completed readers are dropped only when the list is full, so a buffer read by many tasks (every row of a
     * batch is a view of one input) costs O(1) per read, not a scan of every reader so far.
     */
    void noteRead(long seq, long completed) {
        if (readerCount == readers.length) {
            int live = 0;
            for (int i = 0; i < readerCount; i++) if (readers[i] >= completed) readers[live++] = readers[i];
            readerCount = live;
            if (readerCount == readers.length || readerCount > readers.length / 2) {
                readers = Arrays.copyOf(readers, Math.max(4, readers.length * 2));
            }
        }
        readers[readerCount++] = seq;
    }

    void noteWrite(long seq) {
        lastWriter = seq;
        readerCount = 0;
    }

    @Override
    public String toString() {
        return "GpuStorage[" + byteSize + " bytes" + (isReleased() ? ", released" : "") + "]";
    }
}
