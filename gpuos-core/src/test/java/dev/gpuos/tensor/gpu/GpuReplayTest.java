package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Capture once, run many times: results equal the CPU backend's for every run, with inputs changed between runs. */
@Tag("gpu")
class GpuReplayTest extends SharedGpuOS {

    /** A small MLP step, a softmax, 50 independent adds and a dependent chain: every kind of task and edge. */
    private static List<Tensor> program(Tensor x, Tensor w, Tensor b, Tensor rows) {
        List<Tensor> out = new ArrayList<>();
        Tensor h = x.matmul(w).add(b).gelu();
        out.add(h);
        out.add(h.softmax(1));
        for (int i = 0; i < 50; i++) out.add(rows.select(0, i).add(rows.select(0, 49 - i)));
        Tensor y = x;
        for (int i = 0; i < 30; i++) y = y.mul(1.01).add(0.001);
        out.add(y.sum(new int[]{1}, false));
        return out;
    }

    /** tasks(): one entry per task in batch order, the registered source, the shared memory, operands in their buffers. */
    @Test
    void tasksDescribeTheCapturedBatch() {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor gx = g.randn(1, DType.F32, 1, 64), gw = g.randn(2, DType.F32, 64, 32), gb = g.randn(3, DType.F32, 32);
            Tensor grows = g.randn(4, DType.F32, 50, 700);
            g.sync();
            List<Tensor>[] out = new List[1];
            GpuReplay replay = gpu.capture(() -> out[0] = program(gx, gw, gb, grows));
            List<GpuReplay.Task> tasks = replay.tasks();
            assertEquals(replay.taskCount(), tasks.size());
            boolean matmul = false;
            for (GpuReplay.Task t : tasks) {
                assertEquals(t.operator().name(), OperatorLibrary.uniqueName(t.isJoin() ? "join" : t.name(), t.source()),
                        "the registered operator hashes this very source");
                assertTrue(t.source().contains("GPUOS_OP"), t.name());
                assertTrue(t.ntiles() >= 1);
                for (int r = 0; r < t.operands().size(); r++) {
                    long off = t.operandAddress(r) - t.operands().get(r).address();
                    assertTrue(off >= 0 && off <= t.operands().get(r).byteSize(), t.name() + " operand " + r);
                }
                if (t.name().startsWith("matmul")) {
                    matmul = true;
                    assertEquals(GpuBackend.MIN_SMEM_BYTES, t.smemBytes());
                    assertEquals(gpu.deviceBuffer(gx).address(), t.operands().get(0).address());
                }
            }
            assertTrue(matmul, "the program has a matmul task");
            assertEquals(0, tasks.stream().filter(t -> t.name().startsWith("ew"))
                    .mapToInt(GpuReplay.Task::smemBytes).sum());
        }
    }

    @Test
    void replayedRunsEqualTheCpuBackendAsInputsChange() {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        try (TensorScope g = TensorScope.open(gpu); TensorScope c = TensorScope.open(CpuBackend.eager())) {
            Tensor gx = g.randn(1, DType.F32, 1, 64), gw = g.randn(2, DType.F32, 64, 32), gb = g.randn(3, DType.F32, 32);
            Tensor grows = g.randn(4, DType.F32, 50, 700);
            g.sync();
            List<Tensor>[] gpuOut = new List[1];
            GpuReplay replay = gpu.capture(() -> gpuOut[0] = program(gx, gw, gb, grows));
            assertTrue(replay.taskCount() >= 50, "tasks: " + replay.taskCount());
            long tasksBefore = gpu.stats().tasks();
            for (int run = 0; run < 4; run++) {
                if (run > 0) {
                    // New inputs, copied in place outside the capture.
                    gx.copyFrom(g.randn(100 + run, DType.F32, 1, 64));
                    grows.copyFrom(g.randn(200 + run, DType.F32, 50, 700));
                }
                replay.run();
                Tensor cx = c.tensor(gx.toFloatArray(), 1, 64), cw = c.tensor(gw.toFloatArray(), 64, 32);
                Tensor cb = c.tensor(gb.toFloatArray(), 32), crows = c.tensor(grows.toFloatArray(), 50, 700);
                List<Tensor> expected = program(cx, cw, cb, crows);
                for (int k = 0; k < expected.size(); k++) {
                    float[] e = expected.get(k).toFloatArray(), a = gpuOut[0].get(k).toFloatArray();
                    assertEquals(e.length, a.length);
                    for (int i = 0; i < e.length; i++) {
                        assertEquals(e[i], a[i], 2e-5 * Math.max(1, Math.abs(e[i])), "run " + run + " output " + k + " [" + i + "]");
                    }
                }
            }
            assertEquals(4, replay.runs());
            assertTrue(gpu.stats().tasks() - tasksBefore >= 4L * replay.taskCount());
        }
    }

    @Test
    void aCaptureRefusesUploadsAndSyncPointsAndLeavesTheBackendUsable() {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor x = g.ones(DType.F32, 8);
            IllegalArgumentException upload = assertThrows(IllegalArgumentException.class,
                    () -> gpu.capture(() -> x.add(g.tensor(new float[]{1, 2, 3, 4, 5, 6, 7, 8}, 8))));
            assertTrue(upload.getMessage().contains("upload"), upload.getMessage());
            IllegalStateException read = assertThrows(IllegalStateException.class,
                    () -> gpu.capture(() -> x.add(1.0).toFloatArray()));
            assertTrue(read.getMessage().contains("sync point"), read.getMessage());
            assertArrayEquals(new float[]{3, 3, 3, 3, 3, 3, 3, 3}, x.add(2.0).toFloatArray());
            // A replay over a closed tensor refuses to run.
            Tensor[] out = new Tensor[1];
            GpuReplay r;
            try (TensorScope inner = TensorScope.open(gpu)) {
                Tensor tmp = inner.ones(DType.F32, 8);
                inner.sync();
                r = gpu.capture(() -> out[0] = tmp.add(x));
                r.run();
                assertArrayEquals(new float[]{2, 2, 2, 2, 2, 2, 2, 2}, out[0].toFloatArray());
            }
            assertThrows(RuntimeException.class, r::run);
        }
    }

    /**
     * W5 and W2 captured with their outputs: far fewer tasks (intermediates stay in registers), results equal the
     * CPU backend's, and the outside tensor the program writes with copyFrom is stored.
     */
    @Test
    void capturedChainsWithOutputsKeepIntermediatesInRegistersAndEqualTheCpuBackend() {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        int n = 1024, steps = 1000, iterations = 100, m = 256;
        try (TensorScope g = TensorScope.open(gpu); TensorScope c = TensorScope.open(CpuBackend.eager())) {
            Tensor gx = g.randn(5, DType.F32, n), gc = g.rand(6, DType.F32, n).mul(0.002).add(0.999);
            Tensor ga = g.randn(7, DType.F32, iterations, m), gb = g.randn(8, DType.F32, iterations, m);
            Tensor gm = g.randn(9, DType.F32, iterations, m), gd = g.rand(10, DType.F32, iterations, m).add(1.0);
            Tensor outside = g.zeros(DType.F32, n);
            g.sync();
            GpuReplay chain = gpu.captureReturning(() -> {
                Tensor x = gx;
                for (int i = 0; i < steps; i++) {
                    x = x.mul(gc);
                    if (i == 499) outside.copyFrom(x);
                }
                return List.of(x);
            });
            // 1,000 steps in groups of 64; the copy into outside joins the group it falls in.
            assertEquals((steps + 1 + 63) / 64, chain.taskCount(), "tasks of the captured chain");
            GpuReplay mixed = gpu.captureReturning(() -> {
                List<Tensor> rows = new ArrayList<>();
                for (int k = 0; k < iterations; k++) {
                    Tensor y = ga.select(0, k).add(gb.select(0, k)).mul(gm.select(0, k));
                    rows.add(y.relu().sigmoid().div(gd.select(0, k)));
                }
                return rows;
            });
            // An iteration reads 4 tensors and stores 1: one task through an operand table (issue 12; two tasks of
            // 4 inline operands before), plus one more where a fusion group's 64-node bound cuts an iteration.
            int cut = 0;
            for (int b = ElementwiseFusion.MAX_GROUP; b < 5 * iterations; b += ElementwiseFusion.MAX_GROUP) if (b % 5 != 0) cut++;
            assertEquals(iterations + cut, mixed.taskCount(), "one task per iteration");
            for (int run = 0; run < 2; run++) {
                if (run > 0) gx.copyFrom(g.randn(300 + run, DType.F32, n));
                chain.run();
                mixed.run();
                Tensor x = c.tensor(gx.toFloatArray(), n), cc = c.tensor(gc.toFloatArray(), n), half = null;
                for (int i = 0; i < steps; i++) {
                    x = x.mul(cc);
                    if (i == 499) half = x;
                }
                assertArrayEquals(x.toFloatArray(), chain.outputs().getFirst().toFloatArray(), "run " + run + " chain");
                assertArrayEquals(half.toFloatArray(), outside.toFloatArray(), "run " + run + " copyFrom target");
                Tensor ca = c.tensor(ga.toFloatArray(), iterations, m), cb = c.tensor(gb.toFloatArray(), iterations, m);
                Tensor cm = c.tensor(gm.toFloatArray(), iterations, m), cd = c.tensor(gd.toFloatArray(), iterations, m);
                for (int k = 0; k < iterations; k += 7) {
                    float[] e = ca.select(0, k).add(cb.select(0, k)).mul(cm.select(0, k)).relu().sigmoid()
                            .div(cd.select(0, k)).toFloatArray();
                    float[] a = mixed.outputs().get(k).toFloatArray();
                    for (int i = 0; i < m; i++) {
                        assertEquals(e[i], a[i], 2e-6 * Math.max(1, Math.abs(e[i])), "run " + run + " row " + k + " [" + i + "]");
                    }
                }
            }
        }
    }

    /** An intermediate that was not returned throws at the call site, on any thread; outputs and inputs read fine. */
    @Test
    void intermediatesThatWereNotReturnedThrowWhenUsed() throws Exception {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor x = g.ones(DType.F32, 8);
            g.sync();
            Tensor[] kept = new Tensor[2];
            GpuReplay r = gpu.captureReturning(() -> {
                kept[0] = x.mul(3.0);
                kept[1] = kept[0].add(1.0);
                return List.of(kept[1]);
            });
            assertEquals(1, r.taskCount());
            r.run();
            assertArrayEquals(new float[]{4, 4, 4, 4, 4, 4, 4, 4}, r.outputs().getFirst().toFloatArray());
            assertSame(kept[1], r.outputs().getFirst());
            CapturedIntermediateException read = assertThrows(CapturedIntermediateException.class, kept[0]::toFloatArray);
            assertTrue(read.getMessage().contains("did not return") && read.getMessage().contains("mul"), read.getMessage());
            assertThrows(CapturedIntermediateException.class, () -> kept[0].reshape(2, 4).sum().item());
            CapturedIntermediateException op = assertThrows(CapturedIntermediateException.class, () -> kept[0].add(x));
            assertTrue(op.getMessage().startsWith("add: "), op.getMessage());
            assertThrows(CapturedIntermediateException.class, () -> kept[0].copyFrom(x));
            Throwable[] elsewhere = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    kept[0].toFloatArray();
                } catch (Throwable e) {
                    elsewhere[0] = e;
                }
            });
            t.start();
            t.join();
            assertInstanceOf(CapturedIntermediateException.class, elsewhere[0]);
            // The backend and the inputs are unaffected; a replay runs again.
            assertArrayEquals(new float[]{2, 2, 2, 2, 2, 2, 2, 2}, x.add(1.0).toFloatArray());
            r.run();
            assertArrayEquals(new float[]{4, 4, 4, 4, 4, 4, 4, 4}, r.outputs().getFirst().toFloatArray());
            // The Runnable capture stores everything: its intermediates stay readable.
            Tensor[] all = new Tensor[2];
            GpuReplay stored = gpu.capture(() -> all[1] = (all[0] = x.mul(3.0)).add(1.0));
            stored.run();
            assertArrayEquals(new float[]{3, 3, 3, 3, 3, 3, 3, 3}, all[0].toFloatArray());
            assertTrue(stored.outputs().isEmpty());
        }
    }

    @Test
    void aFailedCaptureMarksWhatItCreatedNeverComputed() {
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofMillis(1));
        try (TensorScope g = TensorScope.open(gpu)) {
            Tensor x = g.ones(DType.F32, 8);
            g.sync();
            Tensor[] made = new Tensor[1];
            assertThrows(IllegalArgumentException.class, () -> gpu.captureReturning(() -> {
                made[0] = x.mul(2.0);
                return List.of(made[0].add(g.tensor(new float[]{1, 2, 3, 4, 5, 6, 7, 8}, 8)));
            }));
            IllegalStateException e = assertThrows(IllegalStateException.class, made[0]::toFloatArray);
            assertTrue(e.getMessage().contains("capture"), e.getMessage());
            assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1, 1, 1}, x.toFloatArray());
        }
    }
}
