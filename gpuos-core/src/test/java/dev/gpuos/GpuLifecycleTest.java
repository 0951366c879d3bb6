package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.gpuos.cuda.NvrtcException;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.WorkerDeadException;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.ArenaStats;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.runtime.memory.DeviceOutOfMemoryException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue #5 items 3, 4 and 7 on a real GPU: killing the worker mid-batch (then starting again in this JVM),
 * running the device out of memory and recovering, no cuMemFree while a worker runs, 1M allocate/release cycles,
 * close() under load, and a JVM exit without close(). Each test bounds its own run time; together about 15-25 s
 * on an H100.
 *
 * <p>A faulting operator (trap, illegal address) is not here: it leaves a sticky CUDA error that no later CUDA
 * call in the process survives, so it runs in a JVM of its own (GpuFaultTest, tag gpu-fault).
 */
@Tag("gpu")
class GpuLifecycleTest {
    private static final Duration THREAD_BOUND = Duration.ofSeconds(60);

    @BeforeEach
    void gpu() {
        assumeGpu();
    }

    // ---- 3. faults: a host-requested kill is not sticky

    /**
     * Killing the worker mid-batch (host abort through the control block): every pending future and waiter
     * fails with a WorkerDeadException naming the cause within 1 s; submissions then fail; close works, and the
     * next GpuOS.start() in this JVM works (no sticky CUDA error, unlike a faulting operator).
     */
    @Test
    void killingTheWorkerMidBatchFailsPendingWorkWithinASecondAndTheNextStartWorks() throws Exception {
        final int chains = 4;
        final int perChain = 200;
        final long spinNanos = TimeUnit.MILLISECONDS.toNanos(5); // a chain takes ~1 s: the kill lands mid-batch
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef spin = os.register("spin_put_i32", op("spin_put_i32"));
            DeviceBlock out = os.allocate(4L * chains * perChain);
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            TaskBatch batch = os.newBatch();
            long[] last = new long[chains];
            java.util.Arrays.fill(last, -1);
            for (int k = 0; k < perChain; k += 10) {
                for (int c = 0; c < chains; c++) {
                    batch.clear();
                    for (int i = k; i < k + 10; i++) {
                        var w = batch.add(spin, 1, 1).arg(0, (long) c * perChain + i).arg(1, spinNanos)
                                .refContiguous(0, out, 0, DTypeCode.I32, (long) chains * perChain);
                        if (i > k) {
                            w.dependsOn(i - k - 1);
                        } else if (last[c] >= 0) {
                            w.dependsOnSeq(last[c]);
                        }
                    }
                    futures.add(os.submitAsync(batch));
                    last[c] = os.queue().submitted() - 1; // single submitting thread: this batch's last seq
                }
            }
            long end = os.queue().submitted();
            var waiter = CompletableFuture.runAsync(() -> os.await(0, end));
            Thread.sleep(200);
            long killedAt = System.nanoTime();
            WorkerDeadException cause = os.abortWorker("test kill");
            assertTrue(cause.getMessage().contains("stopped by the host: test kill"), cause.getMessage());
            int failed = 0;
            for (var f : futures) {
                long left = Math.max(1, TimeUnit.SECONDS.toNanos(1) - (System.nanoTime() - killedAt));
                try {
                    f.get(left, TimeUnit.NANOSECONDS);
                } catch (ExecutionException e) {
                    assertInstanceOf(WorkerDeadException.class, e.getCause());
                    assertTrue(e.getCause().getMessage().contains("stopped by the host"), e.getCause().getMessage());
                    failed++;
                }
            }
            var w = assertThrows(ExecutionException.class, () -> waiter.get(1, TimeUnit.SECONDS));
            assertInstanceOf(WorkerDeadException.class, w.getCause());
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            assertTrue(failed > 0, "every task finished before the kill; the test proves nothing");
            assertTrue(millis < 1500, "failing pending work took " + millis + " ms");
            assertTrue(os.runtime().isIdle(), "a worker kernel still runs after the kill");
            batch.clear().add(spin, 1, 1).arg(0, 0).arg(1, 0).refContiguous(0, out, 0, DTypeCode.I32, 1);
            assertThrows(WorkerDeadException.class, () -> os.submit(batch));
            System.out.println("kill: " + failed + " of " + futures.size() + " futures failed, all within " + millis
                    + " ms");
        }
        try (GpuOS again = GpuOS.start(options())) {
            GpuRuntimeTest.assertFillWorks(again, again.register("fill_f32", op("fill_f32")));
        }
    }

    /** A replace whose source does not compile: NVRTC's log in the exception, the old version keeps serving. */
    @Test
    void compileErrorInAReplaceKeepsTheOldVersionServing() {
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef stamp = os.register("stamp_i32", "#define VERSION 1\n" + op("stamp_i32"));
            var e = assertThrows(NvrtcException.class, () -> os.replace("stamp_i32", op("broken")));
            assertTrue(e.getMessage().contains("this_is_not_declared"), e.getMessage());
            DeviceBlock out = os.allocate(4);
            TaskBatch batch = os.newBatch();
            batch.add(stamp, 1, 1).arg(0, 0).refContiguous(0, out, 0, DTypeCode.I32, 1);
            os.run(batch);
            int[] got = new int[1];
            os.download(MemorySegment.ofArray(got), out, 0);
            assertEquals(1, got[0], "the old version should have run");
        }
    }

    // ---- 4. memory pressure

    /**
     * Allocate 1 GiB blocks until the device is full: a DeviceOutOfMemoryException naming the requested and the
     * free bytes, no crash, tasks keep running on memory already held; after releasing and trimming, allocation,
     * a new operator (a generation swap needs device memory for its module) and tasks all work again.
     */
    @Test
    void allocatingUntilTheDeviceIsFullFailsClearlyAndTheRuntimeKeepsServing() {
        final long chunk = 1L << 30;
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            DeviceBlock keep = os.allocate(4096);
            List<DeviceBlock> held = new ArrayList<>();
            DeviceOutOfMemoryException oom = null;
            for (int i = 0; i < 4096 && oom == null; i++) {
                try {
                    held.add(os.allocate(chunk));
                } catch (DeviceOutOfMemoryException e) {
                    oom = e;
                }
            }
            assertTrue(oom != null, "4 TiB allocated without running out");
            assertEquals(chunk, oom.requestedBytes());
            assertTrue(oom.freeBytes() < chunk, "free " + oom.freeBytes() + " >= requested " + chunk);
            assertTrue(oom.getMessage().contains(Long.toString(chunk))
                    && oom.getMessage().contains(Long.toString(oom.freeBytes())), oom.getMessage());
            System.out.println("full after " + held.size() + " GiB: " + oom.getMessage());

            TaskBatch batch = os.newBatch();
            batch.add(fill, 1, 1024).argDouble(0, 3).argDouble(1, 0).refContiguous(0, keep, 0, DTypeCode.F32, 1024);
            os.run(batch); // the worker keeps serving while the device is full

            for (DeviceBlock b : held) {
                os.release(b);
            }
            DeviceBlock again = os.allocate(chunk); // reuses an idle allocation: no driver call
            os.release(again);
            long returned = os.trimMemory();
            assertTrue(returned >= (long) held.size() * chunk, "trim returned " + returned + " bytes");
            GpuRuntimeTest.assertFillWorks(os, os.register("fill2_f32", op("fill_f32")));
            GpuRuntimeTest.assertFillWorks(os, fill);
        }
    }

    /** Returning memory to the driver while the worker runs would hang: the arena refuses it with a reason. */
    @Test
    void freeingDeviceMemoryWhileTheWorkerRunsIsRefused() {
        try (GpuOS os = GpuOS.start(options())) {
            os.release(os.allocate(1L << 28)); // a dedicated allocation, now idle
            var e = assertThrows(IllegalStateException.class, () -> os.memory().trim());
            assertTrue(e.getMessage().contains("while a worker kernel runs"), e.getMessage());
            assertTrue(os.trimMemory() >= 1L << 28, "trim with the worker parked returned nothing");
        }
    }

    /**
     * 1M allocate/release cycles of random sizes, every 1000th block written by a task before it is released
     * (so it waits for completion before reuse): the arena's statistics return to the steady state.
     */
    @Test
    void millionAllocateReleaseCyclesLeakNothing() {
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            TaskBatch batch = os.newBatch();
            var rnd = new SplittableRandom(42);
            ArenaStats steady = null;
            for (int i = 0; i < 1_000_000; i++) {
                long bytes = 256 + rnd.nextLong(64 * 1024);
                DeviceBlock b = os.allocate(bytes);
                if (i % 1000 == 0) {
                    batch.clear().add(fill, 1, 64).argDouble(0, i).argDouble(1, 1)
                            .refContiguous(0, b, 0, DTypeCode.F32, 64);
                    os.submit(batch);
                }
                os.release(b);
                if (i == 10_000) {
                    os.await(0, os.queue().submitted());
                    os.release(os.allocate(256)); // advances the arena to the completion watermark
                    steady = os.memory().stats();
                }
            }
            os.await(0, os.queue().submitted());
            os.release(os.allocate(256)); // advances the arena to the completion watermark
            ArenaStats end = os.memory().stats();
            System.out.println("arena after 1M cycles: " + end + " (steady state " + steady + ")");
            assertEquals(steady.bytesInUse(), end.bytesInUse());
            assertEquals(steady.blocksInUse(), end.blocksInUse());
            assertEquals(0, end.bytesPendingReuse());
            assertEquals(steady.slabBytes(), end.slabBytes());
            assertEquals(steady.dedicatedBytes(), end.dedicatedBytes());
        }
    }

    // ---- 7. shutdown

    /**
     * close() while 8 threads submit heavy tasks: it returns within the park timeout (10 s) plus slack, every
     * future handed out completes normally (close drains), submits after it fail clearly, no kernel runs
     * afterwards, and a new instance starts.
     */
    @Test
    void closeDuringHeavyLoadDrainsWithinItsBound() throws Exception {
        final int threads = 8;
        final int n = 1 << 14;
        GpuOS os = GpuOS.start(options());
        OperatorRef fill = os.register("fill_f32", op("fill_f32"));
        List<DeviceBlock> blocks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            blocks.add(os.allocate(4L * n));
        }
        List<List<CompletableFuture<Void>>> futures = new ArrayList<>();
        List<String> refusals = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch streaming = new CountDownLatch(threads);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            List<CompletableFuture<Void>> mine = new ArrayList<>();
            futures.add(mine);
            workers.add(Thread.ofPlatform().daemon().name("submit-" + t).start(() -> {
                TaskBatch batch = os.newBatch();
                try {
                    for (int k = 0; k < 200_000; k++) {
                        batch.clear().add(fill, n / 1024, 1024).argDouble(0, k).argDouble(1, 1)
                                .refContiguous(0, blocks.get(id), 0, DTypeCode.F32, n);
                        mine.add(os.submitAsync(batch));
                        if (k == 50) {
                            streaming.countDown();
                        }
                    }
                    failures.add(new AssertionError("thread " + id + " was never refused"));
                } catch (IllegalStateException refused) {
                    refusals.add(refused.getMessage());
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        assertTrue(streaming.await(60, TimeUnit.SECONDS), "threads did not start streaming");
        long t0 = System.nanoTime();
        os.close();
        long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        joinAll(workers);
        if (!failures.isEmpty()) {
            throw new AssertionError("a submitting thread failed", failures.getFirst());
        }
        assertTrue(closeMillis < 12_000, "close took " + closeMillis + " ms");
        assertEquals(threads, refusals.size());
        assertTrue(refusals.getFirst().contains("closed"), refusals.getFirst());
        long total = 0;
        for (var mine : futures) {
            for (var f : mine) {
                f.get(1, TimeUnit.SECONDS); // already complete, and normally: close drained them
            }
            total += mine.size();
        }
        assertTrue(os.runtime().isIdle(), "a worker kernel runs after close");
        var closedUse = assertThrows(IllegalStateException.class, () -> os.allocate(256));
        assertTrue(closedUse.getMessage().contains("closed"), closedUse.getMessage());
        assertThrows(IllegalStateException.class,
                () -> os.download(MemorySegment.ofArray(new int[1]), blocks.get(0), 0));
        assertThrows(IllegalStateException.class, () -> os.abortWorker("after close"));
        os.close(); // idempotent
        System.out.println("close under load: " + closeMillis + " ms, " + total + " futures all completed normally");
        try (GpuOS again = GpuOS.start(options())) {
            GpuRuntimeTest.assertFillWorks(again, again.register("fill_f32", op("fill_f32")));
        }
    }

    /** A JVM that exits with work in flight and no close() does not hang: the shutdown hook drains and stops. */
    @Test
    void jvmExitWithoutCloseDoesNotHang() throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED",
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-cp", System.getProperty("java.class.path"), ExitWithoutClose.class.getName())
                .redirectErrorStream(true).start();
        var output = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("a JVM that exited without GpuOS.close() was still running after 60 s:\n"
                    + output.getNow("(no output)"));
        }
        String text = output.get(5, TimeUnit.SECONDS);
        System.out.println("child JVM: " + text.strip().replace('\n', '|'));
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("returning from main"), text);
        assertTrue(!text.contains("close at JVM exit failed"), text);
    }

    /** The child of {@link #jvmExitWithoutCloseDoesNotHang}: starts, leaves work in flight, returns. */
    public static final class ExitWithoutClose {
        public static void main(String[] args) {
            GpuOS os = GpuOS.start(options());
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            DeviceBlock out = os.allocate(4L << 20);
            TaskBatch batch = os.newBatch();
            for (int k = 0; k < 500; k++) {
                batch.clear().add(fill, 1024, 1024).argDouble(0, k).argDouble(1, 1)
                        .refContiguous(0, out, 0, DTypeCode.F32, 1 << 20);
                os.submitAsync(batch);
            }
            System.out.println("returning from main with " + (os.queue().submitted() - os.queue().completed())
                    + " tasks in flight");
        }
    }

    private static void joinAll(List<Thread> threads) throws InterruptedException {
        long deadline = System.nanoTime() + THREAD_BOUND.toNanos();
        for (Thread t : threads) {
            if (!t.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
                var e = new AssertionError(t.getName() + " still running after " + THREAD_BOUND + "; stuck at:");
                e.setStackTrace(t.getStackTrace());
                throw e;
            }
        }
    }
}
