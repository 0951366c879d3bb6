package dev.gpuos;

import static dev.gpuos.GpuTestSupport.assumeGpu;
import static dev.gpuos.GpuTestSupport.op;
import static dev.gpuos.GpuTestSupport.options;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.QueueTimeoutException;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.memory.DeviceBlock;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue #5 items 2, 5 and 6 on a real GPU, under load: 1M tasks from 16 threads, a producer faster than the GPU
 * on a tiny ring, and 100 operator replaces while 8 threads stream. Each test bounds its own run time (joins and
 * gets with timeouts); together about 30-60 s on an H100, most of it the 100 replaces (one NVRTC compile and
 * link each). The lifecycle half (kill, memory, shutdown) is GpuLifecycleTest.
 */
@Tag("gpu")
class GpuStressTest {
    private static final Duration THREAD_BOUND = Duration.ofSeconds(60);

    @BeforeEach
    void gpu() {
        assumeGpu();
    }

    // ---- 2. concurrency

    /**
     * 16 threads x 62,500 tasks (1M): 8 threads write disjoint parts of one shared block, 8 their own blocks;
     * every 8th batch is submitted and awaited synchronously, the rest through futures. Every element checked.
     */
    @Test
    void sixteenThreadsMillionTasksEveryResultVerified() throws Exception {
        final int threads = 16;
        final int perThread = 62_500;
        final int batchSize = 250;
        final int numel = 4;
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef fill = os.register("fill_f32", op("fill_f32"));
            DeviceBlock shared = os.allocate(4L * numel * perThread * (threads / 2));
            List<DeviceBlock> blocks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                blocks.add(t < threads / 2 ? shared : os.allocate(4L * numel * perThread));
            }
            List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
            List<Thread> workers = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers.add(Thread.ofPlatform().daemon().name("submit-" + t).start(() -> {
                    try {
                        DeviceBlock out = blocks.get(id);
                        long base = id < threads / 2 ? (long) numel * perThread * id : 0;
                        TaskBatch batch = os.newBatch();
                        List<CompletableFuture<Void>> futures = new ArrayList<>();
                        for (int k = 0; k < perThread; k += batchSize) {
                            batch.clear();
                            for (int i = k; i < k + batchSize; i++) {
                                batch.add(fill, 1, numel).argDouble(0, id * perThread + i).argDouble(1, 0.25)
                                        .refContiguous(0, out, 4 * (base + (long) numel * i), DTypeCode.F32, numel);
                            }
                            if ((k / batchSize) % 8 == 0) {
                                os.run(batch);
                            } else {
                                futures.add(os.submitAsync(batch));
                            }
                        }
                        for (var f : futures) {
                            f.get(60, TimeUnit.SECONDS);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            joinAll(workers);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            if (!failures.isEmpty()) {
                throw new AssertionError(failures.size() + " submitting threads failed", failures.getFirst());
            }
            int mismatches = 0;
            String first = null;
            for (int t = 0; t < threads; t++) {
                long base = t < threads / 2 ? (long) numel * perThread * t : 0;
                float[] got = new float[numel * perThread];
                os.download(MemorySegment.ofArray(got), blocks.get(t), 4 * base);
                for (int i = 0; i < perThread; i++) {
                    for (int j = 0; j < numel; j++) {
                        float want = Math.fma((float) j, 0.25f, (float) (t * perThread + i));
                        if (Float.floatToIntBits(got[i * numel + j]) != Float.floatToIntBits(want)) {
                            mismatches++;
                            if (first == null) {
                                first = "thread " + t + " task " + i + " element " + j + ": " + got[i * numel + j]
                                        + " != " + want;
                            }
                        }
                    }
                }
            }
            assertEquals(0, mismatches, "first: " + first);
            assertEquals(0, os.queue().pendingFutures());
            System.out.println("16 threads, 1M tasks verified in " + millis + " ms");
        }
    }

    // ---- 5. backpressure

    /**
     * A 64-task ring and a chain of 20 us tasks: the producer outruns the GPU, so submit blocks; tasks in flight
     * never exceed the ring, every output is right (nothing overwritten), and the completion rate per 50 ms
     * window is printed (no timing assertion). Then, with tasks of 10 ms, a submit that finds no room within
     * its 200 ms timeout fails with QueueTimeoutException naming what was submitted; exactly that ran.
     */
    @Test
    void fasterProducerBlocksOnAFullRingAndNothingIsOverwritten() throws Exception {
        var tiny = new DeviceRuntime.Config(0, 64, 4096, 16 * 1024, 1024, 32, 0, TimeUnit.SECONDS.toNanos(10));
        GpuOSOptions opts = options().withRuntime(tiny).withTimeouts(TimeUnit.MILLISECONDS.toNanos(200),
                TimeUnit.SECONDS.toNanos(60));
        final int tasks = 20_000;
        try (GpuOS os = GpuOS.start(opts)) {
            OperatorRef spin = os.register("spin_put_i32", op("spin_put_i32"));
            DeviceBlock out = os.allocate(4L * tasks);
            AtomicBoolean producing = new AtomicBoolean(true);
            AtomicLong maxInFlight = new AtomicLong();
            List<Long> perWindow = Collections.synchronizedList(new ArrayList<>());
            Thread monitor = Thread.ofPlatform().daemon().name("monitor").start(() -> {
                long lastCompleted = os.queue().completed();
                long windowStart = System.nanoTime();
                while (producing.get()) {
                    long inFlight = os.queue().submitted() - os.queue().completed();
                    maxInFlight.accumulateAndGet(inFlight, Math::max);
                    if (System.nanoTime() - windowStart > TimeUnit.MILLISECONDS.toNanos(50)) {
                        long c = os.queue().completed();
                        perWindow.add(c - lastCompleted);
                        lastCompleted = c;
                        windowStart = System.nanoTime();
                    }
                    Thread.onSpinWait();
                }
            });
            TaskBatch batch = os.newBatch();
            long lastSeq = -1;
            long blockedNanos = 0;
            long t0 = System.nanoTime();
            for (int k = 0; k < tasks; k += 8) {
                batch.clear();
                for (int i = k; i < k + 8; i++) {
                    var w = batch.add(spin, 1, 1).arg(0, i).arg(1, 20_000)
                            .refContiguous(0, out, 0, DTypeCode.I32, tasks);
                    if (i > k) {
                        w.dependsOn(i - k - 1);
                    } else if (lastSeq >= 0) {
                        w.dependsOnSeq(lastSeq);
                    }
                }
                long s = System.nanoTime();
                lastSeq = os.submit(batch) - 1;
                blockedNanos += System.nanoTime() - s;
            }
            os.await(0, lastSeq + 1);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            producing.set(false);
            monitor.join(THREAD_BOUND);
            System.out.println("backpressure: " + tasks + " chained tasks in " + millis + " ms, producer blocked "
                    + TimeUnit.NANOSECONDS.toMillis(blockedNanos) + " ms, max in flight " + maxInFlight.get()
                    + " (ring 64); completed per 50 ms window: " + perWindow);
            assertTrue(maxInFlight.get() <= 64, "in flight " + maxInFlight.get() + " exceeds the 64-task ring");
            assertTrue(maxInFlight.get() >= 48, "the ring never filled (max in flight " + maxInFlight.get()
                    + "); the producer was not faster than the GPU");
            int[] got = new int[tasks];
            os.download(MemorySegment.ofArray(got), out, 0);
            for (int i = 0; i < tasks; i++) {
                assertEquals(i + 1, got[i], "task " + i);
            }

            // Timeout: a 100-task batch of 10 ms tasks cannot fit in 200 ms.
            DeviceBlock out2 = os.allocate(4L * 100);
            batch.clear();
            for (int i = 0; i < 100; i++) {
                var w = batch.add(spin, 1, 1).arg(0, i).arg(1, TimeUnit.MILLISECONDS.toNanos(10))
                        .refContiguous(0, out2, 0, DTypeCode.I32, 100);
                if (i > 0) {
                    w.dependsOn(i - 1);
                }
            }
            long first = os.queue().submitted();
            var e = assertThrows(QueueTimeoutException.class, () -> os.submit(batch));
            Matcher m = Pattern.compile("tasks \\[(\\d+), (\\d+)\\) of this batch were submitted")
                    .matcher(e.getMessage());
            assertTrue(m.find(), e.getMessage());
            assertEquals(first, Long.parseLong(m.group(1)));
            long submittedEnd = Long.parseLong(m.group(2));
            assertEquals(submittedEnd, os.queue().submitted());
            os.await(first, submittedEnd);
            int[] got2 = new int[100];
            os.download(MemorySegment.ofArray(got2), out2, 0);
            for (int i = 0; i < 100; i++) {
                assertEquals(i < submittedEnd - first ? i + 1 : 0, got2[i], "task " + i + " of the timed-out batch");
            }
            GpuRuntimeTest.assertFillWorks(os, os.register("fill_f32", op("fill_f32")));
        }
    }

    // ---- 6. hot swap under load

    /**
     * 100 replaces of an operator while 8 threads stream tasks that use it. Each task stamps the version that
     * ran. Over the global submission order (seqs) versions never go backwards, none is missing (a 0 means a
     * lost task), and a task submitted after replace(v) returned ran v or later.
     */
    @Test
    void hundredReplacesWhileEightThreadsStream() throws Exception {
        final int threads = 8;
        final int replaces = 100;
        final int batchSize = 100;
        final int cap = 1 << 20; // tasks per thread at most
        final int quota = cap / (replaces + 2); // tasks per thread per replace interval, so no thread runs dry
        try (GpuOS os = GpuOS.start(options())) {
            OperatorRef stamp = os.register("stamp_i32", "#define VERSION 1\n" + op("stamp_i32"));
            DeviceBlock out = os.allocate(4L * threads * cap);
            AtomicInteger liveVersion = new AtomicInteger(1);
            AtomicBoolean done = new AtomicBoolean();
            java.util.concurrent.atomic.AtomicInteger atLastVersion = new java.util.concurrent.atomic.AtomicInteger();
            CountDownLatch streaming = new CountDownLatch(threads);
            long[][] batchSeq = new long[threads][cap / batchSize];
            int[][] batchMin = new int[threads][cap / batchSize];
            int[] batches = new int[threads];
            List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers.add(Thread.ofPlatform().daemon().name("stream-" + t).start(() -> {
                    try {
                        TaskBatch batch = os.newBatch();
                        java.util.ArrayDeque<long[]> inFlight = new java.util.ArrayDeque<>();
                        int b = 0;
                        while (!done.get() && (b + 1) * batchSize <= cap) {
                            int version = liveVersion.get(); // before submitting: a lower bound for this batch
                            if ((long) b * batchSize >= (long) (version + 1) * quota) {
                                Thread.sleep(1); // ahead of the replaces: wait, so the thread streams to the end
                                continue;
                            }
                            batch.clear();
                            for (int k = 0; k < batchSize; k++) {
                                batch.add(stamp, 1, 1).arg(0, (long) id * cap + (long) b * batchSize + k)
                                        .refContiguous(0, out, 0, DTypeCode.I32, (long) threads * cap);
                            }
                            long end = os.submit(batch);
                            batchSeq[id][b] = end - batchSize;
                            batchMin[id][b] = version;
                            if (version == replaces + 1) {
                                atLastVersion.incrementAndGet();
                            }
                            inFlight.add(new long[] {end - batchSize, end});
                            b++;
                            if (b == 10) {
                                streaming.countDown();
                            }
                            Thread.sleep(1); // ~100k tasks/s per thread: a quota lasts through a replace
                            if (inFlight.size() > 16) {
                                long[] r = inFlight.poll();
                                os.await(r[0], r[1]);
                            }
                        }
                        for (long[] r : inFlight) {
                            os.await(r[0], r[1]);
                        }
                        batches[id] = b;
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            assertTrue(streaming.await(60, TimeUnit.SECONDS), "threads did not start streaming");
            long t0 = System.nanoTime();
            for (int v = 2; v <= replaces + 1; v++) {
                os.replace("stamp_i32", "#define VERSION " + v + "\n" + op("stamp_i32"));
                liveVersion.set(v);
            }
            long swapMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            // Stop only once every thread has streamed under the last version (or ran out of room).
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (atLastVersion.get() < threads && System.nanoTime() < until) {
                Thread.sleep(1);
            }
            done.set(true);
            joinAll(workers);
            if (!failures.isEmpty()) {
                throw new AssertionError("a streaming thread failed", failures.getFirst());
            }
            long totalSeqs = os.queue().submitted();
            int[] stampBySeq = new int[(int) totalSeqs];
            int[] minBySeq = new int[(int) totalSeqs];
            int[] got = new int[threads * cap];
            os.download(MemorySegment.ofArray(got), out, 0);
            long tasks = 0;
            for (int t = 0; t < threads; t++) {
                for (int b = 0; b < batches[t]; b++) {
                    for (int k = 0; k < batchSize; k++) {
                        int seq = (int) (batchSeq[t][b] + k);
                        stampBySeq[seq] = got[t * cap + b * batchSize + k];
                        minBySeq[seq] = batchMin[t][b];
                    }
                }
                tasks += (long) batches[t] * batchSize;
            }
            assertEquals(totalSeqs, tasks, "every seq belongs to a streamed task");
            int last = 1;
            int[] seen = new int[replaces + 2];
            for (int seq = 0; seq < totalSeqs; seq++) {
                int v = stampBySeq[seq];
                if (v < 1 || v > replaces + 1) {
                    fail("seq " + seq + ": stamp " + v + " (lost or torn)");
                }
                if (v < last) {
                    fail("seq " + seq + " ran version " + v + " after an earlier seq ran " + last);
                }
                if (v < minBySeq[seq]) {
                    fail("seq " + seq + " was submitted after version " + minBySeq[seq] + " was live but ran " + v);
                }
                last = v;
                seen[v]++;
            }
            int versionsSeen = 0;
            for (int v = 1; v <= replaces + 1; v++) {
                versionsSeen += seen[v] > 0 ? 1 : 0;
            }
            System.out.println("hot swap: " + replaces + " replaces in " + swapMillis + " ms while " + tasks
                    + " tasks streamed; " + versionsSeen + " of " + (replaces + 1) + " versions ran tasks");
            assertEquals(replaces + 1, last, "the last tasks did not run the last version");
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
