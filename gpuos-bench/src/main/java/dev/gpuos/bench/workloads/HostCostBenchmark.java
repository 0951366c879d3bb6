package dev.gpuos.bench.workloads;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.runtime.SlotResolver;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskQueue;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.sim.SimBuffer;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedDevice;
import dev.gpuos.runtime.sim.SimulatedWorker;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.record.Recording;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Host cost of one op, in ns, without a GPU (issue 12's goal for {@code gpuStreamedAdd}: at most 150 ns and 64
 * bytes allocated per op). The real paths, each per op:
 * <ul>
 *   <li>{@code gpuStreamedAdd}: {@code a.add(b)} (n = 1024, f32, a new result each) on the GPU backend, whole:
 *       the tensor API front end, recording, planning (fusion, operator lookup, hazards), encoding into the
 *       task batch and submission into the ring, 1024 ops per submission, 8 submissions and a sync per invocation, on a {@link GpuOS}
 *       driving the simulated device ({@link SimulatedWorkerDevice#sink}: one worker thread whose operators
 *       do nothing, so the device's cost per task is small but its threads share the CPUs with this one).
 *       This is what a streamed W1 costs the host on a GPU, less the device's own time.</li>
 *   <li>{@code tensorRecord}: {@code a.add(b)} through the tensor API front end (shape and dtype checks,
 *       output allocation call, op node, scope ownership) into a {@link Recording} that hands a submission to a
 *       sink every 1024 nodes, as the GPU backend's does. The backend hands out storage that owns no memory and
 *       the sink drops submissions, so this is the recording layer alone: not the GPU backend's batch planner
 *       (fusion, operator lookup, hazards), which needs a GPU (the GPU run reports the whole streamed host cost
 *       as {@code record_ms} of each {@code gpuos} row).</li>
 *   <li>{@code taskWrite}: one task descriptor with three dense operands written into a {@link TaskBatch}.</li>
 *   <li>{@code taskWriteSubmitAwait}: the same plus {@link TaskQueue#submit} into the ring of a
 *       {@link SimulatedDevice} and waiting for completion; the simulated worker (Java threads) runs a no-op
 *       operator, so its own per-task cost is in this figure too, and its threads share the CPUs with the
 *       benchmark thread.</li>
 * </ul>
 * Run: {@code java -cp 'gpuos-bench.jar:gpuos-core.jar:lib/*' org.openjdk.jmh.Main HostCostBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class HostCostBenchmark {
    static final int OPS = 1024;
    /** Adds per streamed invocation: 8 submissions, so that recording one overlaps planning the one before. */
    static final int STREAMED_OPS = 8 * OPS;
    static final int N = 1024;

    /** A backend whose storage owns no memory and whose recording drops every submission. */
    static final class RecordingOnlyBackend implements Backend {
        final LongAdder dropped = new LongAdder();
        final Recording recording = new Recording(1024, Duration.ofMillis(2), s -> dropped.add(s.nodes().size()));

        @Override
        public String name() {
            return "recording-only";
        }

        @Override
        public Storage allocate(DType dtype, long elementCount) {
            long bytes = elementCount * dtype.byteSize();
            Backend self = this;
            return new Storage() {
                private boolean released;

                public Backend backend() { return self; }
                public long byteSize() { return bytes; }
                public boolean isReleased() { return released; }
                public void release() { released = true; }
            };
        }

        @Override
        public void submit(OpNode node) {
            recording.record(node);
        }

        @Override
        public void read(Storage storage, long byteOffset, MemorySegment destination) {
            throw new UnsupportedOperationException("the recording-only backend holds no data");
        }

        @Override
        public void flush() {
            recording.submit();
        }

        @Override
        public void sync() {
            flush();
        }
    }

    private GpuOS sinkOs;
    private GpuBackend gpu;
    private TensorScope gpuInputs;
    private Tensor ga;
    private Tensor gb;
    /** W1's inputs: one row each per add. */
    private Tensor rowsA;
    private Tensor rowsB;

    private RecordingOnlyBackend backend;
    private TensorScope inputs;
    private Tensor a;
    private Tensor b;

    private SimulatedDevice device;
    private TaskQueue queue;
    private TaskBatch batch;
    private SimBuffer out;
    private SimBuffer x;
    private SimBuffer y;

    @Setup(Level.Trial)
    public void setUp() {
        sinkOs = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1));
        gpu = new GpuBackend(sinkOs, OPS, Duration.ofSeconds(10), null);
        gpuInputs = TensorScope.open(gpu);
        ga = gpuInputs.zeros(DType.F32, N);
        gb = gpuInputs.zeros(DType.F32, N);
        rowsA = gpuInputs.zeros(DType.F32, STREAMED_OPS, N);
        rowsB = gpuInputs.zeros(DType.F32, STREAMED_OPS, N);
        gpu.sync();

        backend = new RecordingOnlyBackend();
        inputs = TensorScope.open(backend);
        a = inputs.zeros(DType.F32, N);
        b = inputs.zeros(DType.F32, N);

        device = new SimulatedDevice(1 << 16, 1 << 20);
        SimOp nop = (task, tile) -> {};
        device.launch(List.of(nop), SimulatedWorker.Config.DEFAULT.withWorkers(1));
        queue = new TaskQueue(device.hostRing(), device.capacity(), device.control(), device.liveness(),
                slot -> "nop");
        batch = new TaskBatch(OPS);
        out = device.allocate((long) OPS * N * 4);
        x = device.allocate((long) OPS * N * 4);
        y = device.allocate((long) OPS * N * 4);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        gpuInputs.close();
        sinkOs.close();
        inputs.close();
        queue.close();
        device.close();
    }

    @Benchmark
    @OperationsPerInvocation(STREAMED_OPS)
    public void gpuStreamedAdd(Blackhole bh) {
        gpuStreamedAdds(bh::consume);
    }

    /** {@link #STREAMED_OPS} adds with a new result each, then a sync: what {@code gpuStreamedAdd} times. */
    void gpuStreamedAdds(java.util.function.Consumer<Tensor> sink) {
        gpuStreamedAdds(sink, () -> {});
    }

    /** ... calling {@code submitted} once every op was submitted, before the sync waits for the device. */
    void gpuStreamedAdds(java.util.function.Consumer<Tensor> sink, Runnable submitted) {
        try (TensorScope scope = TensorScope.open(gpu)) {
            for (int i = 0; i < STREAMED_OPS; i++) {
                sink.accept(ga.add(gb));
            }
            gpu.flush();
            submitted.run();
            gpu.sync();
        }
    }

    /**
     * W1 as written, on the sink device: {@link #STREAMED_OPS} adds {@code a[i] + b[i]} of two row views each (n =
     * 1024 f32), a new result each, then a sync. Unlike {@link #gpuStreamedAdds} no two adds share an operand, so
     * each is a task of its own, as on the GPU (the per-task half of the host path counts twice as often).
     */
    void gpuStreamedRowAdds(java.util.function.Consumer<Tensor> sink, Runnable submitted) {
        try (TensorScope scope = TensorScope.open(gpu)) {
            for (int i = 0; i < STREAMED_OPS; i++) {
                sink.accept(rowsA.select(0, i).add(rowsB.select(0, i)));
            }
            gpu.flush();
            submitted.run();
            gpu.sync();
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void tensorRecord(Blackhole bh) {
        try (TensorScope scope = TensorScope.open(backend)) {
            for (int i = 0; i < OPS; i++) {
                bh.consume(a.add(b));
            }
        }
    }

    private void writeTasks() {
        batch.clear();
        for (int t = 0; t < OPS; t++) {
            long off = (long) t * N * 4;
            batch.add(0, 1, N).refContiguous(0, out, off, DTypeCode.F32, N).refContiguous(1, x, off, DTypeCode.F32, N)
                    .refContiguous(2, y, off, DTypeCode.F32, N);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public TaskBatch taskWrite() {
        writeTasks();
        return batch;
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public long taskWriteSubmitAwait() {
        writeTasks();
        long end = queue.submit(batch, SlotResolver.IDENTITY, TimeUnit.SECONDS.toNanos(30));
        queue.await(end - OPS, end, TimeUnit.SECONDS.toNanos(30));
        return end;
    }
}
