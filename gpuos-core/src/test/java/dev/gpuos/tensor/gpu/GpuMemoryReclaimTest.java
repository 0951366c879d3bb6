package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.BufferLedger;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Replay;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Device memory of unreachable tensors comes back without closing the scope (issue 12, item 6), never while a
 * recorded op or a replay still uses it; and the item-7 API on the GPU backend: capture from the Backend a scope
 * holds, GpuReplay as AutoCloseable, t(), sum/mean over dims, rsub/rdiv, layerNorm(shape).
 */
@Tag("gpu")
class GpuMemoryReclaimTest extends SharedGpuOS {
    static final int OPS = 1_000_000;

    @Test
    void aMillionAddsWithoutCloseKeepDeviceMemoryBounded() {
        GpuBackend gpu = new GpuBackend(os);
        BufferLedger ledger = gpu.bufferLedger();
        long limit = 16L << 20;  // 4,096 buffers of 4 KiB
        ledger.softLimit(limit);
        long arenaBefore = os.memory().stats().bytesInUse();
        long peakLedger = 0, peakArena = 0;
        try (TensorScope scope = TensorScope.open(gpu)) {
            Tensor y = scope.zeros(DType.F32, 1024);
            for (int i = 1; i <= OPS; i++) {
                y = y.add(1.0);
                if (i % 1000 == 0) {
                    peakLedger = Math.max(peakLedger, ledger.liveBytes());
                    peakArena = Math.max(peakArena, os.memory().stats().bytesInUse() - arenaBefore);
                }
            }
            float[] out = y.toFloatArray();
            for (float v : out) assertEquals((float) OPS, v, "every add ran, in order");
            System.out.printf("gpu, %,d adds of 4 KiB tensors, soft limit %,d bytes: peak %,d bytes live in the"
                            + " ledger, %,d in the arena (without reclamation: %,d); %,d reclaimed, %,d collections asked"
                            + ", %d buffers owned at the end%n", OPS, limit, peakLedger, peakArena, (long) OPS * 4096,
                    ledger.reclaimedCount(), ledger.collectionsRequested(), scope.ownedBufferCount());
            // Pending nodes (one submission, <= 1,024) hold their buffers; one sample interval adds 1,000 more.
            assertTrue(peakLedger <= limit + 2048L * 4096, "ledger peak " + peakLedger);
            assertTrue(peakArena <= 2 * limit + 2048L * 4096, "arena peak " + peakArena);
            assertTrue(ledger.reclaimedCount() >= OPS - 2 * limit / 4096, "reclaimed " + ledger.reclaimedCount());
        }
        assertEquals(0, ledger.liveBuffers(), "the scope's close released the rest");
    }

