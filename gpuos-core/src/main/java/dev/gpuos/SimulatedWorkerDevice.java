package dev.gpuos;

import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.FaultLog;
import dev.gpuos.runtime.GpuOSException;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.memory.DeviceMemory;
import dev.gpuos.runtime.memory.DeviceOutOfMemoryException;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedDevice;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Function;

/**
 * A {@link GpuOS} on the simulated device ({@link SimulatedDevice}: the agent and worker blocks are Java threads
 * over the same queue memory as the GPU's): tasks travel exactly the way they do to a GPU (descriptors written
 * into the host ring, published, staged by the agent, tiles handed out, completion watermark) and "device"
 * memory is native host memory. Nothing compiles: each operator name maps to a {@link SimOp} that its tasks run
 * ({@link #sink} maps every name to one that does nothing, so tensors computed on it hold no results: what it is
 * for is running, and measuring, the host path above the queue without a GPU).
 *
 * <pre>{@code
 * try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1))) { ... }
 * }</pre>
 */
public final class SimulatedWorkerDevice implements WorkerDevice {
    private final SimulatedDevice device;
    private final TaskQueue queue;
    private final DeviceRuntime.Config config;
    private final SimulatedWorker.Config workers;
    private final Function<String, SimOp> operators;
    private final Memory memory;
    private List<SimOp> ops = List.of();
    private volatile boolean running;
    private volatile boolean faulted;

    /**
     * @param config    ring and tile map capacities, shared memory per block (the rest is ignored)
     * @param workers   simulated worker blocks
     * @param memoryBytes "device" memory the arena may take
     * @param operators what the tasks of each operator (by name) do
     */
    public SimulatedWorkerDevice(DeviceRuntime.Config config, SimulatedWorker.Config workers, long memoryBytes,
                                 Function<String, SimOp> operators, FaultLog.OperatorNames names) {
        this.config = config;
        this.workers = workers;
        this.operators = operators;
        this.device = new SimulatedDevice(config.capacity(), config.tileCapacity());
        this.queue = new TaskQueue(device.hostRing(), config.capacity(), device.control(), device.liveness(), names);
        this.memory = new Memory(memoryBytes);
    }

    /**
     * Opens a device whose operators do nothing (every task completes at once, whatever it names) with
     * {@code workers} worker blocks, the default ring and 1 GiB of memory: for {@link GpuOS#on}.
     */
    public static Function<FaultLog.OperatorNames, WorkerDevice> sink(int workers) {
        SimOp nothing = (task, tile) -> {};
        return names -> new SimulatedWorkerDevice(DeviceRuntime.Config.defaults(),
                SimulatedWorker.Config.DEFAULT.withWorkers(workers), 1L << 30, name -> nothing, names);
    }

    @Override
    public TaskQueue queue() {
        return queue;
    }

    @Override
    public DeviceRuntime.Config config() {
        return config;
    }

    @Override
    public DeviceMemory memory() {
        return memory;
    }

    @Override
    public void copyToDevice(long address, MemorySegment src) {
        MemorySegment.copy(src, 0, memory.at(address, src.byteSize()), 0, src.byteSize());
    }

    @Override
    public void copyToHost(MemorySegment dst, long address) {
        MemorySegment.copy(memory.at(address, dst.byteSize()), 0, dst, 0, dst.byteSize());
    }

    @Override
    public void compile(SortedMap<Integer, Map.Entry<String, String>> operators) {
        for (var e : operators.values()) {
            if (this.operators.apply(e.getKey()) == null) {
                throw new IllegalArgumentException("the simulated device has no operator named '" + e.getKey() + "'");
            }
        }
    }

    @Override
    public synchronized Loaded load(SortedMap<Integer, Map.Entry<String, String>> operators) {
        int slots = operators.isEmpty() ? 0 : operators.lastKey() + 1;
        List<SimOp> next = new ArrayList<>(slots);
        for (int slot = 0; slot < slots; slot++) {
            var named = operators.get(slot);
            int s = slot;
            next.add(named != null ? this.operators.apply(named.getKey()) : (task, tile) -> {
                throw new IllegalStateException("slot " + s + " holds no operator in this generation");
            });
        }
        long t0 = System.nanoTime();
        if (running) {
            device.relaunch(next, workers);
        } else {
            device.launch(next, workers);
        }
        ops = next;
        running = true;
        return new Loaded(0, System.nanoTime() - t0);
    }

