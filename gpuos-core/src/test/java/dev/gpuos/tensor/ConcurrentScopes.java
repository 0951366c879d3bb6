package dev.gpuos.tensor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Many threads recording tensor ops on ONE backend at once, for any backend (GpuConcurrencyTest runs it on
 * the GPU, ConcurrentScopesTest on the batched CPU backend). Every result is checked against values computed in
 * Java: inputs are small integers in f32, so every sum and max is exact on any correct backend.
 *
 * <p>{@link #recordAndVerify}: each thread records items (an elementwise chain, a row sum, a column max of its
 * absolute values, a full sum) into its own work scope (closed and reopened at random) or, with no scope open,
 * into the shared scope that owns its inputs, and syncs at random points (a backend sync, or a read of one
 * result), checking every result recorded since.
 *
 * <p>{@link #closeWhileOthersRecord}: half the threads open scopes, record into them and close them, synced or
 * not, while the other half keep recording and verifying; a tensor of a closed scope, used later (by its
 * closer or by a thread that learned of the close), must throw {@link TensorClosedException}.
 */
public final class ConcurrentScopes {
    static final int ROWS = 8, COLS = 16;

    private final Backend backend;
    private final int threads;

    public ConcurrentScopes(Backend backend, int threads) {
        this.backend = backend;
        this.threads = threads;
    }

    /** Counts of phase one. */
    public record Counts(long items, long syncs, long sharedItems, long scopesClosed) {}

    /** One recorded item and what it must read back as. */
    private record Pending(Tensor rowSums, float[] rowSumsExpected, Tensor colMaxAbs, float[] colMaxAbsExpected,
                           Tensor total, float totalExpected) {}

    /** The inputs of one thread: values in [-4, 4], owned by the shared scope. */
    private record Input(Tensor tensor, float[] values) {}

    /**
     * Phase one: every thread records items until {@code done} says enough (checked every 64 items) or
     * {@code bound} passes; every result is verified. Throws the first failure of any thread; fails if a thread
     * does not finish within {@code bound} plus 30 s (a deadlock or a lost task).
     */
    public Counts recordAndVerify(long seed, BooleanSupplier done, Duration bound) throws Exception {
        AtomicLong items = new AtomicLong(), syncs = new AtomicLong(), shared = new AtomicLong(),
                closed = new AtomicLong();
        long deadline = System.nanoTime() + bound.toNanos();
        try (TensorScope sharedScope = TensorScope.open(backend)) {
            runThreads(bound, t -> {
                SplittableRandom rnd = new SplittableRandom(seed * 1_000_003 + t);
                List<Input> inputs = new ArrayList<>();
                for (int i = 0; i < 4; i++) inputs.add(input(sharedScope, rnd));
                int sharedLeft = 64;  // shared-scope results live until the end: bound their memory
                List<Pending> pending = new ArrayList<>();
                TensorScope work = TensorScope.open(backend);
                try {
                    for (long n = 0; ; n++) {
                        if (n % 64 == 0 && (done.getAsBoolean() || System.nanoTime() > deadline)) break;
                        Input in = inputs.get(rnd.nextInt(inputs.size()));
                        boolean intoShared = work == null;
                        pending.add(item(in, rnd));
                        items.incrementAndGet();
                        if (intoShared) shared.incrementAndGet();
                        if (rnd.nextInt(16) == 0 || pending.size() >= 64) {
                            if (rnd.nextBoolean()) backend.sync();
                            verify(pending, rnd);
                            pending.clear();
                            syncs.incrementAndGet();
                            // Between syncs, switch where results go: a fresh work scope, or the shared one.
                            int r = rnd.nextInt(8);
                            if (r < 3 || (r == 3 && sharedLeft > 0)) {
                                if (work != null) {
                                    work.close();
                                    closed.incrementAndGet();
                                }
                                work = r < 3 ? TensorScope.open(backend) : null;
                                if (work == null) sharedLeft--;
                            } else if (work == null) {
                                work = TensorScope.open(backend);
                            }
                        }
                    }
                    verify(pending, rnd);
                } finally {
                    if (work != null) work.close();
                }
            });
        }
        return new Counts(items.get(), syncs.get(), shared.get(), closed.get());
    }

    /**
     * Phase two: even threads cycle through scopes they close (with pending work half of the time) while odd
     * threads record and verify in scopes of their own and the shared one; tensors of closed scopes are
     * checked to throw, by their closer and by the recording threads.
     *
     * @return how many uses of closed tensors threw as they should
     */
    public long closeWhileOthersRecord(long seed, int cycles, Duration bound) throws Exception {
        ConcurrentLinkedQueue<Tensor> closedTensors = new ConcurrentLinkedQueue<>();
        AtomicLong refused = new AtomicLong();
        AtomicBoolean closersDone = new AtomicBoolean();
        CountDownLatch closers = new CountDownLatch((threads + 1) / 2);
        try (TensorScope sharedScope = TensorScope.open(backend)) {
            runThreads(bound, t -> {
                SplittableRandom rnd = new SplittableRandom(seed * 7_000_003 + t);
                if (t % 2 == 0) {
                    try {
                        for (int c = 0; c < cycles; c++) {
                            TensorScope scope = TensorScope.open(backend);
                            Input in = input(scope, rnd);
                            List<Pending> pending = new ArrayList<>();
                            int k = 1 + rnd.nextInt(8);
                            for (int i = 0; i < k; i++) pending.add(item(in, rnd));
                            boolean synced = rnd.nextBoolean();
                            if (synced) verify(pending, rnd);
                            scope.close();  // unsynced: the recorded work is still pending or running
                            refused.addAndGet(expectClosed(in.tensor()) + expectClosed(pending.getFirst().rowSums()));
                            closedTensors.add(in.tensor());
                            closedTensors.add(pending.getLast().total());
                        }
                    } finally {
                        closers.countDown();
                        if (closers.getCount() == 0) closersDone.set(true);
                    }
                } else {
                    Input mine = input(sharedScope, rnd);
                    while (!closersDone.get()) {
                        boolean intoShared = rnd.nextInt(8) == 0;
                        TensorScope work = intoShared ? null : TensorScope.open(backend);
                        try {
                            List<Pending> pending = new ArrayList<>();
                            int k = 1 + rnd.nextInt(16);
                            for (int i = 0; i < k; i++) pending.add(item(mine, rnd));
                            Tensor dead = closedTensors.peek();
                            if (dead != null) {
                                refused.addAndGet(expectClosed(dead));
                                try {
                                    mine.tensor().add(dead);
                                    fail("an op with a tensor of a closed scope as its operand was accepted");
                                } catch (TensorClosedException expected) {
                                    assertClearMessage(expected);
                                    refused.incrementAndGet();
                                }
                            }
                            verify(pending, rnd);
                        } finally {
                            if (work != null) work.close();
                        }
                    }
                }
            });
        }
        return refused.get();
    }

    /** Uses {@code t} (an op, a view and a read); each must throw TensorClosedException. Returns 3. */
    private static long expectClosed(Tensor t) {
        assertTrue(t.isClosed(), "a tensor of a closed scope reports itself open");
        List<Runnable> uses = List.of(() -> t.add(1.0), () -> t.transpose(0, t.shape().length - 1),
                () -> t.toFloatArray());
        for (Runnable use : uses) {
            try {
                use.run();
                fail("a tensor of a closed scope was usable");
            } catch (TensorClosedException e) {
                assertClearMessage(e);
            }
        }
        return uses.size();
    }

    private static void assertClearMessage(RuntimeException e) {
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains("closed"), "unclear message: " + e.getMessage());
    }

    private static Input input(TensorScope scope, SplittableRandom rnd) {
        float[] v = new float[ROWS * COLS];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextInt(9) - 4;
        return new Input(scope.tensor(v, ROWS, COLS), v);
    }

    /** Records y = relu?(x * c + d); its row sums, the column max of |y| and the full sum. */
    private static Pending item(Input in, SplittableRandom rnd) {
        float c = rnd.nextInt(5) - 2, d = rnd.nextInt(7) - 3;
        boolean relu = rnd.nextBoolean();
        Tensor y = in.tensor().mul((double) c).add((double) d);
        if (relu) y = y.relu();
        float[] yv = new float[ROWS * COLS];
        for (int i = 0; i < yv.length; i++) {
            float e = in.values()[i] * c + d;
            yv[i] = relu ? Math.max(e, 0f) : e;
        }
        float[] rows = new float[ROWS], cols = new float[COLS];
        float total = 0;
        for (int r = 0; r < ROWS; r++) {
            for (int k = 0; k < COLS; k++) {
                float e = yv[r * COLS + k];
                rows[r] += e;
                cols[k] = Math.max(cols[k], Math.abs(e));
                total += e;
            }
        }
        return new Pending(y.sum(new int[]{1}, false), rows, y.abs().max(new int[]{0}, false), cols, y.sum(), total);
    }

    /**
     * Checks every pending result: usually with one read of all of them concatenated (one download per sync
     * point, and the cat's copy tasks are checked too), sometimes one read per tensor.
     */
    private static void verify(List<Pending> pending, SplittableRandom rnd) {
        if (pending.isEmpty()) return;
        if (rnd.nextInt(4) == 0) {
            for (Pending p : pending) {
                assertArrayEquals(p.rowSumsExpected(), p.rowSums().toFloatArray(), "row sums");
                assertArrayEquals(p.colMaxAbsExpected(), p.colMaxAbs().toFloatArray(), "column max of |y|");
                assertArrayEquals(new float[]{p.totalExpected()}, p.total().toFloatArray(), "total");
            }
            return;
        }
        List<Tensor> parts = new ArrayList<>();
        float[] expected = new float[pending.size() * (ROWS + COLS + 1)];
        int at = 0;
        for (Pending p : pending) {
            parts.add(p.rowSums());
            parts.add(p.colMaxAbs());
            parts.add(p.total().reshape(1));
            System.arraycopy(p.rowSumsExpected(), 0, expected, at, ROWS);
            System.arraycopy(p.colMaxAbsExpected(), 0, expected, at + ROWS, COLS);
            expected[at + ROWS + COLS] = p.totalExpected();
            at += ROWS + COLS + 1;
        }
        assertArrayEquals(expected, Tensor.cat(0, parts).toFloatArray(), "row sums, column max of |y| and total of "
                + pending.size() + " items");
    }

    private static void assertArrayEquals(float[] expected, float[] actual, String what) {
        if (!Arrays.equals(expected, actual)) {
            fail(what + ": expected " + Arrays.toString(expected) + ", got " + Arrays.toString(actual));
        }
    }

    private interface ThreadBody {
        void run(int thread) throws Exception;
    }

    /**
     * Runs {@code body} on every thread; rethrows the first failure. A thread still running {@code bound} plus
     * 30 s later fails the test with every thread's stack (a deadlock, or a task that never completes).
     */
    private void runThreads(Duration bound, ThreadBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread th = new Thread(r, "concurrent-scopes");
            th.setDaemon(true);
            return th;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    body.run(id);
                    return null;
                }));
            }
            long deadline = System.nanoTime() + bound.toNanos() + TimeUnit.SECONDS.toNanos(30);
            for (Future<?> f : futures) {
                try {
                    f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Exception ex) throw ex;
                    if (e.getCause() instanceof Error err) throw err;
                    throw e;
                } catch (TimeoutException e) {
                    StringBuilder dump = new StringBuilder();
                    Thread.getAllStackTraces().forEach((th, st) -> {
                        dump.append(th.getName()).append('\n');
                        for (StackTraceElement el : st) dump.append("    at ").append(el).append('\n');
                    });
                    fail("a recording thread did not finish (deadlock or lost task?):\n" + dump);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
