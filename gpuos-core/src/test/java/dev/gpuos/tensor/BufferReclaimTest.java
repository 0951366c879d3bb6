package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tensors that become unreachable give their memory back without their scope closing (issue 12, item 6), and
 * never while something still references the buffer: a view, a recorded op, a replay.
 */
class BufferReclaimTest {
    /** 10M elementwise ops in a loop, nothing closed: the buffers live at any time stay bounded. */
    static final int LOOP_OPS = 10_000_000;

    record Loop(long peakBuffers, long peakBytes, long reclaimed, long collections, long ownedAtEnd) {}

    /** {@code y = y.add(1)} {@code ops} times on a 16-element F32 tensor; samples the ledger every 1,000 ops. */
    static Loop addLoop(CpuBackend backend, int ops) {
        BufferLedger ledger = backend.bufferLedger();
        long before = ledger.liveBuffers();
        try (TensorScope scope = TensorScope.open(backend)) {
            Tensor y = scope.zeros(DType.F32, 16);
            long peakBuffers = 0, peakBytes = 0;
            for (int i = 1; i <= ops; i++) {
                y = y.add(1.0);
                if (i % 1000 == 0) {
                    peakBuffers = Math.max(peakBuffers, ledger.liveBuffers() - before);
                    peakBytes = Math.max(peakBytes, ledger.liveBytes());
                }
            }
            float[] out = y.toFloatArray();
            for (float v : out) assertEquals((float) ops, v, "every op ran, in order");
            return new Loop(peakBuffers, peakBytes, ledger.reclaimedCount(), ledger.collectionsRequested(),
                    scope.ownedBufferCount());
        }
    }

    @Test
    void tenMillionOpsOnTheEagerBackendKeepMemoryBoundedUnderASoftLimit() {
        CpuBackend eager = CpuBackend.eager();
        long limit = 4 << 20;  // 65,536 buffers of 64 bytes
        eager.bufferLedger().softLimit(limit);
        Loop loop = addLoop(eager, LOOP_OPS);
        System.out.println("cpu-eager, " + LOOP_OPS + " adds, soft limit " + limit + " bytes: " + loop);
        // Above the limit an allocation first reclaims, so the limit holds, up to one sample interval's buffers.
        assertTrue(loop.peakBytes() <= limit + 64 * 1000, loop.toString());
        assertTrue(loop.reclaimed() >= LOOP_OPS - loop.peakBuffers() - 1, loop.toString());
        assertTrue(loop.ownedAtEnd() <= loop.peakBuffers() + 1, "the scope forgets reclaimed buffers: " + loop);
        assertEquals(0, eager.bufferLedger().liveBuffers(), "closing the scope released the rest");
    }

    @Test
    void aMillionOpsOnTheBatchedBackendKeepMemoryBoundedUnderASoftLimit() {
        // Pending ops (up to 1,024 here) reference their buffers: those are live whatever the limit.
        CpuBackend batched = CpuBackend.batched(1024, Duration.ofMillis(5));
        long limit = 1 << 20;
        batched.bufferLedger().softLimit(limit);
        int ops = 1_000_000;
        Loop loop = addLoop(batched, ops);
        System.out.println("cpu-batched, " + ops + " adds, soft limit " + limit + " bytes: " + loop);
        assertTrue(loop.peakBytes() <= limit + 64 * 1000, loop.toString());
        assertTrue(loop.reclaimed() >= ops - loop.peakBuffers() - 1, loop.toString());
        assertEquals(0, batched.bufferLedger().liveBuffers());
    }

