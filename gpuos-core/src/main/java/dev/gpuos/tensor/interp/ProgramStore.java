package dev.gpuos.tensor.interp;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Op programs in device memory, one copy per structure key, for the life of the store.
 *
 * <p>Uploading does not wait for the worker: {@link GpuOS#upload} copies through pinned staging on the runtime's
 * own non-blocking copy stream and returns once the bytes are in device memory, so a task submitted after
 * {@link #address} returns sees them. Program bytes are never rewritten;
 * blocks go back to the arena only in {@link #close}, through its seq-gated release (reused only after every
 * task submitted so far completed).
 */
public final class ProgramStore implements AutoCloseable {
    private final GpuOS os;
    private final Map<String, DeviceBlock> blocks = new ConcurrentHashMap<>();

    public ProgramStore(GpuOS os) {
        this.os = os;
    }

    /** The device address of {@code program}, uploading it the first time {@code key} is seen. */
    public long address(String key, Program program) {
        return blocks.computeIfAbsent(key, k -> {
            byte[] code = program.code();
            DeviceBlock block = os.allocate(code.length);
            try {
                os.upload(block, 0, MemorySegment.ofArray(code));
            } catch (RuntimeException e) {
                os.release(block);
                throw e;
            }
            return block;
        }).address();
    }

    public int size() {
        return blocks.size();
    }

    @Override
    public void close() {
        for (DeviceBlock b : blocks.values()) os.release(b);
        blocks.clear();
    }
}