    @Test
    void recordedOpsKeepTheirInputsThroughCollections() {
        GpuBackend gpu = new GpuBackend(os, 1 << 20, Duration.ofHours(1));  // nothing is submitted until the read
        BufferLedger ledger = gpu.bufferLedger();
        try (TensorScope scope = TensorScope.open(gpu)) {
            Tensor sum = chainOverDroppedInputs(scope);
            assertTrue(gpu.pendingCount() > 0);
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);
            float[] want = new float[256];
            java.util.Arrays.fill(want, 200 * 201 / 2f);
            assertArrayEquals(want, sum.toFloatArray());
        }
    }

    /** sum of full(1) + ... + full(200), each input unreachable once its add is recorded. */
    private static Tensor chainOverDroppedInputs(TensorScope scope) {
        Tensor acc = scope.zeros(DType.F32, 256);
        for (int i = 1; i <= 200; i++) acc = acc.add(scope.full(i, DType.F32, 256));
        return acc;
    }

    @Test
    void aReplayFromTheScopesBackendKeepsItsTensorsAndCloseGivesItsTemplateBack() {
        GpuBackend gpu = new GpuBackend(os);
        BufferLedger ledger = gpu.bufferLedger();
        try (TensorScope scope = TensorScope.open(gpu)) {
            Backend backend = scope.backend();
            Tensor x = scope.arange(0, 8, 1, DType.F32);
            Replay step = captureOverADroppedConstant(scope, backend, x);
            assertInstanceOfGpuReplay(step);
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);
            step.run();
            Tensor out = step.outputs().getFirst();
            assertArrayEquals(new float[]{1, -2, -5, -8, -11, -14, -17, -20}, out.toFloatArray());
            x.copyFrom(scope.full(2.0, DType.F32, 8));
            step.run();
            assertSame(out, step.outputs().getFirst());
            assertArrayEquals(new float[]{-5, -5, -5, -5, -5, -5, -5, -5}, out.toFloatArray());
            for (int i = 0; i < 3; i++) ledger.relieve(Long.MAX_VALUE / 2);  // what is garbage already goes now
            long arenaBefore = os.memory().stats().bytesInUse(), liveBefore = ledger.liveBuffers();
            step.close();
            step.close();
            assertTrue(os.memory().stats().bytesInUse() < arenaBefore, "close gave the task template back");
            IllegalStateException e = assertThrows(IllegalStateException.class, step::run);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            step = null;
            for (int i = 0; i < 20 && ledger.liveBuffers() >= liveBefore; i++) ledger.relieve(Long.MAX_VALUE / 2);
            assertTrue(ledger.liveBuffers() < liveBefore, "the constant only the replay referenced was reclaimed");
            assertArrayEquals(new float[]{-5, -5, -5, -5, -5, -5, -5, -5}, out.toFloatArray());
        }
    }

    /** 1 - 3x, where the 3 is a tensor only the replay references once this returns. */
    private static Replay captureOverADroppedConstant(TensorScope scope, Backend backend, Tensor x) {
        Tensor three = scope.full(3.0, DType.F32, 8);
        scope.sync();
        return backend.captureReturning(() -> List.of(x.mul(three).rsub(1.0)));
    }

    private static void assertInstanceOfGpuReplay(Replay r) {
        assertTrue(r instanceof GpuReplay, "the GPU backend's capture, reached through Backend, is a GpuReplay: " + r);
    }

    @Test
    void theNewApiOnTheGpuEqualsTheCpuBackend() {
        GpuBackend gpu = new GpuBackend(os);
        try (TensorScope g = TensorScope.open(gpu);
             TensorScope c = TensorScope.open(dev.gpuos.tensor.cpu.CpuBackend.eager())) {
            Tensor gx = g.randn(7, DType.F32, 4, 5, 6), cx = c.randn(7, DType.F32, 4, 5, 6);
            assertArrayEquals(cx.sum(0, 2).toFloatArray(), gx.sum(0, 2).toFloatArray(), 1e-4f);
            assertArrayEquals(cx.mean(-1).toFloatArray(), gx.mean(-1).toFloatArray(), 1e-5f);
            assertArrayEquals(cx.rsub(1.0).toFloatArray(), gx.rsub(1.0).toFloatArray());
            assertRelative(cx.rdiv(3L).toFloatArray(), gx.rdiv(3L).toFloatArray(), 1e-5);
            assertArrayEquals(cx.layerNorm(6).toFloatArray(), gx.layerNorm(6).toFloatArray(), 1e-4f);
            Tensor gm = gx.select(0, 1), cm = cx.select(0, 1);
            assertArrayEquals(cm.t().toFloatArray(), gm.t().toFloatArray());
            assertArrayEquals(cm.rsub(cx.select(0, 2)).toFloatArray(), gm.rsub(gx.select(0, 2)).toFloatArray());
            assertRelative(cm.t().rdiv(1.5).toFloatArray(), gm.t().rdiv(1.5).toFloatArray(), 1e-5);
        }
    }

    /** |got - want| <= rel * max(|want|, 1) per element (a GPU division need not round like the CPU's). */
    private static void assertRelative(float[] want, float[] got, double rel) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            double tol = rel * Math.max(Math.abs(want[i]), 1);
            assertTrue(Math.abs(got[i] - want[i]) <= tol, "element " + i + ": " + got[i] + " vs " + want[i]);
        }
    }
}
