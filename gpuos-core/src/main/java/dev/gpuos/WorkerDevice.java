package dev.gpuos;

import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.memory.DeviceMemory;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.SortedMap;

/**
 * What a {@link GpuOS} drives: a persistent worker pulling tasks from a {@link TaskQueue}, the raw memory its
 * arena carves, copies to and from that memory, and generations of operators. {@link GpuOS#start} drives a GPU
 * through CUDA; {@link SimulatedWorkerDevice} drives the simulated device (Java threads over the same queue
 * memory), so that everything above the queue (the tensor API's recording, planning, encoding and submission)
 * runs, and can be measured, without a GPU.
 *
 * <p>Operators are named per slot: {@code slot -> (name, source)}.
 */
public interface WorkerDevice {
    /** The queue tasks are submitted to. */
    TaskQueue queue();

    DeviceRuntime.Config config();

    /** Raw allocations for the GpuOS's arena. */
    DeviceMemory memory();

    /** Copies host bytes to device address {@code address} (complete, and ordered before later tasks, on return). */
    void copyToDevice(long address, MemorySegment src);

    /** Copies device bytes at {@code address} to the host (complete on return). */
    void copyToHost(MemorySegment dst, long address);

    /** Compiles operators without loading them, so that a compile error surfaces before any swap. */
    void compile(SortedMap<Integer, Map.Entry<String, String>> operators);

    /** Build and pause time of one {@link #load}. */
    record Loaded(long buildNanos, long pauseNanos) {}

    /**
     * Runs a generation dispatching to exactly {@code operators}: the first call launches the worker, later
     * calls park the running generation and relaunch (tasks already published finish on the old code).
     */
    Loaded load(SortedMap<Integer, Map.Entry<String, String>> operators);

    /** Runs {@code action} with the worker parked and the device idle (e.g. to return memory). */
    void whileParked(Runnable action);

    /** Stops the worker mid-batch; every pending task fails with the returned exception. */
    WorkerDeadException abort(String why, long exitTimeoutNanos);

    /** Drains, runs {@code whileIdle} with no worker running, then stops the worker for good. */
    void close(Runnable whileIdle);

    /** True once the worker died of a fault (not of a requested stop). */
    boolean isFaulted();

    String deviceName();

    DeviceRuntime.GenerationInfo generationInfo();

    /** The operator compiler's counters (none for a device that compiles nothing). */
    CudaCompiler.Timings compileTimings();
}
