package dev.gpuos.tensor;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedWorker;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Session 19's adversarial audit (robust-1): misuse the misuse table did not try, on the eager and batched CPU
 * backends and, for what is refused at the call, on the GPU backend's host path over the simulated device; then
 * threads sharing one backend while one of them misbehaves, and a thread interrupted while it waits.
 */
class AdversarialAuditTest {

    /** Runs {@code check} on a scope of each backend; the GPU one is the host path over a device that computes nothing. */
    private static void onEveryBackend(Consumer<TensorScope> check) {
        for (CpuBackend b : List.of(CpuBackend.eager(), CpuBackend.batched(10_000, Duration.ofHours(1)))) {
            try (TensorScope s = TensorScope.open(b)) {
                check.accept(s);
            }
        }
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1))) {
            GpuBackend backend = new GpuBackend(os, 16, Duration.ofSeconds(10), null);
            try (TensorScope s = TensorScope.open(backend)) {
                check.accept(s);
            }
        }
    }

    /**
     * Found: copyFrom refused a zero stride but wrote through an as_strided view whose non-zero strides put two
     * elements at one address; the CPU kept whichever write came last, the GPU's threads race for it.
     */
    @Test
    void copyFromIntoAViewWhoseStridesOverlapIsRefused() {
        onEveryBackend(s -> {
            Tensor a = s.zeros(DType.F32, 3);
            Tensor windows = a.asStrided(new long[]{2, 2}, new long[]{1, 1}, 0);
            var e = assertThrows(IllegalArgumentException.class, () -> windows.copyFrom(s.ones(DType.F32, 2, 2)));
            assertTrue(e.getMessage().contains("[1, 1]") && e.getMessage().contains("more than once"), e.getMessage());
            // Larger than the exact check enumerates: refused on the stride test alone.
            Tensor big = s.zeros(DType.F32, 1 << 21);
            Tensor bigWindows = big.asStrided(new long[]{1 << 20, 4}, new long[]{1, 1}, 0);
            assertThrows(IllegalArgumentException.class, () -> bigWindows.copyFrom(s.ones(DType.F32, 1)));
        });
    }

    /** The exact check accepts interleaved strides that never meet, and views made by slicing pass the stride test. */
    @Test
    void copyFromIntoStridedViewsThatDoNotOverlapStillWorks() {
        for (CpuBackend b : List.of(CpuBackend.eager(), CpuBackend.batched(10_000, Duration.ofHours(1)))) {
            try (TensorScope s = TensorScope.open(b)) {
                Tensor a = s.zeros(DType.F32, 8);
                // offsets {0, 2, 4} + {0, 3}: 0 2 4 3 5 7, all distinct though stride 3 < the 4 that stride 2 reaches
                a.asStrided(new long[]{3, 2}, new long[]{2, 3}, 0).copyFrom(s.tensor(new float[]{1, 2, 3, 4, 5, 6}, 3, 2));
                assertArrayEquals(new float[]{1, 0, 3, 2, 5, 4, 0, 6}, a.toFloatArray());
                Tensor m = s.zeros(DType.F32, 4, 5);
                m.transpose(0, 1).slice(0, 1, 5, 2).narrow(1, 1, 2).copyFrom(s.ones(DType.F32, 1));
                assertEquals(4.0, m.sum().item(), 0.0);
            }
        }
    }

    /** copyFrom accepts exactly the strided views whose elements are all distinct (random small layouts). */
    @Test
    void copyFromRefusesExactlyTheOverlappingLayouts() {
        java.util.Random r = new java.util.Random(19);
        int refused = 0, accepted = 0;
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (int k = 0; k < 600; k++) {
                int rank = 1 + r.nextInt(3);
                long[] shape = new long[rank], strides = new long[rank];
                long extent = 1;
                for (int d = 0; d < rank; d++) {
                    shape[d] = 1 + r.nextInt(4);
                    strides[d] = 1 + r.nextInt(6);
                    extent += (shape[d] - 1) * strides[d];
                }
                java.util.Set<Long> seen = new java.util.HashSet<>();
                boolean distinct = true;
                long n = 1;
                for (long size : shape) n *= size;
                for (long e = 0; e < n; e++) {
                    long off = 0, rest = e;
                    for (int d = rank - 1; d >= 0; d--) {
                        off += (rest % shape[d]) * strides[d];
                        rest /= shape[d];
                    }
                    distinct &= seen.add(off);
                }
                Tensor view = s.zeros(DType.F32, extent).asStrided(shape, strides, 0);
                String what = Arrays.toString(shape) + " strides " + Arrays.toString(strides);
                if (distinct) {
                    view.copyFrom(s.ones(DType.F32, 1));
                    assertEquals(n, (long) view.sum().item(), what);
                    accepted++;
                } else {
                    assertThrows(IllegalArgumentException.class, () -> view.copyFrom(s.ones(DType.F32, 1)), what);
                    refused++;
                }
            }
        }
        assertTrue(refused > 50 && accepted > 50, refused + " refused, " + accepted + " accepted");
    }

    /** Found: to(null) threw the JDK's "Cannot invoke DType.byteSize()" message instead of naming the argument. */
    @Test
    void toNullNamesTheArgument() {
        onEveryBackend(s -> {
            var e = assertThrows(NullPointerException.class, () -> s.ones(DType.F32, 2).to(null));
            assertEquals("to: target is null", e.getMessage());
        });
    }

    /** Found: tensor(long[], I32) wrapped 2^40 to 0, where full(2^40, I32) and torch.tensor refuse it. */
    @Test
    void longDataAnI32CannotHoldIsRefused() {
        onEveryBackend(s -> {
            var e = assertThrows(IllegalArgumentException.class, () -> s.tensor(new long[]{5, 1L << 40}, DType.I32, 2));
            assertTrue(e.getMessage().contains("data[1] = 1099511627776") && e.getMessage().contains("I32"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.tensor(new long[]{Integer.MIN_VALUE - 1L}, DType.I32, 1));
            Tensor edge = s.tensor(new long[]{Integer.MIN_VALUE, Integer.MAX_VALUE}, DType.I32, 2);
            assertEquals(DType.I32, edge.dtype());
        });
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            assertArrayEquals(new int[]{Integer.MIN_VALUE, Integer.MAX_VALUE},
                    s.tensor(new long[]{Integer.MIN_VALUE, Integer.MAX_VALUE}, DType.I32, 2).toIntArray());
        }
    }

    /** Found: null array arguments threw the JDK's "Cannot read the array length" messages. */
    @Test
    void nullArrayArgumentsAreNamed() {
        onEveryBackend(s -> {
            Tensor a = s.ones(DType.F32, 2);
            assertEquals("reshape: shape is null", assertThrows(NullPointerException.class, () -> a.reshape((long[]) null)).getMessage());
            assertEquals("view: shape is null", assertThrows(NullPointerException.class, () -> a.view((long[]) null)).getMessage());
            assertEquals("permute: dims is null", assertThrows(NullPointerException.class, () -> a.permute((int[]) null)).getMessage());
            assertEquals("expand: sizes is null", assertThrows(NullPointerException.class, () -> a.expand((long[]) null)).getMessage());
            assertEquals("copyTo: destination is null", assertThrows(NullPointerException.class, () -> a.copyTo(null)).getMessage());
            assertEquals("elementwise: op is null", assertThrows(NullPointerException.class,
                    () -> Tensor.elementwise(null, new double[0], a)).getMessage());
            assertEquals("relu: params is null", assertThrows(NullPointerException.class,
                    () -> Tensor.elementwise(ElementwiseOp.RELU, null, a)).getMessage());
            assertEquals("add: operands is null", assertThrows(NullPointerException.class,
                    () -> Tensor.elementwise(ElementwiseOp.ADD, new double[0], (Operand[]) null)).getMessage());
        });
    }

    /**
     * Found: Tensor.elementwise with fewer params than the op reads failed the eager CPU backend with a bare
     * ArrayIndexOutOfBoundsException, the batched one only at the read, and the GPU backend recorded it, to compute
     * with whatever its task's argument word held. Every op given the params it reads computes on the CPU.
     */
    @Test
    void elementwiseWithTooFewParamsIsRefusedAtTheCall() {
        onEveryBackend(s -> {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.elementwise(ElementwiseOp.LEAKY_RELU, new double[0], s.ones(DType.F32, 2)));
            assertEquals("leaky_relu takes 1 parameter, got 0", e.getMessage());
        });
        List<String> wrong = new ArrayList<>();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (ElementwiseOp op : ElementwiseOp.values()) {
                Operand[] operands = new Operand[op.arity()];
                for (int i = 0; i < operands.length; i++) operands[i] = op == ElementwiseOp.WHERE && i == 0
                        ? s.tensor(new boolean[]{true, false}, 2) : s.tensor(new float[]{-0.5f, 2f}, 2);
                double[] params = {0.25, 0.75};
                int needed = 0;
                while (needed <= 2) {
                    try {
                        Tensor.elementwise(op, Arrays.copyOf(params, needed), operands).toDoubleArray();
                        break;
                    } catch (IllegalArgumentException refused) {
                        needed++;
                    } catch (RuntimeException other) {
                        wrong.add(op + " with " + needed + " params: " + other);
                        break;
                    }
                }
                if (needed > 2) wrong.add(op + " refused even 2 params");
            }
        }
        assertEquals(List.of(), wrong);
    }

    /**
     * Threads sharing one batched CPU backend while one of them records bad input, refused at the call (a shape
     * mismatch, a view past its storage, a closed tensor) or found only when it runs (an index past the end): the
     * others see no error and exact values; the bad thread gets its own errors, from its own calls and reads.
     */
    @Test
    void aThreadsBadInputStaysItsOwnOnASharedBackend() throws Exception {
        CpuBackend shared = CpuBackend.batched(64, Duration.ofMillis(1));
        sharedBackendWithOneBadThread(shared, true);
    }

    /** The same on one GpuBackend over the simulated device (which computes nothing: errors only, no values). */
    @Test
    void aThreadsBadInputStaysItsOwnOnASharedGpuBackend() throws Exception {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(2))) {
            sharedBackendWithOneBadThread(new GpuBackend(os, 64, Duration.ofMillis(1), null), false);
        }
    }

    private static void sharedBackendWithOneBadThread(Backend backend, boolean computes) throws Exception {
        int good = 3, rounds = 200;
        ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < good; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try (TensorScope s = TensorScope.open(backend)) {
                    for (int r = 0; r < rounds; r++) {
                        float[] x = new float[16];
                        for (int i = 0; i < x.length; i++) x[i] = id * 1000 + r + i;
                        Tensor a = s.tensor(x, 4, 4);
                        Tensor y = a.mul(2.0).add(1.0).indexSelect(0, s.tensor(new long[]{3, 0}, 2)).sum(new int[]{1}, false);
                        if (r % 10 == 0) s.sync();
                        float[] got = y.toFloatArray();
                        if (computes) {
                            float[] want = new float[2];
                            for (int j = 0; j < 4; j++) {
                                want[0] += 2 * x[12 + j] + 1;
                                want[1] += 2 * x[j] + 1;
                            }
                            if (!Arrays.equals(want, got)) wrong.add("thread " + id + " round " + r + ": " + Arrays.toString(got) + " != " + Arrays.toString(want));
                        }
                    }
                } catch (Throwable e) {
                    wrong.add("good thread " + id + " threw " + e);
                }
            }));
        }
        List<String> badSaw = new ArrayList<>();
        Thread bad = Thread.ofPlatform().start(() -> {
            try (TensorScope s = TensorScope.open(backend)) {
                Tensor closed;
                try (TensorScope inner = TensorScope.open(backend)) {
                    closed = inner.ones(DType.F32, 2);
                }
                while (!stop.get()) {
                    Tensor a = s.ones(DType.F32, 2, 3);
                    badSaw.add(assertThrows(ShapeMismatchException.class, () -> a.add(s.ones(DType.F32, 4))).getClass().getSimpleName());
                    assertThrows(IndexOutOfBoundsException.class, () -> a.narrow(1, 2, 5));
                    assertThrows(TensorClosedException.class, () -> closed.add(a));
                    Tensor badIndex = a.indexSelect(0, s.tensor(new long[]{7}, 1)).add(1.0);
                    if (computes) {
                        var e = assertThrows(IllegalStateException.class, badIndex::toFloatArray);
                        assertTrue(String.valueOf(e.getCause()).contains("index 7"), String.valueOf(e));
                    }
                    s.sync();
                }
            } catch (Throwable e) {
                badSaw.add("bad thread failed: " + e);
            }
        });
        for (Thread t : threads) t.join(TimeUnit.MINUTES.toMillis(2));
        stop.set(true);
        bad.join(TimeUnit.MINUTES.toMillis(1));
        assertEquals(List.of(), List.copyOf(wrong));
        assertFalse(badSaw.isEmpty(), "the bad thread never ran");
        assertTrue(badSaw.stream().allMatch("ShapeMismatchException"::equals), badSaw.toString());
    }

    /**
     * A thread interrupted while it waits in sync for the device keeps waiting (a sync has no partial result to
     * give), returns normally once the device is done, and keeps its interrupt status for its own code; the
     * waiting tensor reads back and another thread's work is untouched.
     */
    @Test
    void aThreadInterruptedWhileItWaitsGetsItsResultAndKeepsItsStatus() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        SimOp held = (task, tile) -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), names -> new SimulatedWorkerDevice(DeviceRuntime.Config.defaults(),
                SimulatedWorker.Config.DEFAULT.withWorkers(1), 1L << 30, name -> held, names))) {
            GpuBackend backend = new GpuBackend(os, 16, Duration.ofSeconds(30), null);
            List<Object> waiter = new ArrayList<>();
            CountDownLatch recorded = new CountDownLatch(1);
            Thread t = Thread.ofPlatform().start(() -> {
                try (TensorScope s = TensorScope.open(backend)) {
                    Tensor y = s.ones(DType.F32, 8).add(1.0);
                    recorded.countDown();
                    s.sync();
                    waiter.add(Thread.currentThread().isInterrupted());
                    waiter.add(y.toFloatArray().length);
                } catch (Throwable e) {
                    waiter.add(e);
                }
            });
            assertTrue(recorded.await(30, TimeUnit.SECONDS));
            Thread.sleep(100);  // into the wait: the device holds every task until the gate opens
            t.interrupt();
            Thread.sleep(100);
            assertTrue(t.isAlive(), "the interrupted sync returned before its tasks ran: " + waiter);
            gate.countDown();
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertEquals(List.of(true, 8), waiter);
            try (TensorScope other = TensorScope.open(backend)) {
                Tensor z = other.ones(DType.F32, 4).mul(3.0);
                other.sync();
                assertEquals(4, z.toFloatArray().length);
            }
        }
    }
}
