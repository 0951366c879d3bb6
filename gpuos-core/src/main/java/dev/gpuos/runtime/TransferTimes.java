package dev.gpuos.runtime;

import java.util.concurrent.atomic.LongAdder;

/**
 * Where host-to-device transfers and device allocations spent their time, process-wide (every runtime adds to
 * it): what a model's first load is made of. A first Llama-3.2-1B load took 1.4 s on the H100 against 0.24 s for
 * later ones (sessions 14-15); these legs say which part grows: the driver's allocations (cuMemAlloc, and how
 * long the worker was parked for them), the host's copies into pinned staging (page faults of a mapped file
 * included), the waits for the DMA (a copy into device memory never touched before included), pinning.
 * Counters only: a load adds a few LongAdder updates per 16 MB chunk.
 */
public final class TransferTimes {
    private TransferTimes() {}

    static final LongAdder ALLOCS = new LongAdder(), ALLOC_BYTES = new LongAdder(), ALLOC_NANOS = new LongAdder();
    static final LongAdder PARKED_NANOS = new LongAdder(), PARKS = new LongAdder();
    static final LongAdder COPY_BYTES = new LongAdder(), HOST_COPY_NANOS = new LongAdder(), DMA_WAIT_NANOS = new LongAdder();
    static final LongAdder PINS = new LongAdder(), PIN_BYTES = new LongAdder(), PIN_NANOS = new LongAdder();

    /**
     * A snapshot: driver allocations (cuMemAlloc calls, bytes, ns), worker parks for them (count, ns from the park
     * request to the relaunch, the allocation inside included), bytes copied to the device, ns spent copying into
     * pinned staging and waiting for DMAs, pinned host allocations (count, bytes, ns).
     */
    public record Snapshot(long allocs, long allocBytes, long allocNanos, long parks, long parkedNanos, long copyBytes,
                           long hostCopyNanos, long dmaWaitNanos, long pins, long pinBytes, long pinNanos) {
        /** What happened between {@code before} and this snapshot. */
        public Snapshot minus(Snapshot before) {
            return new Snapshot(allocs - before.allocs, allocBytes - before.allocBytes, allocNanos - before.allocNanos,
                    parks - before.parks, parkedNanos - before.parkedNanos, copyBytes - before.copyBytes,
                    hostCopyNanos - before.hostCopyNanos, dmaWaitNanos - before.dmaWaitNanos, pins - before.pins,
                    pinBytes - before.pinBytes, pinNanos - before.pinNanos);
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT,
                    "cuMemAlloc %d x (%.2f GB) %.1f ms; parked %d x %.1f ms; copied %.2f GB: host copy into pinned staging %.1f ms,"
                            + " waiting for DMA %.1f ms; pinned %d x (%.0f MB) %.1f ms",
                    allocs, allocBytes / 1e9, allocNanos / 1e6, parks, parkedNanos / 1e6, copyBytes / 1e9,
                    hostCopyNanos / 1e6, dmaWaitNanos / 1e6, pins, pinBytes / 1e6, pinNanos / 1e6);
        }
    }

    public static Snapshot now() {
        return new Snapshot(ALLOCS.sum(), ALLOC_BYTES.sum(), ALLOC_NANOS.sum(), PARKS.sum(), PARKED_NANOS.sum(),
                COPY_BYTES.sum(), HOST_COPY_NANOS.sum(), DMA_WAIT_NANOS.sum(), PINS.sum(), PIN_BYTES.sum(), PIN_NANOS.sum());
    }

    /** A driver allocation of {@code bytes} that took {@code nanos} (the arena's, through its DeviceMemory). */
    public static void allocated(long bytes, long nanos) {
        ALLOCS.increment();
        ALLOC_BYTES.add(bytes);
        ALLOC_NANOS.add(nanos);
    }

    /** A park of the worker for an action (e.g. a reservation) that lasted {@code nanos} until the relaunch. */
    public static void parked(long nanos) {
        PARKS.increment();
        PARKED_NANOS.add(nanos);
    }
}
