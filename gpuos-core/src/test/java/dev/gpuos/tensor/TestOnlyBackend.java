package dev.gpuos.tensor;

import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.UploadNode;

import java.lang.foreign.MemorySegment;

/**
 * A minimal backend written against the public SPI only: it stores uploads in heap memory and declares every
 * other op unsupported. It proves a backend plugs in without touching the tensor package, and exercises the
 * "unsupported on backend" path.
 */
final class TestOnlyBackend implements Backend {
    int submitted;

    static final class HeapStorage implements Storage {
        final TestOnlyBackend backend;
        final MemorySegment memory;
        boolean released;

        HeapStorage(TestOnlyBackend backend, long bytes) {
            this.backend = backend;
            this.memory = MemorySegment.ofArray(new byte[(int) bytes]);
        }

        @Override public Backend backend() { return backend; }
        @Override public long byteSize() { return memory.byteSize(); }
        @Override public boolean isReleased() { return released; }
        @Override public void release() { released = true; }
    }

    @Override public String name() { return "test-only"; }

    @Override
    public Storage allocate(DType dtype, long elementCount) {
        return new HeapStorage(this, elementCount * dtype.byteSize());
    }

    @Override
    public void checkSupported(OpNode node) {
        if (!(node instanceof UploadNode)) {
            throw new UnsupportedOnBackendException(node.opName() + " is unsupported on " + name());
        }
    }

    @Override
    public void submit(OpNode node) {
        submitted++;
        UploadNode up = (UploadNode) node;
        HeapStorage s = (HeapStorage) up.output().storage();
        MemorySegment.copy(up.hostData(), 0, s.memory, up.output().storageOffset() * up.output().dtype().byteSize(),
                up.hostData().byteSize());
    }

    @Override
    public void read(Storage storage, long byteOffset, MemorySegment destination) {
        MemorySegment.copy(((HeapStorage) storage).memory, byteOffset, destination, 0, destination.byteSize());
    }

    @Override public void flush() {}

    @Override public void sync() {}
}
