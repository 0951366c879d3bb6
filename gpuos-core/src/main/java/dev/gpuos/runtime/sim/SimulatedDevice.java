package dev.gpuos.runtime.sim;

import dev.gpuos.runtime.HostControl;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.layout.Layouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A GPU made of Java threads, for testing the task protocol without one. It allocates exactly the memory the
 * CUDA runtime allocates, laid out by {@link Layouts} (see the memory map there):
 * <pre>
 *   "pinned host":  hostRing (gpuos_task[capacity]), control (gpuos_host_control)
 *   "device":       ring (gpuos_task[capacity]), tileMap (u64[tileCapacity]), tileDone (u32[capacity]),
 *                   done (u64[capacity]), state (gpuos_queue_state), operand buffers ({@link SimBuffer})
 * </pre>
 * A {@link TaskQueue} built on {@link #hostRing()} and {@link #control()} cannot tell it from the real thing.
 * Worker generations ({@link SimulatedWorker}) are launched, parked and swapped on it the way the runtime
 * does it on a GPU: park the running one, wait for it to exit, fix up the queue state, launch the next.
 */
public final class SimulatedDevice implements AutoCloseable {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    static final long TILE_CURSOR = Layouts.QUEUE_STATE.offset("tileCursor");
    static final long PUB_TILES = Layouts.QUEUE_STATE.offset("pubTiles");
    static final long PUB_SEQ = Layouts.QUEUE_STATE.offset("pubSeq");
    static final long WATERMARK = Layouts.QUEUE_STATE.offset("watermark");
    static final long PARKING = Layouts.QUEUE_STATE.offset("parking");
    static final long ABORT = Layouts.QUEUE_STATE.offset("abort");
    static final long EXP_BASE = Layouts.QUEUE_STATE.offset("expBase");
    static final long EXP_END = Layouts.QUEUE_STATE.offset("expEnd");
    static final long EXP_TEMPLATE = Layouts.QUEUE_STATE.offset("expTemplate");
    static final long EXP_TILE_BASE = Layouts.QUEUE_STATE.offset("expTileBase");
    static final long FAULT_COUNT = Layouts.QUEUE_STATE.offset("faultCount");
    static final long FAULT_LOG = Layouts.QUEUE_STATE.offset("faultLog");
    static final long FAULT_ENTRY_BYTES = Layouts.FAULT_ENTRY.size();
    static final long ENTRY_SEQ = Layouts.FAULT_ENTRY.offset("seq");
    static final long ENTRY_WORD = Layouts.FAULT_ENTRY.offset("word");
    static final long ENTRY_TAG = Layouts.FAULT_ENTRY.offset("tag");

    private final Arena arena = Arena.ofShared();
    private final long capacity;
    private final long tileCapacity;
    final MemorySegment hostRing;
    final MemorySegment ring;
    final MemorySegment tileMap;
    final MemorySegment tileDone;
    final MemorySegment done;
    final MemorySegment state;
    private final HostControl control;
    private final ConcurrentSkipListMap<Long, SimBuffer> buffers = new ConcurrentSkipListMap<>();
    private final TaskQueue.Liveness liveness = this::checkAlive;
    private int nextGeneration = 1; // parkRequest starts at 0, so generation 0 would park at once
    private volatile SimulatedWorker current;

    /**
     * @param capacity     task ring capacity, a power of two
     * @param tileCapacity tile map capacity, a power of two; a task with more tiles can never be published
     */
    public SimulatedDevice(long capacity, long tileCapacity) {
        if (Long.bitCount(capacity) != 1 || Long.bitCount(tileCapacity) != 1) {
            throw new IllegalArgumentException("capacity " + capacity + " and tileCapacity " + tileCapacity
                    + " must be powers of two");
        }
        this.capacity = capacity;
        this.tileCapacity = tileCapacity;
        // Arena.allocate zeroes, as cudaMemset does for the real device structures.
        hostRing = arena.allocate(capacity * Layouts.TASK.size(), 128);
        control = new HostControl(arena.allocate(Layouts.HOST_CONTROL.size(), Layouts.HOST_CONTROL.alignment()));
        control.reset(); // as DeviceRuntime does: a seal salt of its own
        ring = arena.allocate(capacity * Layouts.TASK.size(), 128);
        tileMap = arena.allocate(8 * tileCapacity, 128);
        tileDone = arena.allocate(4 * capacity, 128);
        done = arena.allocate(8 * capacity, 128);
        state = arena.allocate(Layouts.QUEUE_STATE.size(), Layouts.QUEUE_STATE.alignment());
    }

    public long capacity() {
        return capacity;
    }

    public long tileCapacity() {
        return tileCapacity;
    }

    /** The pinned host ring a {@link TaskQueue} writes descriptors into. */
    public MemorySegment hostRing() {
        return hostRing;
    }

    public HostControl control() {
        return control;
    }

    /** Throws {@link WorkerDeadException} once the running generation died; for {@link TaskQueue}. */
    public TaskQueue.Liveness liveness() {
        return liveness;
    }

    public SimBuffer allocate(long byteSize) {
        var b = new SimBuffer(byteSize);
        buffers.put(b.address(), b);
        return b;
    }

    public void release(SimBuffer buffer) {
        buffers.remove(buffer.address(), buffer);
        buffer.release();
    }

    SimBuffer bufferContaining(long address, String what) {
        Map.Entry<Long, SimBuffer> e = buffers.floorEntry(address);
        if (e == null || address >= e.getKey() + e.getValue().byteSize() || !e.getValue().isLive()) {
            throw new IllegalStateException(what + " points at 0x" + Long.toHexString(address)
                    + ", which is inside no live device buffer (an illegal address on a GPU)");
        }
        return e.getValue();
    }

    /** Starts the first generation, or the next one after {@link #park()}. */
    public synchronized SimulatedWorker launch(List<SimOp> ops, SimulatedWorker.Config config) {
        SimulatedWorker running = current;
        if (running != null && !running.parked()) {
            throw new IllegalStateException("generation " + running.generation() + (running.hasExited()
                    ? " died; the queue state it left is not resumable" : " is still running; park it first"));
        }
        var next = new SimulatedWorker(this, nextGeneration++, ops, config);
        current = next;
        next.start();
        return next;
    }

    public SimulatedWorker launch(List<SimOp> ops) {
        return launch(ops, SimulatedWorker.Config.DEFAULT);
    }

    /**
     * Parks the running generation the way the runtime does before a swap: ask, wait for every block to exit,
     * then make the queue state ready for the next launch. Tasks submitted meanwhile wait in the host ring.
     */
    public synchronized void park() {
        SimulatedWorker running = current;
        if (running == null) {
            throw new IllegalStateException("no generation was launched");
        }
        running.park();
        // The parked generation left tileCursor past pubTiles (each block took one unpublished ticket on its
        // way out); the next one must hand out exactly the tickets that were never published.
        LONG.setRelease(state, TILE_CURSOR, (long) LONG.getAcquire(state, PUB_TILES));
        INT.setRelease(state, PARKING, 0);
    }

    /** Park the running generation and launch the next with {@code ops}: a generation swap. */
    public synchronized SimulatedWorker relaunch(List<SimOp> ops, SimulatedWorker.Config config) {
        park();
        return launch(ops, config);
    }

    public SimulatedWorker current() {
        return current;
    }

    private void checkAlive() {
        SimulatedWorker g = current;
        if (g != null) {
            g.checkAlive();
        }
    }

    // Views of the device queue state, for tests and diagnostics.

    public long pubSeq() {
        return (long) LONG.getAcquire(state, PUB_SEQ);
    }

    public long pubTiles() {
        return (long) LONG.getAcquire(state, PUB_TILES);
    }

    public long watermark() {
        return (long) LONG.getAcquire(state, WATERMARK);
    }

    public long tileCursor() {
        return (long) LONG.getAcquire(state, TILE_CURSOR);
    }

    /** Faults reported on the device (the host sees them once the agent mirrors them). */
    public long deviceFaultCount() {
        return (long) LONG.getAcquire(state, FAULT_COUNT);
    }

    /** Seq of device fault record {@code index}, -1 if not (or no longer) there. */
    public long deviceFaultSeq(long index) {
        long e = FAULT_LOG + (index % Layouts.FAULT_LOG) * FAULT_ENTRY_BYTES;
        return (long) LONG.getAcquire(state, e + ENTRY_TAG) == index + 1 ? state.get(ValueLayout.JAVA_LONG, e + ENTRY_SEQ) : -1;
    }

    /** Word (code << 32 | op) of device fault record {@code index}. */
    public long deviceFaultWord(long index) {
        long e = FAULT_LOG + (index % Layouts.FAULT_LOG) * FAULT_ENTRY_BYTES;
        return state.get(ValueLayout.JAVA_LONG, e + ENTRY_WORD);
    }

    /** Aborts a running generation, waits for it, and frees all memory. */
    @Override
    public synchronized void close() {
        SimulatedWorker g = current;
        if (g != null && !g.hasExited()) {
            control.requestAbort();
            g.awaitExit();
        }
        for (SimBuffer b : buffers.values()) {
            b.release();
        }
        buffers.clear();
        arena.close();
    }
}