    @Override
    public synchronized void whileParked(Runnable action) {
        if (!running) {
            action.run();
            return;
        }
        device.park();
        running = false;
        try {
            action.run();
        } finally {
            device.launch(ops, workers);
            running = true;
        }
    }

    @Override
    public synchronized WorkerDeadException abort(String why, long exitTimeoutNanos) {
        String message = "worker stopped by the host: " + why;
        if (running) {
            device.control().requestAbort();
            long deadline = System.nanoTime() + exitTimeoutNanos;
            while (!device.current().hasExited() && System.nanoTime() - deadline < 0) Thread.onSpinWait();
            running = false;
        }
        WorkerDeadException dead = new WorkerDeadException(message, null);
        faulted = true;
        queue.fail(dead);
        return dead;
    }

    @Override
    public synchronized void close(Runnable whileIdle) {
        RuntimeException failure = null;
        if (!queue.stopAccepting(config.parkTimeoutNanos())) {
            failure = new GpuOSException("close: a submission still held the queue after the park timeout");
        }
        if (running && !faulted) {
            long deadline = System.nanoTime() + config.parkTimeoutNanos();
            while (device.control().completed() < device.control().submitted() && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            try {
                device.park();
            } catch (RuntimeException e) {
                failure = e;
            }
            running = false;
        }
        queue.close(new GpuOSException("simulated device closed before the task completed"));
        try {
            if (!faulted && failure == null) whileIdle.run();
        } finally {
            device.close();
        }
        if (failure != null) throw failure;
    }

    @Override
    public boolean isFaulted() {
        return faulted;
    }

    @Override
    public String deviceName() {
        return "simulated device (" + workers.workers() + " worker threads)";
    }

    @Override
    public DeviceRuntime.GenerationInfo generationInfo() {
        return null;
    }

    @Override
    public CudaCompiler.Timings compileTimings() {
        return null;
    }

    /** "Device" memory: simulated buffers whose native addresses play device addresses. */
    private final class Memory implements DeviceMemory {
        private final long totalBytes;
        private final ConcurrentSkipListMap<Long, SimBuffer> live = new ConcurrentSkipListMap<>();
        private long usedBytes;

        Memory(long totalBytes) {
            this.totalBytes = totalBytes;
        }

        @Override
        public synchronized long allocate(long bytes) {
            if (bytes > totalBytes - usedBytes) {
                throw new DeviceOutOfMemoryException(bytes, totalBytes - usedBytes, "simulated device: " + bytes
                        + " bytes requested, " + (totalBytes - usedBytes) + " free");
            }
            SimBuffer b = device.allocate(bytes);
            live.put(b.address(), b);
            usedBytes += bytes;
            return b.address();
        }

        @Override
        public synchronized void free(long address) {
            SimBuffer b = live.remove(address);
            if (b == null) throw new IllegalArgumentException("free of unknown address 0x" + Long.toHexString(address));
            usedBytes -= b.byteSize();
            device.release(b);
        }

        @Override
        public synchronized long freeBytes() {
            return totalBytes - usedBytes;
        }

        @Override
        public long totalBytes() {
            return totalBytes;
        }

        @Override
        public boolean freeAllowed() {
            return !running;
        }

        /** The bytes {@code [address, address + bytes)}, which must lie inside one live allocation. */
        MemorySegment at(long address, long bytes) {
            Map.Entry<Long, SimBuffer> e = live.floorEntry(address);
            if (e == null || address + bytes > e.getKey() + e.getValue().byteSize()) {
                throw new IllegalArgumentException("[0x" + Long.toHexString(address) + ", +" + bytes
                        + ") is inside no allocation of the simulated device");
            }
            return e.getValue().segment().asSlice(address - e.getKey(), bytes);
        }
    }
}
