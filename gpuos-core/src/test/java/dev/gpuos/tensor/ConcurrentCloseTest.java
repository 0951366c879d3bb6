package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scopes closed by eight threads at once while four others read and compute from their tensors (issue 15: the
 * CPU storage is heap memory now, closed without a handshake): every read or op either sees the right values or
 * throws {@link TensorClosedException}, nothing else (no JDK "Already closed", no garbage), and after the closes
 * every buffer is released.
 */
class ConcurrentCloseTest {
    static final int CLOSERS = 8, READERS = 4, TENSORS_PER_SCOPE = 32, ROUNDS = 15;

    static Stream<CpuBackend> backends() {
        return Stream.of(CpuBackend.eager(), CpuBackend.batched(256, Duration.ofMillis(1)));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void readsAndOpsRacingClosesSeeTheValuesOrTensorClosedException(CpuBackend backend) throws Exception {
        LongAdder good = new LongAdder(), refused = new LongAdder();
        ConcurrentLinkedQueue<Throwable> wrong = new ConcurrentLinkedQueue<>();
        for (int round = 0; round < ROUNDS; round++) {
            List<TensorScope> scopes = new ArrayList<>();
            List<Tensor> tensors = new ArrayList<>();
            for (int s = 0; s < CLOSERS; s++) {
                TensorScope scope = TensorScope.open(backend);
                for (int i = 0; i < TENSORS_PER_SCOPE; i++) tensors.add(scope.full(tensors.size(), DType.F32, 64));
                scopes.add(scope);
            }
            backend.sync();
            CyclicBarrier start = new CyclicBarrier(CLOSERS + READERS);
            AtomicBoolean closed = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (TensorScope scope : scopes) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        Thread.sleep(ThreadLocalRandom.current().nextInt(3));
                        scope.close();
                    } catch (Throwable e) {
                        wrong.add(e);
                    }
                }));
            }
            for (int r = 0; r < READERS; r++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try (TensorScope mine = TensorScope.open(backend)) {
                        start.await();
                        int afterClose = 0;
                        while (afterClose < 200) {
                            if (closed.get()) afterClose++;
                            int k = ThreadLocalRandom.current().nextInt(tensors.size());
                            Tensor t = tensors.get(k);
                            try {
                                boolean op = ThreadLocalRandom.current().nextBoolean();
                                float[] v = op ? t.add(1.0).toFloatArray() : t.toFloatArray();
                                float want = k + (op ? 1 : 0);
                                for (float x : v) {
                                    if (x != want) throw new AssertionError("tensor " + k + " read " + x + ", not " + want);
                                }
                                good.increment();
                            } catch (TensorClosedException e) {
                                refused.increment();
                            } catch (IllegalStateException e) {
                                // Batched: an op recorded before the close and skipped after it ("never computed",
                                // caused by TensorClosedException); anything else, the JDK's "Already closed"
                                // included, is wrong.
                                if (!(e.getCause() instanceof TensorClosedException)) throw e;
                                refused.increment();
                            }
                        }
                    } catch (Throwable e) {
                        wrong.add(e);
                    }
                }));
            }
            for (int i = 0; i < CLOSERS; i++) threads.get(i).join();
            closed.set(true);
            for (Thread t : threads) t.join();
            for (Tensor t : tensors) assertTrue(t.isClosed());
        }
        if (!wrong.isEmpty()) {
            AssertionError e = new AssertionError(wrong.size() + " wrong outcomes; first: " + wrong.peek(), wrong.peek());
            throw e;
        }
        System.out.println(backend.name() + ": " + good.sum() + " reads right, " + refused.sum() + " refused as closed");
        assertTrue(good.sum() > 0 && refused.sum() > 0, good.sum() + " right, " + refused.sum() + " refused");
        backend.sync();
        assertEquals(0, backend.bufferLedger().liveBuffers(), "every buffer was released");
    }
}
