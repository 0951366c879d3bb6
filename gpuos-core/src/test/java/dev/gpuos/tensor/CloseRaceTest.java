package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: closing a scope while other threads compute with and read its tensors. Whatever the interleaving, a
 * thread that loses the race gets {@link TensorClosedException} (never the JDK's bare "Already closed" from a
 * closed arena, nor any other exception), and a thread that wins gets correct values.
 */
class CloseRaceTest {

    @Test
    void eagerBackend() throws Exception {
        hammer(CpuBackend.eager(), 150);
    }

    @Test
    void batchedBackend() throws Exception {
        hammer(CpuBackend.batched(32, Duration.ofMillis(1)), 150);
    }

    private static void hammer(CpuBackend backend, int rounds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        Map<String, Integer> wrong = new ConcurrentHashMap<>();
        AtomicInteger closedSeen = new AtomicInteger();
        AtomicLong goodReads = new AtomicLong();
        try {
            for (int round = 0; round < rounds; round++) {
                TensorScope scope = TensorScope.open(backend);
                // Large enough that a copy or an op is often in flight when the close comes.
                Tensor x = scope.arange(0, 1 << 14, 1).to(DType.F32);
                Tensor y = scope.ones(DType.F32, 1 << 14);
                CountDownLatch go = new CountDownLatch(1), firstRead = new CountDownLatch(1);
                List<Future<?>> workers = new ArrayList<>();
                for (int w = 0; w < 3; w++) {
                    int kind = w;
                    workers.add(pool.submit(() -> {
                        go.await();
                        for (int i = 0; i < 40; i++) {
                            try {
                                float[] v = switch (kind) {
                                    case 0 -> x.toFloatArray();
                                    case 1 -> x.add(y).toFloatArray();
                                    default -> x.mul(2.0).sum(new int[]{0}, false).toFloatArray();
                                };
                                float expected = switch (kind) { case 0 -> 5; case 1 -> 6; default -> 268419072f; };
                                float got = kind == 2 ? v[0] : v[5];
                                if (got != expected) wrong.merge("value " + got + " for kind " + kind, 1, Integer::sum);
                                else goodReads.incrementAndGet();
                                firstRead.countDown();
                            } catch (TensorClosedException e) {
                                closedSeen.incrementAndGet();
                                return null;
                            } catch (RuntimeException e) {
                                wrong.merge(e.getClass().getName() + ": " + e.getMessage(), 1, Integer::sum);
                                return null;
                            }
                        }
                        return null;
                    }));
                }
                go.countDown();
                // Half the rounds close only once a read went through (so some reads win on any machine), the
                // others at once (so the close meets ops and copies in flight, or before they start).
                if (round % 2 == 0) firstRead.await(10, TimeUnit.SECONDS);
                Thread.sleep(0, (round % 7) * 100_000);
                scope.close();
                for (Future<?> f : workers) f.get(1, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(Map.of(), wrong, "exceptions other than TensorClosedException, or wrong values");
        assertTrue(closedSeen.get() > 0, "no worker ever lost the race: the test did not test the close");
        assertTrue(goodReads.get() > 0, "no worker ever won the race");
    }
}
