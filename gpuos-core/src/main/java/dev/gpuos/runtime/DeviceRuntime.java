package dev.gpuos.runtime;

import dev.gpuos.cuda.CudaException;
import dev.gpuos.cuda.Driver;
import dev.gpuos.runtime.layout.Layouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Owns the device side of one GPUOS instance on one GPU: the CUDA context, the queue memory, and the worker
 * generations that run over it.
 *
 * <p>Lifecycle of a generation: {@link #launch} loads a linked module and starts the worker as one cooperative
 * launch (every block co-resident, which the deadlock-freedom argument in worker.cu needs). {@link #swap} parks
 * it (the agent stops publishing, blocks drain what was published and exit), and only then — the context being
 * idle, as module loading requires — loads the next module, unloads the old one, and relaunches over the same
 * queue memory. Submissions never stop: the host keeps writing the ring while the worker is parked.
 */
public final class DeviceRuntime implements AutoCloseable {

    /** Sizing and tuning of the queue and the worker. */
    public record Config(int device, long capacity, long tileCapacity, int smemBytes, int spinMaxNs, int stageChunk,
                         int maxBlocksPerSm, long parkTimeoutNanos) {
        /**
         * {@code -Dgpuos.worker.smemBytes} sets the dynamic shared memory a worker block offers operators (16 KB
         * unless said): matmul's M_MMA_ASYNC keeps one 8 KB step in flight per 8 KB beyond the first (up to 3), the
         * A/B its GPU timing needs; the other operators use what they always did.
         */
        public static Config defaults() {
            return new Config(0, 1 << 15, 1 << 20, Integer.getInteger("gpuos.worker.smemBytes", 16 * 1024), 1024, 512, 0,
                    TimeUnit.SECONDS.toNanos(10));
        }

        public Config {
            if (Long.bitCount(capacity) != 1 || Long.bitCount(tileCapacity) != 1) {
                throw new IllegalArgumentException("capacity and tileCapacity must be powers of two");
            }
            if (tileCapacity < Layouts.MAX_TILES_PER_TASK) {
                throw new IllegalArgumentException("tileCapacity must hold at least one maximal task ("
                        + Layouts.MAX_TILES_PER_TASK + " tiles)");
            }
        }
    }

    /** What a launched generation looks like, for reports. */
    public record GenerationInfo(int generation, int grid, int blockThreads, int registers, int localBytes,
                                 int blocksPerSm) {}

    private static final long STATE_PUB_TILES = Layouts.QUEUE_STATE.offset("pubTiles");
    private static final long STATE_CURSOR = Layouts.QUEUE_STATE.offset("tileCursor");
    private static final long STATE_PARKING = Layouts.QUEUE_STATE.offset("parking");
    private static final long STATE_ABORT = Layouts.QUEUE_STATE.offset("abort");

    private final Config config;
    private final int device;
    private final long context;
    private final long stream;
    private final long copyStream;
    private final Arena hostArena = Arena.ofShared();
    private final MemorySegment hostRing;
    private final MemorySegment controlPage;
    private final HostControl control;
    private final MemorySegment scratch;
    private final long ring;
    private final long tileMap;
    private final long tileDone;
    private final long done;
    private final long state;
    private final long params;
    private final List<Long> deviceAllocations = new ArrayList<>();
    private final List<MemorySegment> pinned = new ArrayList<>();
    private final TaskQueue queue;
    private final ReentrantLock lifecycle = new ReentrantLock();
    private final int smCount;

    // Guarded by lifecycle; running and faulted are also read without it (isIdle, isFaulted).
    private long module;
    private long function;
    private int generation;
    private volatile boolean running;
    private volatile boolean faulted;
    private GenerationInfo info;
    private long lastPauseNanos;
    private volatile boolean closed;

    private DeviceRuntime(Config config, FaultLog.OperatorNames names) {
        this.config = config;
        Driver.init();
        this.device = Driver.device(config.device());
        // A context of our own, not the primary one: after a sticky fault, destroying it is the recovery.
        this.context = Driver.ctxCreate(Driver.CU_CTX_MAP_HOST, device);
        Driver.ctxSetCurrent(context);
        this.smCount = Driver.multiprocessorCount(device);
        try {
            this.stream = Driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING);
            this.copyStream = Driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING);
            long cap = config.capacity();
            this.hostRing = pin(cap * Layouts.TASK.size());
            this.controlPage = pin(Layouts.HOST_CONTROL.size());
            this.control = new HostControl(controlPage);
            control.reset();
            this.ring = alloc(cap * Layouts.TASK.size());
            this.tileMap = alloc(config.tileCapacity() * 8);
            this.tileDone = alloc(cap * 4);
            this.done = alloc(cap * Layouts.DONE_STRIDE_BYTES);
            this.state = alloc(Layouts.QUEUE_STATE.size());
            this.params = alloc(Layouts.PARAMS.size());
            this.scratch = hostArena.allocate(Math.max(Layouts.QUEUE_STATE.size(), Layouts.PARAMS.size()), 128);
            this.queue = new TaskQueue(hostRing, cap, control, this::checkAlive, names);
        } catch (RuntimeException e) {
            Driver.ctxDestroy(context);
            throw e;
        }
    }

    /** Opens the runtime on the configured GPU; the worker starts with the first {@link #launch}. */
    public static DeviceRuntime open(Config config, FaultLog.OperatorNames names) {
        return new DeviceRuntime(config, names);
    }

    public TaskQueue queue() {
        return queue;
    }

    public Config config() {
        return config;
    }

    public long context() {
        return context;
    }

    public int deviceHandle() {
        return device;
    }

    /** Makes this runtime's context current on the calling thread (each thread that calls the driver needs it). */
    public void makeCurrent() {
        Driver.ctxSetCurrent(context);
    }

    public GenerationInfo generationInfo() {
        lifecycle.lock();
        try {
            return info;
        } finally {
            lifecycle.unlock();
        }
    }

    /** Park + load + relaunch time of the last swap. */
    public long lastPauseNanos() {
        return lastPauseNanos;
    }

    /** Starts the first generation. */
    public GenerationInfo launch(GenerationImage image) {
        lifecycle.lock();
        try {
            checkOpen();
            if (running) {
                throw new IllegalStateException("a generation is already running; use swap");
            }
            makeCurrent();
            long mod = Driver.moduleLoadData(image.cubin());
            start(mod);
            return info;
        } finally {
            lifecycle.unlock();
        }
    }

    /**
     * Replaces the running generation with {@code image}. Tasks already published finish on the old code;
     * everything else runs on the new one. Returns the pause (park + load + relaunch) in nanoseconds.
     */
    public long swap(GenerationImage image) {
        lifecycle.lock();
        try {
            checkOpen();
            makeCurrent();
            long t0 = System.nanoTime();
            if (running) {
                park();
            }
            long mod;
            try {
                mod = Driver.moduleLoadData(image.cubin());
            } catch (CudaException e) {
                // E.g. out of device memory for the new module: keep serving on the generation we have rather
                // than leave the queue with no worker (its waiters would only learn of it at their timeout).
                if (module != 0 && !e.isSticky()) {
                    start(module);
                }
                throw e;
            }
            if (module != 0) {
                Driver.moduleUnload(module);
                module = 0;
            }
            start(mod);
            lastPauseNanos = System.nanoTime() - t0;
            return lastPauseNanos;
        } finally {
            lifecycle.unlock();
        }
    }

    /** Runs {@code action} with the worker parked and the context idle (e.g. to return memory to the driver). */
    public void whileParked(Runnable action) {
        lifecycle.lock();
        try {
            checkOpen();
            makeCurrent();
            boolean wasRunning = running;
            if (wasRunning) {
                park();
            }
            try {
                action.run();
            } finally {
                if (wasRunning) {
                    start(module);
                }
            }
        } finally {
            lifecycle.unlock();
        }
    }

    /** True while no worker kernel runs (device memory may be freed). */
    public boolean isIdle() {
        return !running;
    }

    private void start(long mod) {
        module = mod;
        function = Driver.moduleGetFunction(mod, WorkerSources.KERNEL_NAME);
        int smem = config.smemBytes();
        if (smem > 48 * 1024) {
            Driver.funcSetAttribute(function, Driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem);
        }
        int perSm = Driver.occupancyMaxActiveBlocksPerMultiprocessor(function, Layouts.BLOCK_THREADS, smem);
        if (config.maxBlocksPerSm() > 0) {
            perSm = Math.min(perSm, config.maxBlocksPerSm());
        }
        int grid = perSm * smCount;
        if (grid < 2) {
            throw new GpuOSException("the worker kernel fits " + perSm + " block(s) per SM on " + smCount
                    + " SMs: it needs an agent block and at least one worker block");
        }
        generation++;
        writeParams();
        resetQueueStateForLaunch();
        Driver.launchCooperativeKernel(function, grid, 1, 1, Layouts.BLOCK_THREADS, 1, 1, smem, stream, params);
        running = true;
        info = new GenerationInfo(generation, grid, Layouts.BLOCK_THREADS,
                Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_NUM_REGS, function),
                Driver.funcGetAttribute(Driver.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, function), perSm);
    }

    private void writeParams() {
        MemorySegment p = scratch.asSlice(0, Layouts.PARAMS.size());
        p.fill((byte) 0);
        long hostRingDevice = Driver.memHostGetDevicePointer(hostRing);
        long controlDevice = Driver.memHostGetDevicePointer(controlPage);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("ring"), ring);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("hostRing"), hostRingDevice);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("tileMap"), tileMap);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("tileDone"), tileDone);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("done"), done);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("state"), state);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("control"), controlDevice);
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("capacity"), config.capacity());
        p.set(ValueLayout.JAVA_LONG, Layouts.PARAMS.offset("tileCapacity"), config.tileCapacity());
        p.set(ValueLayout.JAVA_INT, Layouts.PARAMS.offset("generation"), generation);
        p.set(ValueLayout.JAVA_INT, Layouts.PARAMS.offset("smemBytes"), config.smemBytes());
        p.set(ValueLayout.JAVA_INT, Layouts.PARAMS.offset("spinMaxNs"), config.spinMaxNs());
        p.set(ValueLayout.JAVA_INT, Layouts.PARAMS.offset("stageChunk"), config.stageChunk());
        Driver.memcpyHtoD(params, p, Layouts.PARAMS.size());
    }

    /**
     * Between generations (context idle): blocks that left while holding an unpublished ticket advanced the
     * cursor past pubTiles; every ticket below pubTiles was run, so the next generation restarts from pubTiles.
     */
    private void resetQueueStateForLaunch() {
        MemorySegment s = scratch.asSlice(0, Layouts.QUEUE_STATE.size());
        Driver.memcpyDtoH(s, state, Layouts.QUEUE_STATE.size());
        long pubTiles = s.get(ValueLayout.JAVA_LONG, STATE_PUB_TILES);
        s.set(ValueLayout.JAVA_LONG, STATE_CURSOR, pubTiles);
        s.set(ValueLayout.JAVA_INT, STATE_PARKING, 0);
        s.set(ValueLayout.JAVA_INT, STATE_ABORT, 0);
        Driver.memcpyHtoD(state, s, Layouts.QUEUE_STATE.size());
    }

    /** Asks the agent to park and waits, bounded, until the kernel has exited. */
    private void park() {
        control.requestPark(generation);
        long deadline = System.nanoTime() + config.parkTimeoutNanos();
        int spins = 0;
        try {
            while (!Driver.streamQuery(stream)) {
                if (System.nanoTime() - deadline > 0) {
                    control.requestAbort();
                    waitIdle(TimeUnit.SECONDS.toNanos(2));
                    running = false;
                    throw new GpuOSException("worker generation " + generation + " did not park within "
                            + TimeUnit.NANOSECONDS.toMillis(config.parkTimeoutNanos()) + " ms; it was aborted");
                }
                spins = spins < 1000 ? spins + 1 : spins;
                if (spins >= 1000) {
                    Thread.onSpinWait();
                }
            }
        } catch (CudaException e) {
            markFaulted(e);
            throw queue.deathCause();
        }
        running = false;
        if (control.agentState() == Layouts.AGENT_ABORTED) {
            RuntimeException dead = new WorkerDeadException("worker generation " + generation
                    + " aborted: " + queue.faults().abortReason(), null);
            markFaulted(dead);
            throw dead;
        }
    }

    /** Spins until the worker kernel exited or the timeout passed; true if it exited. */
    private boolean waitIdle(long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        while (!Driver.streamQuery(stream)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    /**
     * Stops the worker now, without draining (the host-side kill): the agent stops publishing, worker blocks
     * leave after the tile they are running, and every pending future and waiter fails with the returned
     * {@link WorkerDeadException}. Submissions fail from then on; close the runtime.
     *
     * <p>Unlike a faulting task this leaves no sticky CUDA error (the kernel exits normally), so a new runtime
     * can start in the same process. Pending work fails only after the kernel exited (bounded by
     * {@code exitTimeoutNanos}), so no task still writes memory its owner may reuse once its future failed.
     *
     * @return the cause every pending task failed with
     */
    public WorkerDeadException abort(String why, long exitTimeoutNanos) {
        lifecycle.lock();
        try {
            checkOpen();
            String message = "worker stopped by the host: " + why;
            if (running) {
                makeCurrent();
                control.requestAbort();
                try {
                    if (!waitIdle(exitTimeoutNanos)) {
                        message += "; the kernel had not exited " + TimeUnit.NANOSECONDS.toMillis(exitTimeoutNanos)
                                + " ms later (an operator that does not return?), close destroys the context";
                    }
                } catch (CudaException e) {
                    markFaulted(e); // the kernel faulted before it saw the request: that is the cause
                    RuntimeException d = queue.deathCause();
                    return d instanceof WorkerDeadException w ? w : new WorkerDeadException(message, d);
                }
                running = false;
            }
            WorkerDeadException dead = new WorkerDeadException(message, null);
            markFaulted(dead);
            return dead;
        } finally {
            lifecycle.unlock();
        }
    }

    /**
     * The watchdog's question. A sticky CUDA error (a task faulted) or a kernel that exited while it should
     * run both make the worker dead. Skipped while a swap or close holds the lifecycle (the kernel is parked
     * on purpose then).
     */
    private void checkAlive() {
        if (!lifecycle.tryLock()) {
            return;
        }
        try {
            if (!running || closed) {
                return;
            }
            makeCurrent();
            boolean exited;
            try {
                exited = Driver.streamQuery(stream);
            } catch (CudaException e) {
                markFaulted(e);
                throw queue.deathCause();
            }
            if (exited) {
                running = false;
                String why = control.agentState() == Layouts.AGENT_ABORTED
                        ? "worker aborted: " + queue.faults().abortReason()
                        : "worker kernel exited without being asked to park";
                WorkerDeadException dead = new WorkerDeadException(why, null);
                markFaulted(dead);
                throw dead;
            }
        } finally {
            lifecycle.unlock();
        }
    }

    private void markFaulted(RuntimeException cause) {
        faulted = true;
        running = false;
        RuntimeException dead = cause instanceof WorkerDeadException w ? w
                : new WorkerDeadException("worker kernel failed: " + cause.getMessage(), cause);
        queue.fail(dead);
    }

    /** True once the worker died; the runtime must be closed (and a new one started). */
    public boolean isFaulted() {
        return faulted;
    }

    /**
     * Drains, never cancels: new submissions are refused from the moment close begins (a submission already
     * in progress finishes writing its batch), every task submitted before that runs to completion and its
     * future completes normally, then the worker parks, device memory is freed and the context released. The
     * drain is bounded by the park timeout; past it the worker is aborted, the tasks not yet complete fail with
     * a {@link GpuOSException}, and close throws. After a fault nothing is drained: pending work already failed
     * and destroying the context frees everything at once. No worker kernel runs once close returned.
     */
    @Override
    public void close() {
        close(() -> {});
    }

    /**
     * Like {@link #close()}, running {@code whileIdle} after the worker stopped and before the context is
     * released, so that owners of device memory can return it (skipped after a fault: the reset frees it all).
     */
    public void close(Runnable whileIdle) {
        lifecycle.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            RuntimeException failure = null;
            if (!queue.stopAccepting(config.parkTimeoutNanos())) {
                failure = new GpuOSException("close: a submission still held the queue after the park timeout "
                        + "(a submitter waiting for room in a full ring that does not drain?)");
            }
            if (running && !faulted) {
                try {
                    makeCurrent();
                    drainSubmitted();
                    park();
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            queue.close(new GpuOSException("runtime closed before the task completed"));
            try {
                makeCurrent();
                if (!faulted && failure == null) {
                    whileIdle.run();
                    if (module != 0) {
                        Driver.moduleUnload(module);
                        module = 0;
                    }
                    Driver.streamDestroy(stream);
                    Driver.streamDestroy(copyStream);
                }
            } finally {
                // First invalidate every Java view of the pinned pages (a late reader gets an exception, not a
                // crash), then free them; destroying the context frees whatever a fault left behind.
                hostArena.close();
                try {
                    if (!faulted && failure == null) {
                        releaseMemory();
                    }
                } finally {
                    deviceAllocations.clear();
                    pinned.clear();
                    Driver.ctxDestroy(context);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            lifecycle.unlock();
        }
    }

    /** Close drains: it waits (bounded) for every submitted task before parking. */
    private void drainSubmitted() {
        long target = control.submitted();
        long deadline = System.nanoTime() + config.parkTimeoutNanos();
        while (control.completed() < target) {
            if (System.nanoTime() - deadline > 0) {
                control.requestAbort();
                waitIdle(TimeUnit.SECONDS.toNanos(2));
                running = false;
                throw new GpuOSException("close: " + (target - control.completed())
                        + " submitted tasks did not finish within the park timeout; the worker was aborted");
            }
            if (Driver.streamQuery(stream)) {
                break;
            }
            Thread.onSpinWait();
        }
    }

    private void releaseMemory() {
        if (running) {
            throw new IllegalStateException("device memory cannot be freed while a worker runs (cuMemFree would block)");
        }
        for (long ptr : deviceAllocations) {
            Driver.memFree(ptr);
        }
        deviceAllocations.clear();
        for (MemorySegment s : pinned) {
            Driver.memFreeHost(s);
        }
        pinned.clear();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("runtime is closed");
        }
        if (faulted) {
            throw new WorkerDeadException("the worker died; close this runtime and start a new one", queue.deathCause());
        }
    }

    /** Pinned bytes one copy moves at a time through {@link #copyToDevice} and {@link #copyToHost}. */
    static final long STAGING_BYTES = 4L << 20;
    private final Object copyLock = new Object();
    private MemorySegment copyStaging;  // pinned, allocated on first use (guarded by copyLock)

    /**
     * Copies {@code src} to device address {@code dst} and returns once the bytes are in device memory, while the
     * worker keeps running: through pinned staging on the runtime's own non-blocking copy stream. (A plain
     * cuMemcpyHtoD from pageable memory may return before its DMA has landed: a task submitted right after
     * could read stale bytes.)
     */
    public void copyToDevice(long dst, MemorySegment src) {
        synchronized (copyLock) {
            makeCurrent();
            if (pipelinedCopies && src.byteSize() > STAGING_BYTES) {
                copyToDevicePipelined(dst, src);
                return;
            }
            MemorySegment staging = copyStaging();
            for (long off = 0, n = src.byteSize(); off < n; off += STAGING_BYTES) {
                long chunk = Math.min(STAGING_BYTES, n - off);
                long t0 = System.nanoTime();
                MemorySegment.copy(src, off, staging, 0, chunk);
                long t1 = System.nanoTime();
                Driver.memcpyHtoDAsync(dst + off, staging, chunk, copyStream);
                Driver.streamSynchronize(copyStream);
                TransferTimes.HOST_COPY_NANOS.add(t1 - t0);
                TransferTimes.DMA_WAIT_NANOS.add(System.nanoTime() - t1);
                copiesLanded = copiesIssued;  // the stream ran everything issued before
            }
            TransferTimes.COPY_BYTES.add(src.byteSize());
        }
    }

    /**
     * Whether copies larger than the staging buffer take {@link #copyToDevicePipelined} (off: one 4 MB chunk at a
     * time, the host's copy and the DMA in turn). On unless {@code -Dgpuos.copy.pipelined=false}: on the H100
     * (session 14, DecodeBreakdownBench) one 537 MB upload took 21-34 ms pipelined against 65 ms serial, and
     * LlamaModel.load 640 ms against 798, with the sampled bytes equal to the file's either way.
     */
    public static volatile boolean pipelinedCopies = !"false".equals(System.getProperty("gpuos.copy.pipelined"));

    /** Bytes of each of the two pinned buffers of a pipelined copy, and of the slice one host thread copies. */
    static final long PIPELINED_CHUNK = 16L << 20, PIPELINED_SLICE = 2L << 20;
    private MemorySegment[] pipelinedStaging;  // two pinned buffers, allocated on first use (guarded by copyLock)
    /** A thread that owns no segment (never started): a segment it may access is shared, global or on the heap. */
    private static final Thread NOT_OWNER = new Thread(() -> { });

    /**
     * A large copy (a model's weights from a mapped file) as a pipeline: chunk i + 1 is copied into one pinned
     * buffer while chunk i's DMA reads the other, and each chunk is copied by several threads (reading a mapped
     * file from the page cache runs at a few GB/s per thread, below one DMA's rate). A buffer is refilled only
     * after the DMA that read it completed: the stream is synchronized before each DMA is issued, which also
     * waits for the DMA of the previous chunk, the one that read the buffer filled next.
     */
    private void copyToDevicePipelined(long dst, MemorySegment src) {
        if (pipelinedStaging == null) pipelinedStaging = new MemorySegment[]{pin(PIPELINED_CHUNK), pin(PIPELINED_CHUNK)};
        int b = 0;
        for (long off = 0, n = src.byteSize(); off < n; off += PIPELINED_CHUNK) {
            long chunk = Math.min(PIPELINED_CHUNK, n - off), from = off;
            MemorySegment staging = pipelinedStaging[b];
            int slices = (int) Math.ceilDiv(chunk, PIPELINED_SLICE);
            java.util.stream.IntStream range = java.util.stream.IntStream.range(0, slices);
            // a confined segment may be read only by its owner (this thread): then one thread copies
            long t0 = System.nanoTime();
            (src.isAccessibleBy(NOT_OWNER) ? range.parallel() : range).forEach(i -> {
                long at = i * PIPELINED_SLICE;
                MemorySegment.copy(src, from + at, staging, at, Math.min(PIPELINED_SLICE, chunk - at));
            });
            long t1 = System.nanoTime();
            Driver.streamSynchronize(copyStream);   // the previous chunk's DMA (from the other buffer) is done
            TransferTimes.HOST_COPY_NANOS.add(t1 - t0);
            TransferTimes.DMA_WAIT_NANOS.add(System.nanoTime() - t1);
            Driver.memcpyHtoDAsync(dst + off, staging, chunk, copyStream);
            b ^= 1;
        }
        long t1 = System.nanoTime();
        Driver.streamSynchronize(copyStream);
        TransferTimes.DMA_WAIT_NANOS.add(System.nanoTime() - t1);
        TransferTimes.COPY_BYTES.add(src.byteSize());
        copiesLanded = copiesIssued;
    }

    /** Copies device bytes at {@code src} into {@code dst}, the same way (complete when this returns). */
    public void copyToHost(MemorySegment dst, long src) {
        synchronized (copyLock) {
            makeCurrent();
            MemorySegment staging = copyStaging();
            for (long off = 0, n = dst.byteSize(); off < n; off += STAGING_BYTES) {
                long chunk = Math.min(STAGING_BYTES, n - off);
                Driver.memcpyDtoHAsync(staging, src + off, chunk, copyStream);
                Driver.streamSynchronize(copyStream);
                copiesLanded = copiesIssued;
                MemorySegment.copy(staging, 0, dst, off, chunk);
            }
        }
    }

    /** Pinned host memory the device reads in place: {@code host} for Java, {@code device} for tasks. */
    public record MappedHost(MemorySegment host, long device) {}

    /**
     * Pinned, device-mapped host memory, zeroed, freed when the runtime closes (never earlier: a task may read it
     * until then). Tasks read it over PCIe; the host's stores before a submission are visible to the tasks of that
     * submission (x86 keeps stores in order, and the device's reads of host memory are coherent).
     */
    public MappedHost pinMapped(long bytes) {
        synchronized (copyLock) {
            makeCurrent();
            MemorySegment host = pin(bytes);
            return new MappedHost(host, Driver.memHostGetDevicePointer(host));
        }
    }

    private long copiesIssued, copiesLanded;  // asynchronous copies (guarded by copyLock)

    /**
     * Starts copying {@code src}, PINNED host memory (e.g. from {@link #pinMapped}) that nobody changes until the
     * copy landed, to device address {@code dst} on the copy stream, and returns at once with a ticket for
     * {@link #landed}. Tasks submitted before it landed must not read {@code dst}.
     */
    public long copyToDeviceAsync(long dst, MemorySegment src) {
        synchronized (copyLock) {
            makeCurrent();
            Driver.memcpyHtoDAsync(dst, src, src.byteSize(), copyStream);
            return ++copiesIssued;
        }
    }

    /** Whether the asynchronous copy with this ticket is in device memory (one stream query until it is). */
    public boolean landed(long ticket) {
        synchronized (copyLock) {
            if (copiesLanded >= ticket) return true;
            makeCurrent();
            if (Driver.streamQuery(copyStream)) copiesLanded = copiesIssued;
            return copiesLanded >= ticket;
        }
    }

    private MemorySegment copyStaging() {
        if (copyStaging == null) copyStaging = pin(STAGING_BYTES);
        return copyStaging;
    }

    /** Device memory for the queue, zeroed (a zero done[] entry means "not complete" for every seq). */
    private long alloc(long bytes) {
        long ptr = Driver.memAlloc(bytes);
        deviceAllocations.add(ptr);
        Driver.memsetD8(ptr, 0, bytes);
        return ptr;
    }

    private MemorySegment pin(long bytes) {
        long t0 = System.nanoTime();
        MemorySegment raw = Driver.memHostAlloc(bytes, Driver.CU_MEMHOSTALLOC_PORTABLE | Driver.CU_MEMHOSTALLOC_DEVICEMAP);
        pinned.add(raw);
        MemorySegment view = raw.reinterpret(hostArena, null);
        view.fill((byte) 0);
        TransferTimes.PINS.increment();
        TransferTimes.PIN_BYTES.add(bytes);
        TransferTimes.PIN_NANOS.add(System.nanoTime() - t0);
        return view;
    }
}