    /**
     * Asks the GC until {@code done} (each relief collects once and processes what it found), for up to 30 s: a
     * loaded 2-core CI machine once needed more than 50 reliefs to enqueue one phantom reference.
     */
    static void collectUntil(BufferLedger ledger, BooleanSupplier done) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!done.getAsBoolean() && System.nanoTime() - deadline < 0) ledger.relieve(Long.MAX_VALUE / 2);
    }

    @Test
    void aViewKeepsItsBufferAndTheLastReferenceGivesItBack() {
        CpuBackend eager = CpuBackend.eager();
        BufferLedger ledger = eager.bufferLedger();
        try (TensorScope scope = TensorScope.open(eager)) {
            Tensor view = viewOfADroppedTensor(scope);
            assertEquals(1, ledger.liveBuffers());
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);
            assertEquals(1, ledger.liveBuffers(), "the view references the buffer");
            assertArrayEquals(new long[]{2, 3, 4}, view.toLongArray());
            assertEquals(1, scope.ownedBufferCount());
            view = null;
            collectUntil(ledger, () -> ledger.liveBuffers() == 0);
            assertEquals(0, ledger.liveBuffers());
            assertEquals(0, scope.ownedBufferCount(), "the scope no longer owns it");
            assertEquals(1, ledger.reclaimedCount());
        }
    }

    private static Tensor viewOfADroppedTensor(TensorScope scope) {
        Tensor base = scope.arange(10);
        return base.narrow(0, 2, 3);
    }

    @Test
    void aRecordedOpKeepsItsInputsUntilItRan() {
        CpuBackend batched = CpuBackend.batched(1 << 20, Duration.ofHours(1));  // nothing runs until a read
        BufferLedger ledger = batched.bufferLedger();
        try (TensorScope scope = TensorScope.open(batched)) {
            Tensor result = productOfDroppedInputs(scope);
            assertTrue(batched.pendingCount() > 0);
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);
            assertEquals(3, ledger.liveBuffers(), "pending ops reference both inputs");
            assertArrayEquals(new float[]{6, 6, 6, 6}, result.toFloatArray());
            collectUntil(ledger, () -> ledger.liveBuffers() == 1);
            assertEquals(1, ledger.liveBuffers(), "the inputs went once the op ran; the result stays");
        }
    }

    private static Tensor productOfDroppedInputs(TensorScope scope) {
        Tensor a = scope.full(2.0, DType.F32, 4), b = scope.full(3.0, DType.F32, 4);
        return a.mul(b);
    }

    @Test
    void aReplayKeepsTheTensorsItsProgramUses() {
        CpuBackend eager = CpuBackend.eager();
        BufferLedger ledger = eager.bufferLedger();
        try (TensorScope scope = TensorScope.open(eager)) {
            Tensor out = scope.zeros(DType.F32, 2);
            Replay step = captureOverADroppedInput(scope, out);
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);
            step.run();
            assertArrayEquals(new float[]{5, 5}, out.toFloatArray());
            long live = ledger.liveBuffers();
            step.close();
            step = null;
            collectUntil(ledger, () -> ledger.liveBuffers() < live);
            assertTrue(ledger.liveBuffers() < live, "closing the replay let its input go");
            assertFalse(out.isClosed());
        }
    }

    private static Replay captureOverADroppedInput(TensorScope scope, Tensor out) {
        Tensor input = scope.full(5.0, DType.F32, 2);
        return scope.backend().capture(() -> out.copyFrom(input));
    }

    @Test
    void closingTheScopeReleasesEverythingAtOnce() {
        CpuBackend batched = CpuBackend.batched(64, Duration.ofMillis(5));
        BufferLedger ledger = batched.bufferLedger();
        TensorScope scope = TensorScope.open(batched);
        Tensor[] kept = new Tensor[100];
        for (int i = 0; i < kept.length; i++) kept[i] = scope.full(i, DType.F32, 8).mul(2);
        assertEquals(200, ledger.liveBuffers());
        assertEquals(200 * 32, ledger.liveBytes());
        scope.close();
        assertEquals(0, ledger.liveBuffers());
        assertEquals(0, ledger.liveBytes());
        for (Tensor t : kept) assertTrue(t.isClosed());
    }
}
