package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.BufferLedger;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorClosedException;
import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;
import dev.gpuos.tensor.record.Recording;
import dev.gpuos.tensor.record.Skipped;
import dev.gpuos.tensor.record.Submission;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CPU backend: reference semantics for every op, and the fallback when no GPU is present. It supports
 * every node type and dtype.
 *
 * <p>Two modes. <b>Eager</b> ({@link #shared()}, {@link #eager()}) runs each node inside submit. <b>Batched</b>
 * ({@link #batched}) records nodes like a GPU backend and runs a whole {@link Submission} at a sync point, at a
 * size bound or after a time bound; it exists so the lazy path of the API is exercised without a GPU. In
 * batched mode a failure found while running (an index_select index out of range) belongs to the tensors that
 * depend on the failed op: what it writes, and everything computed from that, is marked never computed, and
 * reading any of them throws (IllegalStateException with the failure as its cause). Reads of other tensors,
 * {@link #flush} and {@link #sync}, on any thread, never see it.
 *
 * <p>A scope closed by another thread while an op or a read touches its memory gives
 * {@link TensorClosedException}, never the JDK's bare "Already closed": buffers live on the heap (or in automatic
 * arenas), which nothing closes, and {@link HostStorage#segment()} of a released buffer throws it.
 */
public final class CpuBackend implements Backend {
    private static final AtomicLong INSTANCES = new AtomicLong();
    private static final CpuBackend SHARED = new CpuBackend("cpu", null, 0);

    private final String name;
    private final Recording recording;
    private final BufferLedger ledger;
    private final AtomicLong executed = new AtomicLong();
    private final AtomicLong submissions = new AtomicLong();

    private CpuBackend(String name, Duration maxAge, int maxNodes) {
        this.name = name;
        this.recording = maxAge == null ? null : new Recording(maxNodes, maxAge, this::runSubmission);
        this.ledger = new BufferLedger(name, Long.MAX_VALUE, new BufferLedger.Hooks() {
            @Override
            public void afterPendingWork(Runnable action) { releaseBetweenSubmissions(action); }

            // Unreachable host buffers: the GC already has their arrays; giving them back is bookkeeping only.
            @Override
            public void betweenSubmissions(Runnable action) { action.run(); }
        });
    }

    /**
     * This backend's buffers: live count and bytes, and their reclamation once unreachable. Host memory is on the
     * Java heap, which the GC sees, so the soft limit is off by default ({@link BufferLedger#softLimit(long)}
     * turns it on, e.g. to bound the memory a loop holds between collections).
     */
    public BufferLedger bufferLedger() { return ledger; }

    /** The process-wide eager CPU backend (the default when no GPU backend is available). */
    public static CpuBackend shared() { return SHARED; }

    /** A new eager backend, named "cpu-eager#N" (N counts the CPU backends made, so two are told apart). */
    public static CpuBackend eager() { return new CpuBackend("cpu-eager#" + INSTANCES.incrementAndGet(), null, 0); }

    /** A backend that records nodes and runs them in submissions of at most {@code maxNodes}. */
    public static CpuBackend batched(int maxNodes, Duration maxAge) {
        return new CpuBackend("cpu-batched#" + INSTANCES.incrementAndGet(), maxAge, maxNodes);
    }

    @Override
    public String name() { return name; }

    @Override
    public Storage allocate(DType dtype, long elementCount) {
        long bytes = Math.multiplyExact(elementCount, (long) dtype.byteSize());
        ledger.reserve(bytes);
        return new HostStorage(this, ledger, bytes);
    }

    @Override
    public void submit(OpNode node) {
        if (recording == null) {
            execute(node);
            executed.incrementAndGet();
        } else {
            recording.record(node);
        }
    }

    @Override
    public void read(Storage storage, long byteOffset, MemorySegment destination) {
        flush();
        Skipped.checkComputed(storage);
        MemorySegment.copy(((HostStorage) storage).segment(), byteOffset, destination, 0, destination.byteSize());
    }

    @Override
    public void flush() {
        if (recording != null) recording.submit();
    }

    @Override
    public void sync() { flush(); }

    /** Nodes executed so far. */
    public long executedCount() { return executed.get(); }

    /** Submissions run so far (batched mode). */
    public long submissionCount() { return submissions.get(); }

    /** Nodes recorded but not yet run (batched mode). */
    public int pendingCount() { return recording == null ? 0 : recording.pendingCount(); }

    /** Runs pending nodes first, then {@code release} with no submission running (batched mode). */
    void releaseBetweenSubmissions(Runnable release) {
        if (recording == null) {
            release.run();
            return;
        }
        recording.submitThen(release);
    }

    /**
     * Runs a submission's nodes in order. A node that touches a released buffer (its scope was closed by another
     * thread after the op passed its open check) or reads a buffer that was never computed does not run: what it
     * writes is marked never computed, so reading it throws, and the other nodes (other threads' included) run.
     * A node that fails for another reason poisons its output the same way, with that failure: only reads of
     * its output, and of what is computed from it, throw it.
     */
    private void runSubmission(Submission submission) {
        submissions.incrementAndGet();
        for (OpNode node : submission.nodes()) {
            RuntimeException skip = Skipped.why(node);
            if (skip == null) {
                try {
                    execute(node);
                    executed.incrementAndGet();
                    clearIfOverwritten(node);
                    continue;
                } catch (RuntimeException e) {
                    skip = e;  // the failure belongs to what the node writes (and what is computed from it)
                }
            }
            Skipped.skip(node, skip);
        }
    }

    /**
     * A node that ran and wrote its whole buffer replaced contents that were never computed (an earlier failed op):
     * the failure no longer describes the buffer. A partial write leaves the rest as it was, failure included.
     */
    private static void clearIfOverwritten(OpNode node) {
        Tensor out = node.output();
        Storage s = out.storage();
        if (s.neverComputed() != null && out.numel() * out.dtype().byteSize() == s.byteSize()
                && out.layout().coversAll(out.numel())) {
            s.markNeverComputed(null);
        }
    }

    static MemorySegment segment(Tensor t) {
        return ((HostStorage) t.storage()).segment();
    }

    private static void execute(OpNode node) {
        switch (node) {
            case ElementwiseNode n -> CpuElementwise.run(n);
            case FillNode n -> CpuElementwise.fill(n);
            case UploadNode n -> CpuElementwise.upload(n);
            case ReduceNode n -> CpuReductions.reduce(n);
            case SoftmaxNode n -> CpuReductions.softmax(n);
            case NormNode n -> CpuReductions.norm(n);
            case MatmulNode n -> CpuLinearAlgebra.matmul(n);
            case IndexSelectNode n -> CpuLinearAlgebra.indexSelect(n);
            case AttentionNode n -> CpuAttention.attention(n);
        }
    }

    @Override
    public String toString() { return "CpuBackend[" + name + "]"; }
}
