package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: an op that fails when it runs (a bad index_select index, found only then on a batching backend)
 * belongs to the tensors computed from it: their reads throw it; a read of an unrelated tensor, flush and sync,
 * on this thread or another, never do.
 */
class ErrorOwnershipTest {

    @Test
    void anUnreadFailureIsNotThrownByAnotherThreadsRead() throws Exception {
        CpuBackend backend = CpuBackend.batched(10_000, Duration.ofHours(1));
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor bad = x.indexSelect(0, s.tensor(new long[]{1, 42}));
            Tensor derived = bad.mul(2.0).sum();
            Tensor good = x.add(1.0);
            CountDownLatch recorded = new CountDownLatch(1);
            Future<float[]> theirs = other.submit(() -> {
                recorded.await();
                try (TensorScope t = TensorScope.open(backend)) {
                    return t.arange(0, 3, 1).to(DType.F32).mul(3.0).toFloatArray();  // runs the failing node too
                }
            });
            recorded.countDown();
            assertArrayEquals(new float[]{0, 3, 6}, theirs.get(1, TimeUnit.MINUTES));
            s.sync();
            s.flush();
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, good.toFloatArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, bad::toFloatArray);
            IndexOutOfBoundsException cause = assertInstanceOf(IndexOutOfBoundsException.class, e.getCause());
            assertTrue(cause.getMessage().contains("42"), cause.getMessage());
            IllegalStateException d = assertThrows(IllegalStateException.class, derived::toFloatArray);
            assertTrue(d.getMessage().contains("42"), d.getMessage());
            // Computed from it later, in another submission: that fails too, and only that.
            Tensor later = bad.add(x.narrow(0, 0, 2));
            assertThrows(IllegalStateException.class, later::toFloatArray);
            assertArrayEquals(new float[]{0, 1}, x.narrow(0, 0, 2).toFloatArray());
        } finally {
            other.shutdown();
        }
    }

    /** Eight threads, each failing some of its ops on purpose and reading the rest: no good read ever throws. */
    @Test
    void manyThreadsFailingAndReadingKeepTheirErrorsApart() throws Exception {
        CpuBackend backend = CpuBackend.batched(64, Duration.ofMillis(1));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    SplittableRandom r = new SplittableRandom(thread);
                    int failures = 0;
                    try (TensorScope s = TensorScope.open(backend)) {
                        Tensor x = s.arange(0, 16, 1).to(DType.F32);
                        for (int i = 0; i < 300; i++) {
                            if (r.nextInt(3) == 0) {
                                Tensor bad = x.indexSelect(0, s.tensor(new long[]{100 + i}));
                                if (r.nextBoolean()) {
                                    assertThrows(IllegalStateException.class, bad.add(1.0)::toFloatArray);
                                    failures++;
                                }
                                continue;
                            }
                            long k = r.nextInt(16);
                            float[] got = x.indexSelect(0, s.tensor(new long[]{k})).mul(2.0).toFloatArray();
                            assertArrayEquals(new float[]{2 * k}, got, "thread " + thread + " op " + i);
                        }
                        s.sync();
                    }
                    return failures;
                }));
            }
            for (Future<Integer> f : results) f.get(2, TimeUnit.MINUTES);
        } finally {
            pool.shutdown();
        }
    }

    /**
     * A buffer computed from a bad index and then overwritten whole holds good data: reading it returns that data.
     * A partial overwrite leaves the rest never computed, so reads keep throwing.
     */
    @Test
    void aWholeOverwriteClearsTheFailureAndAPartialOneDoesNot() {
        CpuBackend backend = CpuBackend.batched(10_000, Duration.ofHours(1));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor whole = x.indexSelect(0, s.tensor(new long[]{1, 42}));
            whole.copyFrom(x.narrow(0, 4, 2));
            Tensor partial = x.indexSelect(0, s.tensor(new long[]{1, 42}));
            partial.narrow(0, 0, 1).copyFrom(x.narrow(0, 7, 1));
            Tensor square = x.reshape(5, 2).indexSelect(0, s.tensor(new long[]{0, 99}));
            square.t().copyFrom(s.tensor(new float[]{1, 2, 3, 4}).reshape(2, 2));  // every element, transposed
            Tensor filled = x.indexSelect(0, s.tensor(new long[]{-20}));
            filled.copyFrom(s.scalar(7.0f));  // a broadcast scalar: PyTorch's fill_
            assertArrayEquals(new float[]{4, 5}, whole.toFloatArray());
            assertArrayEquals(new float[]{4, 5}, whole.add(0.0).toFloatArray());
            assertArrayEquals(new float[]{1, 3, 2, 4}, square.toFloatArray());
            assertArrayEquals(new float[]{7}, filled.toFloatArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, partial::toFloatArray);
            assertTrue(e.getMessage().contains("42"), e.getMessage());
            assertThrows(IllegalStateException.class, partial.narrow(0, 0, 1)::toFloatArray);
        }
    }

    /**
     * A captured program on the batched backend (a run records it again): a bad index in one run belongs to what
     * that run computed; a later good run's results are good, also for a tensor it overwrites in place.
     */
    @Test
    void aBadIndexInACapturedRunBelongsToThatRun() {
        CpuBackend backend = CpuBackend.batched(10_000, Duration.ofHours(1));
        try (TensorScope s = TensorScope.open(backend)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor idx = s.tensor(new long[]{1, 2});
            Tensor out = s.zeros(DType.F32, 2);
            Replay step = backend.capture(() -> out.copyFrom(x.indexSelect(0, idx).mul(2.0)));
            idx.copyFrom(s.tensor(new long[]{1, 42}));
            step.run();
            Tensor fromBadRun = out.sum();
            s.sync();
            assertArrayEquals(new float[]{3}, x.narrow(0, 1, 2).sum().toFloatArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, out::toFloatArray);
            assertTrue(e.getMessage().contains("42"), e.getMessage());
            idx.copyFrom(s.tensor(new long[]{3, 4}));
            step.run();
            assertArrayEquals(new float[]{6, 8}, out.toFloatArray());
            assertThrows(IllegalStateException.class, fromBadRun::toFloatArray);
        }
    }

    @Test
    void eagerBackendThrowsAtTheCallAndNothingElse() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.arange(0, 4, 1);
            Tensor index = s.tensor(new long[]{9});
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, index));
            assertTrue(e.getMessage().contains("9"), e.getMessage());
            s.sync();
            assertArrayEquals(new long[]{0, 1, 2, 3}, x.toLongArray());
        }
    }
}
