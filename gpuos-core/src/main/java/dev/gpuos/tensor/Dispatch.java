package dev.gpuos.tensor;

import dev.gpuos.tensor.op.OpNode;

import java.util.Arrays;
import java.util.Objects;

/**
 * The last steps every op shares after validation: allocating its output in the right scope and handing the
 * node to the backend. Validation always happens before this, so a rejected op allocates and records nothing.
 */
final class Dispatch {
    private Dispatch() {}

    /**
     * {@code t}, or a NullPointerException naming the op and the argument: a bare NPE from deep inside an op
     * says neither.
     */
    static <T> T require(String opName, String argument, T t) {
        if (t == null) throw new NullPointerException(opName + ": " + argument + " is null");
        return t;
    }

    /** Checks that all tensors are open and live on one backend; returns that backend. */
    static Backend commonBackend(String opName, Tensor... tensors) {
        Backend backend = null;
        for (Tensor t : tensors) {
            if (t == null) continue;
            t.ensureOpen();
            if (backend == null) backend = t.backend();
            else checkSameBackend(opName, backend, t);
        }
        return backend;
    }

    /** {@code t} (open) must live on {@code backend}, the op's other operands' backend. */
    static void checkSameBackend(String opName, Backend backend, Tensor t) {
        if (t.backend() != backend) {
            throw new IllegalArgumentException(opName + ": operands live on different backends ("
                    + backend.name() + " and " + t.backend().name() + ")");
        }
    }

    static Tensor allocate(TensorScope owner, Backend backend, DType dtype, long[] shape) {
        return allocate(owner, backend, dtype, Layout.contiguous(shape));
    }

    /** {@code layout} must be contiguous with offset 0 (it is the new buffer's whole extent). */
    private static Tensor allocate(TensorScope owner, Backend backend, DType dtype, Layout layout) {
        if (!owner.isOpen()) throw new TensorClosedException("the TensorScope that would own the result is closed");
        Storage storage = backend.allocate(dtype, layout.numel());
        owner.adopt(storage);
        return new Tensor(storage, layout, dtype, owner);
    }

    /** Result of an op on {@code first}: allocated on first's backend, owned by the current scope. */
    static Tensor allocateResult(Tensor first, DType dtype, long[] shape) {
        return allocate(TensorScope.forResult(first), first.backend(), dtype, Layout.contiguous(shape));
    }

    /** As {@link #allocateResult(Tensor, DType, long[])} with the result's contiguous layout already made. */
    static Tensor allocateResult(Tensor first, DType dtype, Layout contiguous) {
        return allocate(TensorScope.forResult(first), first.backend(), dtype, contiguous);
    }

    /**
     * Submits a node whose output buffer was freshly allocated for it; if the backend cannot run it, the
     * buffer is freed again and the backend's exception propagates.
     */
    static Tensor submitFresh(OpNode node) {
        Tensor out = node.output();
        Backend backend = out.backend();
        try {
            backend.checkSupported(node);
        } catch (RuntimeException e) {
            out.scope().discard(out.storage());
            throw e;
        }
        backend.submit(node);
        return out;
    }

    /** Submits a node that writes into an existing buffer (e.g. one slice of a cat). */
    static void submitInto(OpNode node) {
        Backend backend = node.output().backend();
        backend.checkSupported(node);
        backend.submit(node);
    }

    /** A copy of {@code shape}, which must have no negative size and at most {@link Layout#MAX_NUMEL} elements. */
    /** A thread that never runs: a segment it may access is accessible from any thread (shared, global or heap). */
    private static final Thread NO_OWNER = Thread.ofPlatform().unstarted(() -> { });

    /**
     * {@code data}, or a heap copy of it when it is confined to the calling thread: a batching backend may read an
     * upload's data in a flush on another thread, where a confined segment throws; copied now, on its owner thread,
     * every backend takes it alike.
     */
    static java.lang.foreign.MemorySegment readableFromAnyThread(java.lang.foreign.MemorySegment data) {
        if (data.isAccessibleBy(NO_OWNER)) return data;
        long bytes = data.byteSize();
        return java.lang.foreign.MemorySegment.ofArray(new long[(int) Math.ceilDiv(bytes, 8)]).asSlice(0, bytes).copyFrom(data);
    }

    static long[] checkShape(long[] shape) {
        Objects.requireNonNull(shape, "shape");
        for (long s : shape) {
            if (s < 0) throw new ShapeMismatchException("negative size in shape " + Arrays.toString(shape));
        }
        Layout.numel(shape);
        return shape.clone();
    }
}
