package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15 for captured programs ({@link GpuReplay}, {@link ReplayFaults}): a bad index_select index in a run
 * belongs to what that run computed from it and to what is computed from those later, never to other tensors,
 * flush or sync, on any thread; a later good run's results are good; a whole overwrite clears the error.
 */
@Tag("gpu")
class GpuReplayFaultsTest extends SharedGpuOS {

    private static GpuBackend backend() {
        return new GpuBackend(os, 1024, Duration.ofSeconds(60));  // only sync points submit
    }

    private static IllegalStateException assertBadIndex(Tensor t, String index, String what) {
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloatArray, what);
        IndexOutOfBoundsException cause = assertInstanceOf(IndexOutOfBoundsException.class, e.getCause(), what);
        assertTrue(cause.getMessage().contains("index " + index + " is out of range"), what + ": " + cause.getMessage());
        return e;
    }

    @Test
    void aBadIndexInARunBelongsToWhatThatRunComputed() throws Exception {
        GpuBackend b = backend();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor idx = s.tensor(new long[]{1, 2});
            Tensor unrelated = s.arange(0, 3, 1).to(DType.F32).add(1.0);
            b.sync();
            GpuReplay step = b.captureReturning(() -> List.of(x.indexSelect(0, idx).mul(2.0), x.add(1.0)));
            Tensor y = step.outputs().get(0), z = step.outputs().get(1);
            idx.copyFrom(s.tensor(new long[]{1, 42}));
            step.run();
            // Nothing else throws it: sync, flush, another thread's read, this thread's other tensors.
            b.sync();
            b.flush();
            Future<float[]> theirs = other.submit(() -> {
                try (TensorScope t = TensorScope.open(b)) {
                    return t.arange(0, 4, 1).to(DType.F32).mul(3.0).toFloatArray();
                }
            });
            assertArrayEquals(new float[]{0, 3, 6, 9}, theirs.get(1, TimeUnit.MINUTES));
            assertArrayEquals(new float[]{1, 2, 3}, unrelated.toFloatArray());
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, z.toFloatArray());
            b.sync();
            Tensor fromBadRun = y.sum();
            IllegalStateException e = assertBadIndex(y, "42", "the failing run's output");
            assertTrue(e.getCause().getMessage().contains("size 10"), e.getCause().getMessage());
            assertBadIndex(fromBadRun, "42", "computed from the failing run's output");
            // A later good run computes good outputs; what the failing run computed keeps its error.
            idx.copyFrom(s.tensor(new long[]{3, 4}));
            step.run();
            assertArrayEquals(new float[]{6, 8}, y.toFloatArray());
            Tensor fromGoodRun = y.sum();
            idx.copyFrom(s.tensor(new long[]{-5, 0}));
            step.run();                        // submits fromGoodRun first (a run syncs)
            Tensor fromThirdRun = y.add(0.0);  // submitted by the next run's sync: reads the third run's y
            idx.copyFrom(s.tensor(new long[]{0, 0}));
            step.run();
            assertArrayEquals(new float[]{0, 0}, y.toFloatArray());
            assertArrayEquals(new float[]{14}, fromGoodRun.toFloatArray());
            assertBadIndex(fromBadRun, "42", "after later runs");
            assertBadIndex(fromThirdRun, "-5", "the third run's");
            step.close();
            assertBadIndex(fromThirdRun, "-5", "after the replay was closed");
            assertArrayEquals(new float[]{1, 2, 3}, unrelated.toFloatArray());
        } finally {
            other.shutdown();
        }
    }

    /** In-place writes: a recurrent state keeps a failed run's error; whole overwrites clear it, partial ones not. */
    @Test
    void inPlaceStatesCarryTheErrorsOfTheRunsTheyDescendFrom() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor idx = s.tensor(new long[]{1});
            Tensor h = s.zeros(DType.F32, 1), last = s.zeros(DType.F32, 1), half = s.zeros(DType.F32, 2);
            b.sync();
            GpuReplay step = b.capture(() -> {
                Tensor picked = x.indexSelect(0, idx);
                h.copyFrom(h.add(picked));                // descends from every run
                last.copyFrom(picked);                    // from the latest run only
                half.narrow(0, 0, 1).copyFrom(picked);    // part of its buffer
            });
            step.run();
            assertArrayEquals(new float[]{1}, h.toFloatArray());
            assertArrayEquals(new float[]{1, 0}, half.toFloatArray());
            idx.copyFrom(s.tensor(new long[]{77}));
            step.run();
            assertBadIndex(last, "77", "latest run failed");
            assertBadIndex(half, "77", "partly written by the failed run");
            half.narrow(0, 1, 1).copyFrom(s.scalar(3.0));
            assertBadIndex(half, "77", "after a partial overwrite");
            half.copyFrom(s.tensor(new float[]{8, 9}));
            assertArrayEquals(new float[]{8, 9}, half.toFloatArray());
            idx.copyFrom(s.tensor(new long[]{2}));
            step.run();
            assertArrayEquals(new float[]{2}, last.toFloatArray());
            assertBadIndex(h, "77", "a recurrent state after a later good run");
            h.copyFrom(s.scalar(5.0));
            assertArrayEquals(new float[]{5}, h.toFloatArray());
            step.run();
            assertArrayEquals(new float[]{7}, h.toFloatArray());
            assertArrayEquals(new float[]{2}, last.toFloatArray());
        }
    }

    /** Streamed ops: a whole overwrite of a buffer computed from a bad index gives a good tensor; a partial one not. */
    @Test
    void aWholeOverwriteClearsAStreamedFault() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor whole = x.indexSelect(0, s.tensor(new long[]{1, 42}));
            Tensor partial = x.indexSelect(0, s.tensor(new long[]{1, 43}));
            Tensor square = x.reshape(5, 2).indexSelect(0, s.tensor(new long[]{0, 99}));
            b.sync();
            whole.copyFrom(x.narrow(0, 4, 2));
            partial.narrow(0, 0, 1).copyFrom(x.narrow(0, 7, 1));
            square.t().copyFrom(s.tensor(new float[]{1, 2, 3, 4}).reshape(2, 2));  // every element, transposed
            assertArrayEquals(new float[]{4, 5}, whole.toFloatArray());
            assertArrayEquals(new float[]{1, 3, 2, 4}, square.toFloatArray());
            assertBadIndex(partial, "43", "partly overwritten");
        }
    }

    /** A captured program reading a tensor computed from a bad streamed index passes the error on to its outputs. */
    @Test
    void aReplayInheritsTheFaultsOfWhatItReads() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor bad = x.indexSelect(0, s.tensor(new long[]{50}));
            Tensor good = x.indexSelect(0, s.tensor(new long[]{6}));
            b.sync();
            GpuReplay step = b.captureReturning(() -> List.of(bad.add(1.0), good.add(1.0)));
            step.run();
            assertBadIndex(step.outputs().get(0), "50", "computed by a replay from a failed streamed op");
            assertArrayEquals(new float[]{7}, step.outputs().get(1).toFloatArray());
            bad.copyFrom(s.scalar(1.0));
            step.run();
            assertArrayEquals(new float[]{2}, step.outputs().get(0).toFloatArray());
        }
    }

    /**
     * More failing runs than the device log holds between two looks: the latest run's and already-read failures
     * stay exact; a tensor from a run whose entry was overwritten unread says it cannot tell (never a value).
     */
    @Test
    void failuresLostFromTheLogAreReportedAsUnknownNotAsGood() {
        GpuBackend b = backend();
        try (TensorScope s = TensorScope.open(b)) {
            Tensor x = s.arange(0, 10, 1).to(DType.F32);
            Tensor idx = s.tensor(new long[]{42});
            b.sync();
            GpuReplay step = b.captureReturning(() -> List.of(x.indexSelect(0, idx).add(1.0)));
            Tensor y = step.outputs().getFirst();
            step.run();
            Tensor fromFirst = y.sum();
            assertBadIndex(y, "42", "first run");             // read: the log is drained here
            idx.copyFrom(s.tensor(new long[]{44}));
            step.run();
            Tensor fromSecond = y.sum();
            idx.copyFrom(s.tensor(new long[]{45}));
            for (int i = 0; i < ReplayFaults.LOG_ENTRIES + 40; i++) step.run();
            assertBadIndex(y, "45", "the latest run");
            assertBadIndex(fromFirst, "42", "read before the log wrapped");
            IllegalStateException lost = assertThrows(IllegalStateException.class, fromSecond::toFloatArray);
            assertTrue(lost.getMessage().contains("cannot tell"), lost.getMessage());
            idx.copyFrom(s.tensor(new long[]{9}));
            step.run();
            assertArrayEquals(new float[]{10}, y.toFloatArray());
        }
    }
}
