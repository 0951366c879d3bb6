package dev.gpuos.tensor.interp;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Op programs, one copy per structure key, for the life of the GpuOS.
 *
 * <p>Storing a program never waits for a copy (issue 6: a synchronous upload was the largest single cost on the
 * way to a new expression's first result). Its bytes go into PINNED, device-mapped host memory, and a copy to
 * device memory starts on the runtime's copy stream. Until that copy has landed, {@link Stored#address} gives
 * the host copy's device-visible address: the first tasks read their program over PCIe, one load of a few
 * dozen bytes per tile into shared memory. Once it has landed, tasks name the device copy. Program bytes are never
 * rewritten, so a task sees the same program whichever copy it names. Chunks are never freed before the
 * GpuOS closes: a task submitted earlier may still read them.
 */
public final class ProgramStore {
    /** Bytes per chunk of host and device program memory (a program is at most 512 bytes). */
    static final int CHUNK_BYTES = 64 << 10;
    /** Program start alignment: the interpreter loads 8-byte instructions. */
    private static final int ALIGN = 16;

    /** One stored program: where tasks find it now. */
    public static final class Stored {
        private final GpuOS os;
        private final long hostAddress, deviceAddress, ticket;
        private final boolean hostOnly;
        private volatile boolean landed;

        private Stored(GpuOS os, long hostAddress, long deviceAddress, long ticket, boolean hostOnly) {
            this.os = os;
            this.hostAddress = hostAddress;
            this.deviceAddress = deviceAddress;
            this.ticket = ticket;
            this.hostOnly = hostOnly;
        }

        /** Whether {@code address} (from {@link #address}) is the mapped host copy. */
        public boolean isHostCopy(long address) {
            return address == hostAddress;
        }

        /** The device copy once it has landed, the mapped host copy until then (a stream query per call meanwhile). */
        public long address() {
            if (hostOnly) return hostAddress;
            if (landed) return deviceAddress;
            if (os.copyLanded(ticket)) {
                landed = true;
                return deviceAddress;
            }
            return hostAddress;
        }
    }

    private final GpuOS os;
    private final boolean hostOnly;
    private final Map<String, Stored> stored = new ConcurrentHashMap<>();
    private GpuOS.MappedHost host;  // the chunk being filled, host and device (guarded by this)
    private DeviceBlock device;
    private int used;

    public ProgramStore(GpuOS os) {
        this(os, false);
    }

    /**
     * @param hostOnly tasks always name the mapped host copy, never the device copy (tests and measurements of the
     *                 PCIe read; the device copy is still made)
     */
    public ProgramStore(GpuOS os, boolean hostOnly) {
        this.os = os;
        this.hostOnly = hostOnly;
        synchronized (this) {
            newChunk();  // now, not on the first new structure's way to its result (a pinned allocation is slow)
        }
    }

    private void newChunk() {
        DeviceBlock d = os.allocate(CHUNK_BYTES);  // checks the GpuOS is open
        try {
            host = os.pinMapped(CHUNK_BYTES);
        } catch (RuntimeException e) {
            os.release(d);
            throw e;
        }
        device = d;
        used = 0;
    }

    /** The program stored under {@code key}, storing it the first time {@code key} is seen. */
    public Stored store(String key, Program program) {
        Stored s = stored.get(key);
        return s != null ? s : stored.computeIfAbsent(key, k -> put(program.code()));
    }

    private synchronized Stored put(byte[] code) {
        if (code.length > CHUNK_BYTES) throw new IllegalArgumentException("op program of " + code.length + " bytes");
        if (used + code.length > CHUNK_BYTES) newChunk();  // after ~1,000 programs
        int at = used;
        used = (at + code.length + ALIGN - 1) / ALIGN * ALIGN;
        MemorySegment bytes = host.host().asSlice(at, code.length);
        MemorySegment.copy(MemorySegment.ofArray(code), 0, bytes, 0, code.length);
        long ticket = os.copyToDeviceAsync(device.address() + at, bytes);
        return new Stored(os, host.device() + at, device.address() + at, ticket, hostOnly);
    }

    public int size() {
        return stored.size();
    }
}
