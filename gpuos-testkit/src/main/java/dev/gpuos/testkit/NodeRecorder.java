package dev.gpuos.testkit;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.OpNode;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A backend that records every node and allocation and runs nothing: what a planner sees of a tensor-API program
 * (a model's decode step, a benchmark's loop), without a GPU and without data. Weights and caches are only shapes
 * here, so a read fails.
 */
public final class NodeRecorder implements Backend {
    private final List<OpNode> nodes = new ArrayList<>();
    private final List<Storage> allocated = new ArrayList<>();

    /** A recorder with nothing recorded yet. */
    public NodeRecorder() {
    }

    /** A buffer of the recorder: a size, no memory. */
    public static final class Buffer implements Storage {
        private final NodeRecorder backend;
        private final long bytes;
        private boolean released;

        Buffer(NodeRecorder backend, long bytes) {
            this.backend = backend;
            this.bytes = bytes;
        }

        @Override public Backend backend() { return backend; }
        @Override public long byteSize() { return bytes; }
        @Override public boolean isReleased() { return released; }
        @Override public void release() { released = true; }
    }

    /**
     * A recorded program as a capture sees it: its nodes, the buffers it created and did not return (what a
     * capture treats as internal, as GpuBackend.captureReturning does), and its outputs.
     */
    public record Captured(List<OpNode> work, Set<Storage> internal, List<Tensor> outputs) {}

    /** The nodes recorded so far, in submission order (live: later submissions append). */
    public List<OpNode> nodes() {
        return nodes;
    }

    /** The buffers allocated so far, in order (live). */
    public List<Storage> allocated() {
        return allocated;
    }

    /** The nodes {@code program} records and the buffers it creates and does not return. */
    public Captured capture(Supplier<List<Tensor>> program) {
        int firstNode = nodes.size(), firstBuffer = allocated.size();
        List<Tensor> outputs = program.get();
        Set<Storage> internal = Collections.newSetFromMap(new IdentityHashMap<>());
        internal.addAll(allocated.subList(firstBuffer, allocated.size()));
        for (Tensor t : outputs) internal.remove(t.storage());
        return new Captured(List.copyOf(nodes.subList(firstNode, nodes.size())), internal, outputs);
    }

    @Override public String name() { return "node-recorder"; }

    @Override
    public Storage allocate(DType dtype, long elementCount) {
        Storage s = new Buffer(this, elementCount * dtype.byteSize());
        allocated.add(s);
        return s;
    }

    @Override public void submit(OpNode node) { nodes.add(node); }

    @Override
    public void read(Storage storage, long byteOffset, MemorySegment destination) {
        throw new UnsupportedOperationException("the node recorder holds no data: it records what a program does, "
                + "a read of " + storage.byteSize() + " bytes needs a backend that runs it");
    }

    @Override public void flush() {}

    @Override public void sync() {}
}
