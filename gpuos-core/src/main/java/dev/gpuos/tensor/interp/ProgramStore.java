package dev.gpuos.tensor.interp;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Op programs in device memory, one copy per structure key, for the life of the store.
 *
 * <p>Uploading does not wait for the worker: {@link GpuOS#upload} and {@link GpuOS#download} are synchronous
 * copies on the legacy stream, and the worker runs on a non-blocking stream, which the legacy stream does not
 * synchronize with (the GPU backend's direct uploads rely on the same). A synchronous copy from PAGEABLE memory
 * may return before its DMA reached device memory, so the program is read back and compared: the read-back is
 * ordered after the upload on the same stream and returns only when done, so when {@link #address} returns the
 * bytes are in device memory and a task submitted afterwards sees them. Program bytes are never rewritten;
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
                byte[] back = new byte[code.length];
                os.download(MemorySegment.ofArray(back), block, 0);
                if (!java.util.Arrays.equals(code, back)) {
                    throw new IllegalStateException("op program read back from device memory differs from what was written");
                }
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
