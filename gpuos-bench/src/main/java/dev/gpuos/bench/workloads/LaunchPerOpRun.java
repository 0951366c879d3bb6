package dev.gpuos.bench.workloads;

import dev.gpuos.cuda.Driver;
import dev.gpuos.cuda.Nvrtc;
import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The baseline GPUOS replaces: the same operators wrapped as kernels of their own ({@code launch_one.cu}), and one
 * {@code cuLaunchKernel} per task from Java, all on one stream (stream order satisfies every dependency), one
 * {@code cuCtxSynchronize} at the end. Runs in a CUDA context of its own after the GpuOS instance closed, so no
 * persistent worker competes for the SMs.
 *
 * <p>Two sources of tasks: {@value #CONFIG} runs the tensor backend's generated operators, the tasks of the
 * case captured by {@link ReplayRun} ({@link PortableProgram}: buffers re-created here, inputs uploaded again,
 * scratch zeroed, operand addresses rebased); {@value #RAW_CONFIG} runs the raw binary operators of
 * {@link RawTaskRun} (W1, W5).
 *
 * <p>Every descriptor is built and uploaded once before the clock starts; the timed loop is only the
 * launches and the final synchronize. That leaves out host work a real launch-per-op framework does per op,
 * so it flatters the baseline, never GPUOS.
 */
final class LaunchPerOpRun implements AutoCloseable {
    static final String CONFIG = "java_launch_per_op";
    static final String RAW_CONFIG = "java_launch_per_op_raw";
    private static final String KERNEL = "gpuos_launch_one";
    private static final long TASK_BYTES = Layouts.TASK.size();

    private final long context;
    private final String arch;
    private final Path probeDir;
    private final Map<String, Long> functions = new HashMap<>();
    private final List<Long> modules = new ArrayList<>();

    LaunchPerOpRun(Path probeDir) {
        Driver.init();
        int device = Driver.device(0);
        int[] cc = Driver.computeCapability(device);
        this.arch = "sm_" + cc[0] + cc[1];
        this.context = Driver.ctxCreate(0, device);
        this.probeDir = probeDir;
    }

    /**
     * The launch kernel around one operator source, compiled once per (source, shared memory): the wrapper passes
     * the operator exactly the dynamic shared memory the launch gives it.
     */
    private long function(String name, String source, int smemBytes) {
        String key = smemBytes + "\u0000" + source;
        Long f = functions.get(key);
        if (f != null) {
            return f;
        }
        Map<String, String> headers = new LinkedHashMap<>(WorkerSources.headers());
        headers.put("operator.cu", source);
        Nvrtc.Result r = Nvrtc.compile("launch_" + name + ".cu", OperatorSource.load("launch_one"), headers,
                compileOptions(arch, smemBytes));
        long module = Driver.moduleLoadData(r.cubin());
        modules.add(module);
        long fn = Driver.moduleGetFunction(module, KERNEL);
        functions.put(key, fn);
        return fn;
    }

    /** NVRTC options of the wrapper (also what the nvcc test compiles with). */
    static List<String> compileOptions(String arch, int smemBytes) {
        return List.of("--gpu-architecture=" + arch, "--std=c++17",
                "-D" + WorkerSources.OP_SYMBOL_MACRO + "=gpuos_launched_op", "-D" + SMEM_MACRO + "=" + smemBytes);
    }

    static final String SMEM_MACRO = "GPUOS_LAUNCH_SMEM_BYTES";

    /** The captured tasks of {@code c} as one launch each (see {@link PortableProgram}). */
    ResultRow run(WorkloadCase c, PortableProgram p, Map<String, float[]> host, Repeats repeats) throws Exception {
        Driver.ctxSetCurrent(context);
        int count = p.tasks().size();
        long t0 = System.nanoTime();
        long[] fns = new long[count];
        int[] grids = new int[count], smem = new int[count];
        for (int t = 0; t < count; t++) {
            PortableProgram.Task task = p.tasks().get(t);
            fns[t] = function(task.name(), task.source(), task.smemBytes());
            grids[t] = task.ntiles();
            smem[t] = task.smemBytes();
        }
        double compileMs = Repeats.msSince(t0);
        // One allocation carved into the program's buffers (256-byte aligned, like cuMemAlloc's own; the GpuOS
        // arena also carves slabs), zeroed once: scratch is written before it is read, but index_select's fault
        // record must start at 0, as the backend's does.
        long[] buffers = new long[p.buffers().size()];
        long[] offsets = new long[buffers.length];
        long total = 0;
        for (int b = 0; b < buffers.length; b++) {
            offsets[b] = total;
            total += (Math.max(1, p.buffers().get(b).bytes()) + 255) & ~255L;
        }
        long slab = 0, descriptors = 0;
        try {
            slab = Driver.memAlloc(Math.max(256, total));
            Driver.memsetD8(slab, 0, Math.max(256, total));
            try (Arena arena = Arena.ofConfined()) {
                for (int b = 0; b < buffers.length; b++) {
                    PortableProgram.Buffer buffer = p.buffers().get(b);
                    buffers[b] = slab + offsets[b];
                    if (buffer.isInput()) {
                        float[] values = host.get(buffer.input());
                        if (values == null || (long) values.length * Float.BYTES > buffer.bytes()) {
                            throw new IllegalStateException("input " + buffer.input() + " does not fit its "
                                    + buffer.bytes() + "-byte buffer");
                        }
                        MemorySegment staged = arena.allocate((long) values.length * Float.BYTES, 64);
                        MemorySegment.copy(values, 0, staged, ValueLayout.JAVA_FLOAT, 0, values.length);
                        Driver.memcpyHtoD(buffers[b], staged, staged.byteSize());
                    }
                }
                long[] words = p.descriptors(buffers);
                MemorySegment table = arena.allocate(Math.max(1, words.length) * 8L, 128);
                MemorySegment.copy(words, 0, table, ValueLayout.JAVA_LONG, 0, words.length);
                descriptors = Driver.memAlloc(table.byteSize());
                Driver.memcpyHtoD(descriptors, table, table.byteSize());
            }
            long base = descriptors;
            Repeats.TimedRun once = () -> {
                long s = System.nanoTime();
                for (int t = 0; t < count; t++) {
                    Driver.launchKernel(fns[t], grids[t], 1, 1, Layouts.BLOCK_THREADS, 1, 1, smem[t], 0L,
                            base + t * TASK_BYTES);
                }
                Driver.ctxSynchronize();
                return Repeats.msSince(s);
            };
            double firstMs = once.run();
            Map<Integer, float[]> downloaded = new HashMap<>();
            Accuracy accuracy = OutputCheck.run(c, host, k -> {
                PortableProgram.Row at = p.rows().get(k);
                float[] whole = downloaded.computeIfAbsent(at.buffer(), i -> download(buffers[i],
                        p.buffers().get(i).bytes() / Float.BYTES));
                int from = Math.toIntExact(at.byteOffset() / Float.BYTES);
                return java.util.Arrays.copyOfRange(whole, from, from + at.elements());
            }, probeDir, CONFIG);
            downloaded.clear();
            double[] times = repeats.measure(once);
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("launches_per_run", count);
            extra.put("kernels", functions.size());
            extra.put("buffers", buffers.length);
            extra.put("block", Layouts.BLOCK_THREADS);
            extra.put("compile_ms", compileMs);
            return StreamedRun.row(c, CONFIG, times, firstMs, accuracy, repeats, extra);
        } finally {
            Driver.ctxSynchronize();
            if (slab != 0) {
                Driver.memFree(slab);
            }
            if (descriptors != 0) {
                Driver.memFree(descriptors);
            }
        }
    }

    /** The raw binary program of W1 or W5 ({@value #RAW_CONFIG}). */
    ResultRow run(WorkloadCase c, BinaryProgram p, Map<String, float[]> host, Repeats repeats) throws Exception {
        Driver.ctxSetCurrent(context);
        long t0 = System.nanoTime();
        long fn = function(p.operator(), OperatorSource.load(p.operator()), 0);
        double compileMs = Repeats.msSince(t0);
        List<Long> buffers = new ArrayList<>();
        long descriptors = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (BinaryProgram.Buffer b : p.buffers()) {
                long dptr = Driver.memAlloc(b.elements() * Float.BYTES);
                buffers.add(dptr);
                if (b.input() != null) {
                    float[] values = host.get(b.input());
                    MemorySegment staged = arena.allocate((long) values.length * Float.BYTES, 64);
                    MemorySegment.copy(values, 0, staged, ValueLayout.JAVA_FLOAT, 0, values.length);
                    Driver.memcpyHtoD(dptr, staged, staged.byteSize());
                }
            }
            MemorySegment table = arena.allocate(p.tasks().size() * TASK_BYTES, 128);
            for (int t = 0; t < p.tasks().size(); t++) {
                writeDescriptor(table, t * TASK_BYTES, p, p.tasks().get(t), buffers);
            }
            descriptors = Driver.memAlloc(table.byteSize());
            Driver.memcpyHtoD(descriptors, table, table.byteSize());
        }
        try {
            long base = descriptors;
            int ntiles = p.ntiles(), count = p.tasks().size();
            Repeats.TimedRun once = () -> {
                long s = System.nanoTime();
                for (int t = 0; t < count; t++) {
                    Driver.launchKernel(fn, ntiles, 1, 1, Layouts.BLOCK_THREADS, 1, 1, 0, 0L, base + t * TASK_BYTES);
                }
                Driver.ctxSynchronize();
                return Repeats.msSince(s);
            };
            double firstMs = once.run();
            Map<Integer, float[]> downloaded = new HashMap<>();
            Accuracy accuracy = OutputCheck.run(c, host, k -> {
                BinaryProgram.Operand at = p.rows().get(k);
                float[] whole = downloaded.computeIfAbsent(at.buffer(), i -> download(buffers.get(i),
                        p.buffers().get(i).elements()));
                return java.util.Arrays.copyOfRange(whole, (int) at.element(), (int) at.element() + p.n());
            }, probeDir, RAW_CONFIG);
            downloaded.clear();
            double[] times = repeats.measure(once);
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("launches_per_run", count);
            extra.put("grid", ntiles);
            extra.put("block", Layouts.BLOCK_THREADS);
            extra.put("compile_ms", compileMs);
            extra.put("operator", p.operator());
            return new ResultRow(c.workload(), c.label(), RAW_CONFIG, c.description(), count, Samples.of(times), firstMs,
                    OutputCheck.status(accuracy, c), accuracy.maxError(), c.tolerance().bound,
                    OutputCheck.note(accuracy, c), extra);
        } finally {
            Driver.ctxSynchronize();
            for (long b : buffers) {
                Driver.memFree(b);
            }
            Driver.memFree(descriptors);
        }
    }

    /** The fields an operator reads: tile geometry and three dense 1-D float32 operands (out, a, b). */
    private static void writeDescriptor(MemorySegment table, long at, BinaryProgram p, BinaryProgram.Task task,
                                        List<Long> buffers) {
        table.set(ValueLayout.JAVA_INT, at + Layouts.TASK.offset("ntiles"), p.ntiles());
        table.set(ValueLayout.JAVA_INT, at + Layouts.TASK.offset("tileSize"), p.tileSize());
        table.set(ValueLayout.JAVA_BYTE, at + Layouts.TASK.offset("nrefs"), (byte) 3);
        BinaryProgram.Operand[] refs = {task.out(), task.a(), task.b()};
        for (int r = 0; r < refs.length; r++) {
            String ref = "refs[" + r + "].";
            table.set(ValueLayout.JAVA_LONG, at + Layouts.TASK.offset(ref + "data"),
                    buffers.get(refs[r].buffer()) + refs[r].byteOffset());
            table.set(ValueLayout.JAVA_LONG, at + Layouts.TASK.offset(ref + "numel"), p.n());
            table.set(ValueLayout.JAVA_BYTE, at + Layouts.TASK.offset(ref + "dtype"), (byte) DTypeCode.F32.code);
            table.set(ValueLayout.JAVA_BYTE, at + Layouts.TASK.offset(ref + "ndim"), (byte) 1);
            table.set(ValueLayout.JAVA_SHORT, at + Layouts.TASK.offset(ref + "flags"), (short) Layouts.REF_CONTIGUOUS);
            table.set(ValueLayout.JAVA_INT, at + Layouts.TASK.offset(ref + "sizes[0]"), p.n());
            table.set(ValueLayout.JAVA_LONG, at + Layouts.TASK.offset(ref + "strides[0]"), 1L);
        }
    }

    private static float[] download(long dptr, long elements) {
        float[] out = new float[Math.toIntExact(elements)];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(elements * Float.BYTES, 64);
            Driver.memcpyDtoH(staged, dptr, staged.byteSize());
            MemorySegment.copy(staged, ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
        }
        return out;
    }

    @Override
    public void close() {
        Driver.ctxSetCurrent(context);
        for (long m : modules) {
            Driver.moduleUnload(m);
        }
        Driver.ctxDestroy(context);
    }
}
