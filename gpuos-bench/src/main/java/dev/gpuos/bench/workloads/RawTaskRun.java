package dev.gpuos.bench.workloads;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link BinaryProgram} written straight into a {@link TaskBatch} (no tensor API): what the runtime costs
 * without the recording layer. Each timed run writes every descriptor, submits the batch and waits for it.
 */
final class RawTaskRun {
    static final String CONFIG = "gpuos_raw";

    private final GpuOS os;
    private final Path probeDir;
    private final Map<String, OperatorRef> operators = new HashMap<>();

    RawTaskRun(GpuOS os, Path probeDir) {
        this.os = os;
        this.probeDir = probeDir;
    }

    ResultRow run(WorkloadCase c, BinaryProgram p, Map<String, float[]> host, Repeats repeats) throws Exception {
        long t0 = System.nanoTime();
        OperatorRef op = operators.computeIfAbsent(p.operator(), name -> os.register("wl_" + name, OperatorSource.load(name)));
        double registerMs = Repeats.msSince(t0);
        List<DeviceBlock> blocks = new ArrayList<>();
        try {
            for (BinaryProgram.Buffer b : p.buffers()) {
                DeviceBlock block = os.allocate(b.elements() * Float.BYTES);
                blocks.add(block);
                if (b.input() != null) {
                    os.upload(block, 0, MemorySegment.ofArray(host.get(b.input())));
                }
            }
            TaskBatch batch = new TaskBatch(p.tasks().size());
            Repeats.TimedRun once = () -> {
                long s = System.nanoTime();
                batch.clear();
                int ntiles = p.ntiles(), tile = p.tileSize(), n = p.n();
                List<BinaryProgram.Task> tasks = p.tasks();
                for (int t = 0; t < tasks.size(); t++) {
                    BinaryProgram.Task task = tasks.get(t);
                    TaskBatch.TaskWriter w = batch.add(op, ntiles, tile)
                            .refContiguous(0, blocks.get(task.out().buffer()), task.out().byteOffset(), DTypeCode.F32, n)
                            .refContiguous(1, blocks.get(task.a().buffer()), task.a().byteOffset(), DTypeCode.F32, n)
                            .refContiguous(2, blocks.get(task.b().buffer()), task.b().byteOffset(), DTypeCode.F32, n);
                    if (p.chained() && t > 0) {
                        w.dependsOn(t - 1);
                    }
                }
                os.run(batch);
                return Repeats.msSince(s);
            };
            double firstMs = once.run();
            Map<Integer, float[]> downloaded = new HashMap<>();
            Accuracy accuracy = OutputCheck.run(c, host, k -> {
                BinaryProgram.Operand at = p.rows().get(k);
                float[] whole = downloaded.computeIfAbsent(at.buffer(), i -> {
                    float[] all = new float[Math.toIntExact(p.buffers().get(i).elements())];
                    os.download(MemorySegment.ofArray(all), blocks.get(i), 0);
                    return all;
                });
                return java.util.Arrays.copyOfRange(whole, (int) at.element(), (int) at.element() + p.n());
            }, probeDir, CONFIG);
            downloaded.clear();
            double[] times = repeats.measure(once);
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("tasks_per_run", p.tasks().size());
            extra.put("ntiles_per_task", p.ntiles());
            extra.put("register_ms", registerMs);
            extra.put("operator", p.operator());
            return new ResultRow(c.workload(), c.label(), CONFIG, c.description(), p.tasks().size(), Samples.of(times),
                    firstMs, OutputCheck.status(accuracy, c), accuracy.maxError(), c.tolerance().bound,
                    OutputCheck.note(accuracy, c), extra);
        } finally {
            for (DeviceBlock b : blocks) {
                os.release(b);
            }
        }
    }
}
