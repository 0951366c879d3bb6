package dev.gpuos;

import dev.gpuos.cuda.Driver;
import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.jit.JitCache;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.FaultLog;
import dev.gpuos.runtime.GenerationImage;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.memory.DeviceMemory;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** A GPU driven through CUDA: the {@link DeviceRuntime} and the NVRTC/nvJitLink generation builder. */
final class CudaWorkerDevice implements WorkerDevice {
    private final DeviceRuntime runtime;
    private final GenerationBuilder builder;
    private final DeviceMemory memory;
    private boolean launched;

    /** Opens the runtime and compiles nothing yet; the worker starts with the first {@link #load}. */
    CudaWorkerDevice(GpuOSOptions options, FaultLog.OperatorNames names) {
        this.runtime = DeviceRuntime.open(options.runtime(), names);
        try {
            int[] cc = Driver.computeCapability(runtime.deviceHandle());
            String arch = "sm_" + cc[0] + cc[1];
            JitCache cache = options.cacheDir() == null ? JitCache.openDefault() : JitCache.at(options.cacheDir());
            this.builder = new GenerationBuilder(new CudaCompiler(cache, arch, options.maxRegisters()));
            this.memory = new CudaDeviceMemory(runtime);
        } catch (RuntimeException e) {
            runtime.close();
            throw e;
        }
    }

    DeviceRuntime runtime() {
        return runtime;
    }

    @Override
    public TaskQueue queue() {
        return runtime.queue();
    }

    @Override
    public DeviceRuntime.Config config() {
        return runtime.config();
    }

    @Override
    public DeviceMemory memory() {
        return memory;
    }

    @Override
    public void copyToDevice(long address, MemorySegment src) {
        runtime.copyToDevice(address, src);
    }

    @Override
    public void copyToHost(MemorySegment dst, long address) {
        runtime.copyToHost(dst, address);
    }

    @Override
    public void compile(SortedMap<Integer, Map.Entry<String, String>> operators) {
        builder.compileOperators(operators);
    }

    @Override
    public Loaded load(SortedMap<Integer, Map.Entry<String, String>> operators) {
        GenerationImage image = builder.build(new TreeMap<>(operators));
        if (!launched) {
            runtime.launch(image);
            launched = true;
            return new Loaded(image.buildNanos(), 0);
        }
        return new Loaded(image.buildNanos(), runtime.swap(image));
    }

    @Override
    public void whileParked(Runnable action) {
        runtime.whileParked(action);
    }

    @Override
    public WorkerDeadException abort(String why, long exitTimeoutNanos) {
        return runtime.abort(why, exitTimeoutNanos);
    }

    @Override
    public void close(Runnable whileIdle) {
        runtime.close(whileIdle);
    }

    /** Closes the runtime when the GpuOS could not start on it. */
    void closeUnstarted() {
        runtime.close();
    }

    @Override
    public boolean isFaulted() {
        return runtime.isFaulted();
    }

    @Override
    public String deviceName() {
        return Driver.deviceName(runtime.deviceHandle());
    }

    @Override
    public DeviceRuntime.GenerationInfo generationInfo() {
        return runtime.generationInfo();
    }

    @Override
    public CudaCompiler.Timings compileTimings() {
        return builder.compiler().timings();
    }
}
