package dev.gpuos;

import dev.gpuos.cuda.CudaException;
import dev.gpuos.cuda.Driver;
import dev.gpuos.cuda.Nvrtc;
import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.FaultLog;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.SlotResolver;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.memory.DeviceArena;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.runtime.ops.AliasTable;
import dev.gpuos.runtime.ops.Slot;
import dev.gpuos.runtime.ops.SlotPlan;
import java.lang.foreign.MemorySegment;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * A running GPUOS instance: one persistent worker kernel on one GPU, the task queue feeding it, the operators it
 * can run, and the device memory tasks work on.
 *
 * <pre>{@code
 * try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
 *     OperatorRef add = os.register("add_f32", source);
 *     TaskBatch batch = os.newBatch();
 *     batch.add(add, 1, 1024).refContiguous(0, out, 0, F32, n) ...;
 *     os.submitAsync(batch).join();
 * }
 * }</pre>
 *
 * <p>Operators are added and replaced while the worker runs. Each change compiles in the caller's thread while
 * the current generation keeps serving, then swaps generations (park, load, relaunch: about a millisecond).
 * When {@link #replace} returns, every task submitted after it runs the new code, every task submitted before
 * it ran the old code, and the old code stays loaded until its last task completed.
 *
 * <p><b>Ending.</b> {@link #close()} drains: it refuses new work at once and lets every task submitted before
 * it complete normally (bounded by the park timeout), then stops the worker. {@link #abortWorker} cancels:
 * it stops the worker mid-batch and fails every pending task with a {@link WorkerDeadException}. Neither
 * leaves a kernel running, and after either a new instance can start in the same process. A task that faults
 * on the GPU (a trap, an illegal address) is different: CUDA then refuses all further work in the process, so
 * a new instance needs a new process and {@link #start} says so. A JVM that exits without close runs close
 * from a shutdown hook, so it exits after at most the drain bound.
 */
public final class GpuOS implements AutoCloseable {
    private final GpuOSOptions options;
    private final WorkerDevice device;
    private final AliasTable aliases;
    private final DeviceArena arena;
    private final Map<String, OperatorRef> byName = new ConcurrentHashMap<>();
    private volatile String[] namesById = new String[0];
    /** logical id -> physical slot of the running generation; replaced (copy-on-write) under the submit lock. */
    private volatile int[] slotById = new int[0];
    private final Object swapLock = new Object();
    private final AtomicLong swaps = new AtomicLong();
    private final Thread shutdownHook;
    private volatile long lastPauseNanos;
    private volatile long lastBuildNanos;
    private volatile boolean closed;

    /** Set once a worker died of a sticky CUDA error: CUDA then refuses every later call in this process. */
    private static volatile RuntimeException poisonedBy;

    private final SlotResolver resolver = new SlotResolver() {
        @Override
        public int slotFor(int logicalOp) {
            int[] slots = slotById;
            if (logicalOp >= slots.length || slots[logicalOp] < 0) {
                throw new IllegalArgumentException("operator id " + logicalOp + " is not registered");
            }
            return slots[logicalOp];
        }

        @Override
        public void noteUse(int slot, long seq) {
            aliases.noteUse(slot, seq);
        }
    };

    private GpuOS(GpuOSOptions options, Function<FaultLog.OperatorNames, WorkerDevice> open) {
        this.options = options;
        this.aliases = new AliasTable(options.maxOperatorSlots());
        try {
            this.device = open.apply(this::nameOfSlot);
        } catch (CudaException e) {
            if (e.isSticky()) {
                poisonedBy = e;
                throw new GpuUnavailableException("CUDA reports a sticky error from an earlier fault in this process ("
                        + e.getMessage() + "); a new GpuOS needs a new process");
            }
            throw e;
        }
        try {
            this.arena = new DeviceArena(device.memory(), options.slabBytes(), options.slabBytes() / 2);
            lastBuildNanos = device.load(new TreeMap<>()).buildNanos();
        } catch (RuntimeException e) {
            device.close(() -> {});
            throw e;
        }
        this.shutdownHook = Thread.ofPlatform().unstarted(this::closeQuietly);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Starts the worker on the configured GPU. Throws {@link GpuUnavailableException} without one. */
    public static GpuOS start(GpuOSOptions options) {
        if (!Driver.isAvailable()) {
            throw new GpuUnavailableException(Driver.unavailableReason());
        }
        RuntimeException poison = poisonedBy;
        if (poison != null) {
            throw new GpuUnavailableException("an earlier worker in this process died with a sticky CUDA error ("
                    + poison.getMessage() + "); CUDA refuses all further work in a process after such an error, "
                    + "so a new GpuOS needs a new process");
        }
        return new GpuOS(options, names -> new CudaWorkerDevice(options, names));
    }

    /**
     * A GpuOS on another {@link WorkerDevice} (e.g. {@link SimulatedWorkerDevice}); {@code open} receives the
     * names of operator slots, for fault messages.
     */
    public static GpuOS on(GpuOSOptions options, Function<FaultLog.OperatorNames, WorkerDevice> open) {
        return new GpuOS(options, open);
    }

    public static GpuOS start() {
        return start(GpuOSOptions.defaults());
    }

    /** True when a CUDA driver and device are present; see {@link #gpuUnavailableReason()} otherwise. */
    public static boolean gpuAvailable() {
        return Driver.isAvailable();
    }

    /** Why {@link #gpuAvailable()} is false (the driver library's load error), for a user-facing message. */
    public static String gpuUnavailableReason() {
        return Driver.unavailableReason();
    }

    /** The CUDA driver's version (e.g. 13000 for 13.0); needs {@link #gpuAvailable()}. */
    public static int driverVersion() {
        return Driver.driverVersion();
    }

    /** NVRTC's version as {major, minor}; needs {@link #gpuAvailable()}. */
    public static int[] compilerVersion() {
        return Nvrtc.version();
    }

    // ---- operators

    /** Adds an operator and returns once a generation containing it runs. Compile errors leave everything as it was. */
    public OperatorRef register(String name, String source) {
        synchronized (swapLock) {
            checkOpen();
            if (byName.containsKey(name)) {
                throw new IllegalArgumentException("operator '" + name + "' is already registered; use replace");
            }
            return install(Map.of(name, source)).getFirst();
        }
    }

    /** Replaces an operator's code; see the class comment for the ordering guarantee. */
    public OperatorRef replace(String name, String source) {
        synchronized (swapLock) {
            checkOpen();
            if (!byName.containsKey(name)) {
                throw new IllegalArgumentException("operator '" + name + "' is not registered; known: " + byName.keySet());
            }
            return install(Map.of(name, source)).getFirst();
        }
    }

    /** True if an operator of this name is registered. */
    public boolean hasOperator(String name) {
        return byName.containsKey(name);
    }

    /** Registers in a background thread; the current generation keeps running meanwhile. */
    public CompletableFuture<OperatorRef> registerAsync(String name, String source) {
        return CompletableFuture.supplyAsync(() -> register(name, source));
    }

    public OperatorRef operator(String name) {
        OperatorRef ref = byName.get(name);
        if (ref == null) {
            throw new IllegalArgumentException("operator '" + name + "' is not registered; known: " + byName.keySet());
        }
        return ref;
    }

    /**
     * Adds several operators with ONE generation swap (one link, one pause), e.g. every new kernel structure a
     * submission needs. All or nothing: a compile error in any of them leaves everything as it was.
     */
    public List<OperatorRef> registerAll(Map<String, String> sourcesByName) {
        synchronized (swapLock) {
            checkOpen();
            for (String name : sourcesByName.keySet()) {
                if (byName.containsKey(name)) {
                    throw new IllegalArgumentException("operator '" + name + "' is already registered; use replace");
                }
            }
            return install(sourcesByName);
        }
    }

    private List<OperatorRef> install(Map<String, String> sourcesByName) {
        List<SlotPlan> plans = new ArrayList<>();
        try {
            SortedMap<Integer, Map.Entry<String, String>> fresh = new TreeMap<>();
            for (var e : sourcesByName.entrySet()) {
                SlotPlan plan = aliases.begin(e.getKey(), e.getValue());
                plans.add(plan);
                fresh.put(plan.slot(), new AbstractMap.SimpleImmutableEntry<>(e.getKey(), e.getValue()));
            }
            device.compile(fresh); // in parallel; fails fast, before any pause
            SortedMap<Integer, Map.Entry<String, String>> live = new TreeMap<>();
            List<Slot> liveSlots = new ArrayList<>();
            device.queue().underSubmitLock(() -> {
                for (Slot s : aliases.liveSlots(device.queue().completed())) {
                    live.put(s.index(), new AbstractMap.SimpleImmutableEntry<>(s.name(), s.source()));
                    liveSlots.add(s);
                }
            });
            WorkerDevice.Loaded loaded = device.load(live);
            lastBuildNanos = loaded.buildNanos();
            lastPauseNanos = loaded.pauseNanos();
            aliases.generationLoaded(liveSlots);
            swaps.incrementAndGet();
        } catch (RuntimeException | Error e) {
            for (SlotPlan plan : plans) {
                aliases.abort(plan);
            }
            throw e;
        }
        List<OperatorRef> result = new ArrayList<>();
        device.queue().underSubmitLock(() -> {
            for (SlotPlan plan : plans) {
                aliases.activate(plan);
                OperatorRef ref = byName.get(plan.name());
                if (ref == null) {
                    ref = new OperatorRef(plan.name(), namesById.length);
                    String[] names = java.util.Arrays.copyOf(namesById, ref.id() + 1);
                    names[ref.id()] = plan.name();
                    namesById = names;
                    byName.put(plan.name(), ref);
                }
                int[] slots = java.util.Arrays.copyOf(slotById, Math.max(slotById.length, ref.id() + 1));
                slots[ref.id()] = plan.slot();
                slotById = slots;
                result.add(ref);
            }
        });
        return result;
    }

    private String nameOfSlot(int slot) {
        return aliases.slotOwner(slot).map(v -> v.name() + " v" + v.version()).orElse("no operator");
    }

    // ---- tasks

    /** A reusable batch; keep one per thread. */
    public TaskBatch newBatch() {
        return new TaskBatch();
    }

    /** Submits the batch; returns the seq after its last task (the batch is {@code [end - size, end)}). */
    public long submit(TaskBatch batch) {
        checkOpen();
        return device.queue().submit(batch, resolver, options.submitTimeoutNanos());
    }

    /**
     * A template of {@code batch} ({@link TaskTemplate}): submitted with {@link #submit(TaskTemplate)}, a run costs
     * the host one descriptor however many tasks it has. Its images live in this GpuOS's arena; call
     * {@link TaskTemplate#release} when done with it (or let the GpuOS close).
     */
    public TaskTemplate template(TaskBatch batch) {
        checkOpen();
        return TaskTemplate.of(batch, image -> {
            DeviceBlock block = allocateCopy(image);
            // Released under the submit lock: a submission that still names this image either published its
            // tasks before (the arena then waits for them) or has not taken the image yet.
            return new TaskTemplate.Placed(block.address(), () -> device.queue().underSubmitLock(() -> {
                try {
                    release(block);
                } catch (IllegalStateException closedMeanwhile) {
                    // a closed GpuOS freed its arena, and this block with it, already
                }
            }));
        });
    }

    /** Submits a template's tasks; returns the seq after its last task (they are {@code [end - size, end)}). */
    public long submit(TaskTemplate template) {
        checkOpen();
        return device.queue().submit(template, resolver, options.submitTimeoutNanos());
    }

    public CompletableFuture<Void> submitAsync(TaskBatch batch) {
        checkOpen();
        return device.queue().submitAsync(batch, resolver, options.submitTimeoutNanos());
    }

    /** Waits until tasks {@code [from, to)} are complete (spinning: this is the low-latency path). */
    public void await(long from, long to) {
        device.queue().await(from, to, options.waitTimeoutNanos());
        arena.advance(device.queue().completed());
    }

    /** Submits and waits. */
    public void run(TaskBatch batch) {
        long end = submit(batch);
        await(end - batch.size(), end);
    }

    public TaskQueue queue() {
        return device.queue();
    }

    /** Tasks {@code [0, completed())} have completed (the queue's completion counter, no driver call). */
    public long completed() {
        return device.queue().completed();
    }

    /** The seq the next submitted task gets: tasks {@code [0, submitted())} were submitted. */
    public long submitted() {
        return device.queue().submitted();
    }

    /** Most tasks in flight at once: a submission or template of more tasks cannot be placed whole in the ring. */
    public long queueCapacity() {
        return device.queue().capacity();
    }

    // ---- memory

    public DeviceArena memory() {
        return arena;
    }

    /** Allocates device memory from the arena (256-byte aligned). */
    public DeviceBlock allocate(long bytes) {
        checkOpen();
        arena.advance(device.queue().completed());
        return arena.allocate(bytes);
    }

    /** Whether {@link #allocateSmall} serves a request of {@code bytes} ({@link DeviceArena#isSmall}). */
    public boolean isSmall(long bytes) {
        return arena.isSmall(bytes);
    }

    /** The device address of a small block of {@link #allocateSmall}. */
    public static long smallAddress(long block) {
        return DeviceArena.smallAddress(block);
    }

    /** The bytes a small block of {@link #allocateSmall} holds (its size class). */
    public static long smallCapacity(long block) {
        return DeviceArena.smallCapacity(block);
    }

    /**
     * A small block as one long, no object ({@link DeviceArena#allocateSmall}: for requests that
     * {@link #isSmall}; an op's result): given back with {@link #releaseSmall}.
     */
    public long allocateSmall(long bytes) {
        checkOpen();
        arena.advance(device.queue().completed());
        return arena.allocateSmall(bytes);
    }

    /**
     * After a wait for the device: the arena's freed blocks merged with their buddies ({@link DeviceArena#settle}),
     * so a program's blocks after a sync do not depend on when earlier ones were given back.
     */
    public void settleMemory() {
        if (closed) return;  // nothing to settle, and a sync after close has nothing to report
        arena.settle(device.queue().completed());
    }

    /** Returns the small blocks {@code blocks[0, count)} at once; reused after every task submitted so far completed. */
    public void releaseSmall(long[] blocks, int count) {
        checkOpen();
        arena.releaseSmall(blocks, count, device.queue().submitted() - 1);
    }

    /** Requests of at least this many bytes are served from memory {@link #reserveMemory} reserved. */
    public static final long RESERVED_MIN_BYTES = DeviceArena.RESERVED_MIN_BYTES;

    /**
     * Reserves device memory ahead for requests of at least {@link #RESERVED_MIN_BYTES} (a model's
     * weights): at least {@code bytes} free, the shortfall taken in ONE driver allocation rather than one per
     * weight (see {@link DeviceArena#reserve}), made with the worker parked (about a millisecond, like a swap):
     * models-3-1 measured 1,049 ms for 98 allocations of a 1B model's weights while the worker ran, which is
     * either a cost per call or the running kernel's; parked and in one call, neither applies.
     *
     * @return bytes newly taken from the device
     */
    public long reserveMemory(long bytes) {
        synchronized (swapLock) {
            checkOpen();
            arena.advance(device.queue().completed());
            if (arena.reserveShortfall(bytes) == 0) return 0;   // a later load of the same model: no park
            long[] taken = new long[1];
            long t0 = System.nanoTime();
            device.whileParked(() -> taken[0] = arena.reserve(bytes));
            dev.gpuos.runtime.TransferTimes.parked(System.nanoTime() - t0);
            return taken[0];
        }
    }

    /** Returns a block; it is reused only after every task submitted so far has completed. */
    public void release(DeviceBlock block) {
        checkOpen();
        arena.release(block, device.queue().submitted() - 1);
    }

    /** Returns {@code blocks[0, count)} at once (one arena lock); as {@link #release(DeviceBlock)} each. */
    public void release(DeviceBlock[] blocks, int count) {
        checkOpen();
        arena.release(blocks, count, device.queue().submitted() - 1);
    }

    /** A new block holding a copy of {@code bytes} (complete when this returns); nothing is kept if the copy fails. */
    public DeviceBlock allocateCopy(MemorySegment bytes) {
        DeviceBlock block = allocate(bytes.byteSize());
        try {
            upload(block, 0, bytes);
        } catch (RuntimeException e) {
            release(block);
            throw e;
        }
        return block;
    }

    /** Copies host bytes to device memory (synchronous; ordered before any task submitted afterwards). */
    public void upload(DeviceBuffer dst, long dstOffset, MemorySegment src) {
        checkOpen();
        checkRange(dst, dstOffset, src.byteSize());
        device.copyToDevice(dst.address() + dstOffset, src);
    }

    /** Copies device bytes to the host; call after the tasks that wrote them completed. */
    public void download(MemorySegment dst, DeviceBuffer src, long srcOffset) {
        checkOpen();
        checkRange(src, srcOffset, dst.byteSize());
        device.copyToHost(dst, src.address() + srcOffset);
    }

    /**
     * Returns idle device memory (wholly free slabs, released dedicated blocks) to the driver. The driver's
     * free waits for an idle context, so this parks the worker around it (about a millisecond, like a swap);
     * the arena itself refuses to free while a worker runs.
     *
     * @return bytes returned to the device
     */
    public long trimMemory() {
        synchronized (swapLock) {
            checkOpen();
            arena.advance(device.queue().completed());
            long[] returned = new long[1];
            device.whileParked(() -> returned[0] = arena.trim());
            return returned[0];
        }
    }

    private static void checkRange(DeviceBuffer buffer, long offset, long bytes) {
        if (!buffer.isLive()) {
            throw new IllegalStateException("buffer was released");
        }
        if (offset < 0 || bytes < 0 || offset + bytes > buffer.byteSize()) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + bytes) + ") outside a "
                    + buffer.byteSize() + "-byte buffer");
        }
    }

    // ---- introspection

    public record Stats(DeviceRuntime.GenerationInfo generation, long swaps, long lastPauseNanos, long lastBuildNanos,
                        CudaCompiler.Timings jit, long completed, long submitted) {}

    public Stats stats() {
        return new Stats(device.generationInfo(), swaps.get(), lastPauseNanos, lastBuildNanos,
                device.compileTimings(), device.queue().completed(), device.queue().submitted());
    }

    public String deviceName() {
        return device.deviceName();
    }

    /**
     * The CUDA runtime this GpuOS drives. Package-private: the layers above reach the runtime through the narrow
     * methods of this class (the one door, see PackageDirectionTest), never through the runtime object itself.
     *
     * @throws UnsupportedOperationException on a {@link WorkerDevice} other than a GPU's
     */
    DeviceRuntime runtime() {
        if (device instanceof CudaWorkerDevice cuda) return cuda.runtime();
        throw new UnsupportedOperationException("this GpuOS runs on " + device.deviceName() + ", not on a CUDA runtime");
    }

    /** Pinned host memory that tasks can read over PCIe: {@code host} for the CPU, {@code device} for tasks. */
    public record MappedHost(MemorySegment host, long device) {}

    /**
     * Pinned, device-mapped host memory, zeroed, freed when this GpuOS closes (never earlier: a task may read it
     * until then). The host's stores before a submission are visible to that submission's tasks.
     *
     * @throws UnsupportedOperationException on a {@link WorkerDevice} other than a GPU's
     */
    public MappedHost pinMapped(long bytes) {
        checkOpen();
        DeviceRuntime.MappedHost m = runtime().pinMapped(bytes);
        return new MappedHost(m.host(), m.device());
    }

    /**
     * Starts copying {@code src}, pinned host memory (from {@link #pinMapped}) that nobody changes until the copy
     * landed, to device address {@code dst}, and returns at once with a ticket for {@link #copyLanded}. Tasks
     * submitted before it landed must not read {@code dst}.
     */
    public long copyToDeviceAsync(long dst, MemorySegment src) {
        checkOpen();
        return runtime().copyToDeviceAsync(dst, src);
    }

    /** Whether the copy of {@code ticket} (from {@link #copyToDeviceAsync}) and every earlier one has landed. */
    public boolean copyLanded(long ticket) {
        return runtime().landed(ticket);
    }

    /** Shared memory per block the worker's operators may use. */
    public int sharedMemoryBytes() {
        return device.config().smemBytes();
    }

    /** Whether {@link #close} was called: the device memory of every tensor on it is gone. */
    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("GpuOS is closed");
        }
    }

    /**
     * Kills the worker mid-batch without draining (see the class comment): every pending future and waiter
     * fails with the returned {@link WorkerDeadException}, within the kernel's exit (a running tile finishes
     * first; bounded by 1 s) plus the tracker's poll. Submissions fail from then on; {@link #close()} this
     * instance, after which {@link #start} works again in this process.
     */
    public WorkerDeadException abortWorker(String why) {
        synchronized (swapLock) {
            checkOpen();
            return device.abort(why, TimeUnit.SECONDS.toNanos(1));
        }
    }

    /**
     * Drains, never cancels: submissions are refused from the moment close begins, every task submitted before
     * completes normally, then the worker stops and device memory is freed. Returns within the park timeout
     * ({@link DeviceRuntime.Config#parkTimeoutNanos()}, default 10 s) plus about 2 s; past the park timeout
     * the worker is aborted, the unfinished tasks fail with a {@link dev.gpuos.runtime.GpuOSException} and close
     * throws it. No worker kernel runs once close returned, normally or not. Idempotent.
     */
    @Override
    public void close() {
        synchronized (swapLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // called from the hook itself
        }
        try {
            device.close(arena::close);
        } finally {
            RuntimeException death = device.queue().deathCause();
            if (device.isFaulted() && death != null && isSticky(death)) {
                poisonedBy = death;
            }
        }
    }

    private static boolean isSticky(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof CudaException ce && ce.isSticky()) {
                return true;
            }
        }
        return false;
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            System.err.println("gpuos: close at JVM exit failed: " + e);
        }
    }

}
