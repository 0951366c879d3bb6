package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A template shaped like a Llama decode step (the first replay of which aborted the worker: "malformed
 * descriptor", see TemplateRoundHostTest): 700 tasks, so two agent rounds of an expansion, mixing many-tile tasks
 * (16-256 tiles), chains of dependent single-tile tasks (run members), and tasks with 3 to 6 dependencies whose
 * first is the task just before (what the agent's template validation rejected). Every row of every run is
 * checked, replayed and submitted as a plain batch.
 */
@Tag("gpu")
class GpuDecodeShapedTemplateTest {
    private static final int TASKS = 700, ROW = 4096, RUNS = 20;
    /** Dependencies beyond the task just before, by kind (task index % 12). */
    private static final int[] EXTRA_DEPS = {0, 0, 0, 0, 3, 2, 5, 0, 0, 5, 2, 0};

    @Test
    void decodeShapedTemplateRunsExactlyReplayedAndSubmitted() throws Exception {
        assumeGpu();
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            OperatorRef axpb = os.register("axpb_f32", op("axpb_f32"));
            OperatorRef add = os.register("add_mod_f32", op("add_mod_f32"));
            DeviceBlock out = os.allocate(4L * ROW * TASKS);
            float[] expected = new float[TASKS];
            int[] ntilesOf = new int[TASKS];
            TaskBatch b = os.newBatch();
            int multiDepChained = 0, members = 0;
            for (int i = 0; i < TASKS; i++) {
                long row = 4L * ROW * i, prev = row - 4L * ROW;
                int kind = i == 0 ? -1 : i % 12;
                // Tiles: a matmul-like spread (16-256) on kinds 0, 4 and 9, single tiles elsewhere.
                int ntiles = kind == 0 || kind == 4 || kind == 9 ? 16 << (i % 5) : 1;
                ntilesOf[i] = ntiles;
                int tileSize = ROW / ntiles;
                // Dependencies after the task just before (ordering only, on earlier tasks).
                int extras = kind < 0 ? 0 : EXTRA_DEPS[kind];
                LinkedHashSet<Integer> deps = new LinkedHashSet<>();
                if (i > 0) deps.add(i - 1);
                TaskBatch.TaskWriter w;
                if (kind < 0) {
                    w = b.add(fill, 1, ROW).argDouble(0, 1).argDouble(1, 0).refContiguous(0, out, row, DTypeCode.F32, ROW);
                    expected[i] = 1;
                } else if (kind == 5) {
                    // row i = row i-1 + row i-3 (a dependency too); the next task takes it off again, so that values
                    // stay small integers, exact in float.
                    int j = i - 3;
                    deps.add(j);
                    w = b.add(add, ntiles, tileSize).refContiguous(0, out, row, DTypeCode.F32, ROW)
                            .refContiguous(1, out, prev, DTypeCode.F32, ROW)
                            .refContiguous(2, out, 4L * ROW * j, DTypeCode.F32, ROW);
                    expected[i] = expected[i - 1] + expected[j];
                } else {
                    double beta = kind == 6 ? 1 - expected[i - 4] : 1;
                    w = b.add(axpb, ntiles, tileSize).argDouble(0, 1).argDouble(1, beta)
                            .refContiguous(0, out, row, DTypeCode.F32, ROW).refContiguous(1, out, prev, DTypeCode.F32, ROW);
                    expected[i] = (float) (expected[i - 1] + beta);
                }
                for (int k = 2; deps.size() < 1 + extras + (kind == 5 ? 1 : 0) && i - k >= 0; k += 1 + i % 3) deps.add(i - k);
                for (int d : deps) w.dependsOn(d);
                if (deps.size() >= 3) multiDepChained++;
                if (i > 0 && ntiles == 1 && ntilesOf[i - 1] == 1 && deps.size() == 1) members++;
            }
            // The shape this test is for (fails loudly if an edit above loses it).
            if (multiDepChained < 200 || members < 200) {
                throw new AssertionError("template lost its shape: " + multiDepChained + " chained tasks with 3+ deps, "
                        + members + " run members");
            }
            TaskTemplate template = os.template(b);
            try {
                for (int run = 0; run < RUNS; run++) {
                    clear(os, out);
                    long end = os.submit(template);
                    os.await(end - TASKS, end);
                    check(os, out, expected, "replay " + run);
                }
            } finally {
                template.release();
            }
            for (int run = 0; run < 3; run++) {
                clear(os, out);
                os.run(b);
                check(os, out, expected, "batch " + run);
            }
        }
    }

    private static void clear(GpuOS os, DeviceBlock out) {
        try (Arena a = Arena.ofConfined()) {
            os.upload(out, 0, a.allocate(out.size()));
        }
    }

    private static void check(GpuOS os, DeviceBlock out, float[] expected, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(4L * ROW * TASKS);
            os.download(host, out, 0);
            for (int i = 0; i < TASKS; i++) {
                for (int j = 0; j < ROW; j++) {
                    float got = host.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * ROW + j);
                    if (got != expected[i]) assertEquals(expected[i], got, what + ", row " + i + ", element " + j);
                }
            }
        }
    }
}
