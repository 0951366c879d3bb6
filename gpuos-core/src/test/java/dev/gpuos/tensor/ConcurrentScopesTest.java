package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The logic of GpuConcurrencyTest on the batched CPU backend, smaller: 16 threads recording into shared and
 * per-thread scopes of one backend with every result verified, then threads closing scopes while others record.
 */
class ConcurrentScopesTest {
    static final int THREADS = 16;

    @Test
    void sixteenThreadsRecordAndSyncOnOneBackend() throws Exception {
        CpuBackend batched = CpuBackend.batched(1024, Duration.ofMillis(2));
        ConcurrentScopes work = new ConcurrentScopes(batched, THREADS);
        java.util.concurrent.atomic.AtomicLong polls = new java.util.concurrent.atomic.AtomicLong();
        // Threads poll every 64 items, the first time before any: about 16 x 64 x 3 items in all.
        ConcurrentScopes.Counts c = work.recordAndVerify(1, () -> polls.incrementAndGet() > 4L * THREADS,
                Duration.ofSeconds(60));
        System.out.println("concurrent scopes on the cpu backend: " + c);
        assertTrue(c.items() >= 1_000, c.toString());
        assertTrue(c.sharedItems() > 0 && c.scopesClosed() > 0, c.toString());
    }

    @Test
    void closingScopesWhileOthersRecordThrowsClearlyAndLosesNothing() throws Exception {
        CpuBackend batched = CpuBackend.batched(1024, Duration.ofMillis(2));
        long refused = new ConcurrentScopes(batched, THREADS).closeWhileOthersRecord(2, 30, Duration.ofSeconds(60));
        assertTrue(refused >= (THREADS / 2) * 30L * 6, "uses of closed tensors refused: " + refused);
    }

    @Test
    void theEagerBackendAlsoTakesEightThreads() throws Exception {
        ConcurrentScopes work = new ConcurrentScopes(CpuBackend.eager(), 8);
        java.util.concurrent.atomic.AtomicLong polls = new java.util.concurrent.atomic.AtomicLong();
        ConcurrentScopes.Counts c = work.recordAndVerify(3, () -> polls.incrementAndGet() > 16, Duration.ofSeconds(60));
        assertTrue(c.items() >= 500, c.toString());
    }
}
