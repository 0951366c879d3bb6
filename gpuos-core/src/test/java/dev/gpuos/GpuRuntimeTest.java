package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.gpuos.cuda.Driver;
import dev.gpuos.cuda.NvJitLinkException;
import dev.gpuos.cuda.NvrtcException;
import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.jit.JitCache;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GpuRuntimeTest {

    @Test
    @Order(1)
    void startCloseStartInOneJvm() {
        for (int round = 0; round < 3; round++) {
            try (GpuOS os = GpuOS.start(options())) {
                assertFillWorks(os, os.register("fill_f32", op("fill_f32")));
            }
        }
    }

    @BeforeEach
    void gpu() {
        assumeGpu();
    }

    /** 100k random tasks of three operators, random tiles, strided and reversed views, cross-batch deps. */
    @Test
    void hundredThousandRandomTasksMatchTheCpuElementByElement() throws Exception {
        final int tasks = 100_000;
        final long seed = 0x5EED_0001L;
        var rnd = new SplittableRandom(seed);
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            OperatorRef add = os.register("add_mod_f32", op("add_mod_f32"));
            OperatorRef axpb = os.register("axpb_f32", op("axpb_f32"));

            int[] n = new int[tasks];
            long[] offset = new long[tasks];
            long total = 0;
            for (int t = 0; t < tasks; t++) {
                n[t] = 1 + rnd.nextInt(1500);
                offset[t] = total;
                total += n[t];
            }
            DeviceBlock out = os.allocate(total * 4);
            float[][] expected = new float[tasks][];
            long[] seqOf = new long[tasks];
            TaskBatch batch = os.newBatch();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            int batchStart = 0;
            for (int t = 0; t < tasks; t++) {
                int tileSize = new int[] {128, 256, 1024}[rnd.nextInt(3)];
                int ntiles = (n[t] + tileSize - 1) / tileSize;
                int kind = t < 16 ? 0 : rnd.nextInt(5);
                float[] e = new float[n[t]];
                if (kind == 0) {
                    float alpha = (float) rnd.nextDouble(-4, 4);
                    float beta = (float) rnd.nextDouble(-0.01, 0.01);
                    var w = batch.add(fill, ntiles, tileSize).argDouble(0, alpha).argDouble(1, beta);
                    w.refContiguous(0, out, offset[t] * 4, DTypeCode.F32, n[t]);
                    for (int i = 0; i < n[t]; i++) {
                        e[i] = Math.fma((float) i, beta, alpha);
                    }
                } else if (kind <= 2) {
                    int a = earlier(rnd, t);
                    int b = earlier(rnd, t);
                    var w = batch.add(add, ntiles, tileSize);
                    w.refContiguous(0, out, offset[t] * 4, DTypeCode.F32, n[t]);
                    w.refContiguous(1, out, offset[a] * 4, DTypeCode.F32, n[a]);
                    w.refContiguous(2, out, offset[b] * 4, DTypeCode.F32, n[b]);
                    dependOn(w, a, batchStart, seqOf);
                    dependOn(w, b, batchStart, seqOf);
                    for (int i = 0; i < n[t]; i++) {
                        e[i] = expected[a][i % n[a]] + expected[b][i % n[b]];
                    }
                } else {
                    int a = earlier(rnd, t);
                    float alpha = (float) rnd.nextDouble(-2, 2);
                    float beta = (float) rnd.nextDouble(-1, 1);
                    boolean reversed = rnd.nextBoolean();
                    var w = batch.add(axpb, ntiles, tileSize).argDouble(0, alpha).argDouble(1, beta);
                    w.refContiguous(0, out, offset[t] * 4, DTypeCode.F32, n[t]);
                    if (reversed) {
                        w.ref(1, out, (offset[a] + n[a] - 1) * 4, DTypeCode.F32, new long[] {n[a]}, new long[] {-1});
                    } else {
                        w.refContiguous(1, out, offset[a] * 4, DTypeCode.F32, n[a]);
                    }
                    dependOn(w, a, batchStart, seqOf);
                    for (int i = 0; i < n[t]; i++) {
                        int j = i % n[a];
                        float x = reversed ? expected[a][n[a] - 1 - j] : expected[a][j];
                        e[i] = x * alpha + beta;
                    }
                }
                expected[t] = e;
                if (batch.size() == 1000 || t == tasks - 1) {
                    int size = batch.size();
                    futures.add(os.submitAsync(batch));
                    long end = os.queue().submitted();
                    for (int k = 0; k < size; k++) {
                        seqOf[batchStart + k] = end - size + k;
                    }
                    batch.clear();
                    batchStart = t + 1;
                }
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(total * 4, 64);
                os.download(host, out, 0);
                int mismatches = 0;
                String first = null;
                for (int t = 0; t < tasks; t++) {
                    for (int i = 0; i < n[t]; i++) {
                        float got = host.getAtIndex(ValueLayout.JAVA_FLOAT, offset[t] + i);
                        if (Float.floatToIntBits(got) != Float.floatToIntBits(expected[t][i])) {
                            if (first == null) {
                                first = "task " + t + " element " + i + ": got " + got + ", expected " + expected[t][i];
                            }
                            mismatches++;
                        }
                    }
                }
                assertEquals(0, mismatches, "seed " + seed + ", first mismatch: " + first);
            }
        }
    }

    private static int earlier(SplittableRandom rnd, int t) {
        return rnd.nextInt(4) == 0 ? rnd.nextInt(t) : t - 1 - rnd.nextInt(Math.min(t, 2000));
    }

    private static void dependOn(TaskBatch.TaskWriter w, int task, int batchStart, long[] seqOf) {
        if (task >= batchStart) {
            w.dependsOn(task - batchStart);
        } else {
            w.dependsOnSeq(seqOf[task]);
        }
    }

    /**
     * 4 threads stream at least 1M single-tile tasks while the main thread registers an operator and replaces
     * another twice. Each task stamps the version that ran; per thread, versions never go backwards in submission
     * order, no task is lost, and every task submitted after a replace returned ran the new version.
     */
    @Test
    void registerAndReplaceWhileOneMillionTasksStream() throws Exception {
        final int threads = 4;
        final int perThreadMin = 250_000;
        final int perThreadMax = 1_000_000;
        final int batchSize = 500;
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef stamp = os.register("stamp_i32", "#define VERSION 1\n" + op("stamp_i32"));
            DeviceBlock out = os.allocate((long) threads * perThreadMax * 4);
            AtomicInteger minVersion = new AtomicInteger(1);
            AtomicBoolean swapsDone = new AtomicBoolean();
            AtomicInteger started = new AtomicInteger();
            int[][] expectedMin = new int[threads][perThreadMax];
            int[] submittedCount = new int[threads];
            List<Thread> workers = new ArrayList<>();
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int th = 0; th < threads; th++) {
                final int id = th;
                Thread worker = Thread.ofPlatform().name("stream-" + id).start(() -> {
                    try {
                        TaskBatch batch = os.newBatch();
                        int count = 0;
                        List<CompletableFuture<Void>> pending = new ArrayList<>();
                        while (count + batchSize <= perThreadMax && (count < perThreadMin || !swapsDone.get())) {
                            int version = minVersion.get(); // read BEFORE submitting: a lower bound for this batch
                            for (int k = 0; k < batchSize; k++) {
                                batch.add(stamp, 1, 1).arg(0, (long) id * perThreadMax + count + k)
                                        .refContiguous(0, out, 0, DTypeCode.I32, (long) threads * perThreadMax);
                                expectedMin[id][count + k] = version;
                            }
                            pending.add(os.submitAsync(batch));
                            batch.clear();
                            count += batchSize;
                            if (count == 20 * batchSize) {
                                started.incrementAndGet();
                            }
                            if (pending.size() > 64) {
                                pending.remove(0).get(60, TimeUnit.SECONDS);
                            }
                        }
                        for (var f : pending) {
                            f.get(60, TimeUnit.SECONDS);
                        }
                        submittedCount[id] = count;
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                });
                workers.add(worker);
            }
            long startDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (started.get() < threads && errors.isEmpty()) {
                if (System.nanoTime() > startDeadline) {
                    fail(started.get() + " of " + threads + " streaming threads submitted their first 20 batches in 5 min");
                }
                Thread.sleep(1);
            }
            os.register("fill_f32", op("fill_f32"));
            os.replace("stamp_i32", "#define VERSION 2\n" + op("stamp_i32"));
            minVersion.set(2);
            Thread.sleep(20);
            os.replace("stamp_i32", "#define VERSION 3\n" + op("stamp_i32"));
            minVersion.set(3);
            swapsDone.set(true);
            for (Thread w : workers) {
                if (!w.join(java.time.Duration.ofMinutes(5))) {
                    fail(w.getName() + " still streaming 5 min after the swaps", errors.isEmpty() ? null : errors.get(0));
                }
            }
            if (!errors.isEmpty()) {
                fail("streaming thread failed", errors.get(0));
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate((long) threads * perThreadMax * 4, 64);
                os.download(host, out, 0);
                long total = 0;
                int[] seen = new int[4];
                for (int th = 0; th < threads; th++) {
                    int last = 0;
                    for (int i = 0; i < submittedCount[th]; i++) {
                        int v = host.getAtIndex(ValueLayout.JAVA_INT, (long) th * perThreadMax + i);
                        if (v < 1 || v > 3) {
                            fail("thread " + th + " task " + i + ": stamp " + v + " (lost or torn)");
                        }
                        if (v < last) {
                            fail("thread " + th + " task " + i + ": version " + v + " after " + last);
                        }
                        if (v < expectedMin[th][i]) {
                            fail("thread " + th + " task " + i + " was submitted after version " + expectedMin[th][i]
                                    + " was live but ran version " + v);
                        }
                        last = v;
                        seen[v]++;
                    }
                    total += submittedCount[th];
                }
                assertTrue(total >= 1_000_000, "streamed " + total + " tasks");
                assertTrue(seen[1] > 0 && seen[3] > 0, "versions seen: v1=" + seen[1] + " v2=" + seen[2] + " v3=" + seen[3]);
            }
        }
    }

    /** Uncapped, the heavy operator wants ~254 registers; compiled to the 128 cap it spills and stays exact. */
    @Test
    void registerHungryOperatorRunsCorrectlyUnderTheCap() throws Exception {
        // Compiled without the cap (255), the operator wants ~254 registers; the worker kernel is capped at 128
        // (2 blocks per SM), and the linker refuses the mismatch instead of producing a kernel that would fail.
        Driver.init();
        int dev = Driver.device(0);
        var uncapped = new CudaCompiler(JitCache.at(options().cacheDir()),
                CudaCompiler.archFor(Driver.computeCapability(dev)), 255);
        var refused = assertThrows(NvJitLinkException.class, () -> new GenerationBuilder(uncapped).build(
                new java.util.TreeMap<>(java.util.Map.of(0, java.util.Map.entry("heavy_f32", op("heavy_f32"))))));
        var wanted = java.util.regex.Pattern.compile("with regcount of (\\d+)").matcher(refused.getMessage());
        assertTrue(wanted.find(), refused.getMessage());
        int uncappedRegisters = Integer.parseInt(wanted.group(1));
        System.out.println("heavy_f32 uncapped wants " + uncappedRegisters + " registers; link refused: "
                + refused.getMessage().lines().filter(l -> l.contains("regcount")).findFirst().orElse(""));
        assertTrue(uncappedRegisters > 200, "heavy operator should want > 200 registers, wants " + uncappedRegisters);
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef heavy = os.register("heavy_f32", op("heavy_f32"));
            int n = 50_000;
            float[] input = new float[n];
            var rnd = new SplittableRandom(7);
            for (int i = 0; i < n; i++) {
                input[i] = (float) rnd.nextDouble(-1, 1);
            }
            DeviceBlock a = os.allocate(n * 4L);
            DeviceBlock o = os.allocate(n * 4L);
            os.upload(a, 0, MemorySegment.ofArray(input));
            TaskBatch batch = os.newBatch();
            batch.add(heavy, (n + 255) / 256, 256)
                    .refContiguous(0, o, 0, DTypeCode.F32, n)
                    .refContiguous(1, a, 0, DTypeCode.F32, n);
            os.run(batch);
            float[] got = new float[n];
            os.download(MemorySegment.ofArray(got), o, 0);
            for (int i = 0; i < n; i++) {
                float[] v = new float[192];
                for (int k = 0; k < 192; k++) {
                    v[k] = input[(int) ((i + 7L * k) % n)];
                }
                for (int r = 0; r < 6; r++) {
                    for (int k = 0; k < 192; k++) {
                        v[k] = Math.fma(v[k], 0.25f, 0.5f * v[(k + 1) % 192]);
                    }
                }
                float s = 0;
                for (int k = 0; k < 192; k++) {
                    s += v[k];
                }
                if (Float.floatToIntBits(s) != Float.floatToIntBits(got[i])) {
                    fail("element " + i + ": got " + got[i] + ", expected " + s);
                }
            }
            System.out.println("under the cap: " + os.stats().generation());
            assertTrue(os.stats().generation().registers() <= 128,
                    "worker registers " + os.stats().generation().registers() + " exceed the cap");
        }
    }

    /** A compile error surfaces NVRTC's log; the runtime keeps serving the operators it has. */
    @Test
    void compileErrorLeavesTheRuntimeWorking() throws Exception {
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            NvrtcException e = assertThrows(NvrtcException.class, () -> os.register("broken", op("broken")));
            assertTrue(e.getMessage().contains("this_is_not_declared"), e.getMessage());
            assertFillWorks(os, fill);
        }
    }

    /**
     * A task whose operator slot holds nothing fails alone, with the worker's fault record, single-tile and
     * many-tile alike (the fault travels to the agent through the task's done flag and tile counter), and the
     * runtime keeps serving.
     */
    @Test
    void tasksOnAnEmptyOperatorSlotFailAloneAndTheRuntimeKeepsServing() {
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            int empty = 900;
            long timeout = TimeUnit.SECONDS.toNanos(10);
            for (int ntiles : new int[] {1, 37}) {
                TaskBatch batch = new TaskBatch();
                batch.add(empty, ntiles, 1);
                long end = os.queue().submit(batch, dev.gpuos.runtime.SlotResolver.IDENTITY, timeout);
                var f = assertThrows(dev.gpuos.runtime.TaskFaultException.class, () -> os.queue().await(end - 1, end, timeout));
                assertEquals(end - 1, f.seq(), ntiles + " tiles");
                assertEquals(dev.gpuos.runtime.layout.Layouts.FAULT_BAD_OP, f.code(), ntiles + " tiles");
                assertEquals(empty, f.opSlot(), ntiles + " tiles");
                assertFillWorks(os, fill);
            }
        }
    }

    static void assertFillWorks(GpuOS os, OperatorRef fill) {
        int n = 3000;
        DeviceBlock buf = os.allocate(n * 4L);
        TaskBatch batch = os.newBatch();
        batch.add(fill, (n + 1023) / 1024, 1024).argDouble(0, 2.5).argDouble(1, 0.5)
                .refContiguous(0, buf, 0, DTypeCode.F32, n);
        os.run(batch);
        float[] got = new float[n];
        os.download(MemorySegment.ofArray(got), buf, 0);
        for (int i = 0; i < n; i++) {
            assertEquals(Math.fma((float) i, 0.5f, 2.5f), got[i], "element " + i);
        }
        os.release(buf);
    }
}
