package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.TensorClosedException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Off-heap host memory for the CPU backend. Each buffer has its own shared arena so a scope can free buffers
 * one by one, from any thread, without waiting for the GC.
 */
public final class HostStorage implements Storage {
    private final CpuBackend backend;
    private final Arena arena;
    private final MemorySegment segment;
    private volatile boolean released;
    private boolean releasing;

    HostStorage(CpuBackend backend, long byteSize) {
        this.backend = backend;
        this.arena = Arena.ofShared();
        // 64-byte alignment keeps rows cache-line aligned; zeroed memory is the Arena's contract.
        this.segment = arena.allocate(Math.max(byteSize, 1), 64).asSlice(0, byteSize);
    }

    @Override
    public Backend backend() { return backend; }

    @Override
    public long byteSize() { return segment.byteSize(); }

    @Override
    public boolean isReleased() { return released; }

    /** Set when a recorded node writing this buffer could not run (see Skipped): its contents were never computed. */
    private volatile RuntimeException failure;

    @Override
    public void markNeverComputed(RuntimeException cause) {
        failure = cause;
    }

    @Override
    public RuntimeException neverComputed() {
        return failure;
    }

    /** The memory; throws {@link TensorClosedException} once released. */
    public MemorySegment segment() {
        if (released) throw new TensorClosedException("host buffer of " + segment.byteSize() + " bytes was released");
        return segment;
    }

    @Override
    public void release() {
        synchronized (this) {
            if (releasing) return;
            releasing = true;
        }
        // Pending recorded nodes may still touch this buffer: they run before it is marked released, and no
        // submission runs while it is closed (one that comes later skips the nodes that use it).
        backend.releaseBetweenSubmissions(() -> {
            released = true;
            arena.close();
        });
    }
}
