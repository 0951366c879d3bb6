package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Task templates on the GPU: the agent expands one header into 3,000 dependent tasks from device memory,
 * through a ring of 4,096 slots (every run wraps), a tile map smaller than one run's tiles (published in
 * prefixes) and 512-task stage chunks; across a generation swap between runs, one DURING a run (the agent is
 * parked mid-expansion and the next generation goes on), and an operator replaced between runs (its new slot
 * makes a new image). Every element of every run is checked.
 */
@Tag("gpu")
class GpuTemplateTest {
    private static final int TASKS = 3000, ROW = 256;

    @Test
    void templatesRunExactlyAcrossWraparoundSwapsAndAReplacedOperator() throws Exception {
        assumeGpu();
        DeviceRuntime.Config small = new DeviceRuntime.Config(0, 4096, 4096, 16 * 1024, 1024, 512, 0,
                TimeUnit.SECONDS.toNanos(10));
        try (GpuOS os = GpuOS.start(options().withRuntime(small))) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            OperatorRef axpb = os.register("axpb_f32", op("axpb_f32"));
            OperatorRef add = os.register("add_mod_f32", op("add_mod_f32"));
            DeviceBlock out = os.allocate(4L * ROW * TASKS);
            // Row 0 = 1; row i = row i-1 + 1 (axpb, alpha 1, beta 1), every 7th through add_mod(row i-1, row 0):
            // row i = i + 1 either way, exact in float. Each task depends on the one before (and on task 0).
            TaskBatch b = os.newBatch();
            for (int i = 0; i < TASKS; i++) {
                int ntiles = i % 3 + 1, tileSize = (ROW + ntiles - 1) / ntiles;
                long row = 4L * ROW * i;
                if (i == 0) {
                    b.add(fill, 1, ROW).argDouble(0, 1).argDouble(1, 0).refContiguous(0, out, row, DTypeCode.F32, ROW);
                } else if (i % 7 == 0) {
                    b.add(add, ntiles, tileSize).refContiguous(0, out, row, DTypeCode.F32, ROW)
                            .refContiguous(1, out, row - 4L * ROW, DTypeCode.F32, ROW).refContiguous(2, out, 0, DTypeCode.F32, ROW)
                            .dependsOn(i - 1).dependsOn(0);
                } else {
                    b.add(axpb, ntiles, tileSize).argDouble(0, 1).argDouble(1, 1).refContiguous(0, out, row, DTypeCode.F32, ROW)
                            .refContiguous(1, out, row - 4L * ROW, DTypeCode.F32, ROW).dependsOn(i - 1);
                }
            }
            TaskTemplate template = os.template(b);
            try {
                for (int run = 0; run < 6; run++) {
                    CompletableFuture<?> swap = null;
                    if (run == 2) os.register("fill_f32_b", op("fill_f32"));                       // swap between runs
                    if (run == 3) swap = CompletableFuture.runAsync(() -> os.register("fill_f32_c", op("fill_f32")));
                    if (run == 4) {
                        // axpb now adds 2 * beta: rows step by 2 except where add_mod (+ row 0) runs.
                        os.replace("axpb_f32", op("axpb_f32").replace("alpha) + beta", "alpha) + 2.0f * beta"));
                    }
                    clear(os, out);
                    long end = os.submit(template);
                    if (swap != null) {
                        // Runs back to back while the swap compiles, links and parks the worker: it lands inside one
                        // of them. Later runs recompute the same rows, each task after its own dependencies.
                        for (int k = 0; k < 12 && !swap.isDone(); k++) end = os.submit(template);
                        swap.get(2, TimeUnit.MINUTES);
                        end = os.submit(template);
                    }
                    os.await(end - TASKS, end);
                    check(os, out, run >= 4 ? 2 : 1, run);
                }
            } finally {
                template.release();
            }
        }
    }

    private static void clear(GpuOS os, DeviceBlock out) {
        try (Arena a = Arena.ofConfined()) {
            os.upload(out, 0, a.allocate(out.size()));
        }
    }

    private static void check(GpuOS os, DeviceBlock out, int step, int run) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(4L * ROW * TASKS);
            os.download(host, out, 0);
            float value = 1;
            for (int i = 0; i < TASKS; i++) {
                if (i > 0) value += i % 7 == 0 ? 1 : step;
                for (int j = 0; j < ROW; j++) {
                    float got = host.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * ROW + j);
                    if (got != value) assertEquals(value, got, "run " + run + ", row " + i + ", element " + j);
                }
            }
        }
    }
}
