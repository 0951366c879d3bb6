package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two captured programs with index_selects that feed each other (as a decode step's two cache sets do), run one
 * after the other many times with nothing read: what each written buffer descends from (its {@link
 * ReplayFaults.Taint} list) must stay a few ranges, not one more range per run. It grew by one range of the other
 * program per run, so runs slowed down with their count (183 ms a step after ~150 steps of a Llama decode).
 * Runs on the simulated device (no GPU): only the host's bookkeeping is checked; GpuReplayFaultsTest checks
 * what a read throws on the GPU.
 */
class ReplayTaintGrowthTest {

    @Test
    void programsFeedingEachOtherKeepTheirTaintListsShort() {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1))) {
            GpuBackend b = new GpuBackend(os, 1024, Duration.ofSeconds(60));
            try (TensorScope s = TensorScope.open(b)) {
                Tensor table = s.arange(0, 10, 1).to(DType.F32);
                Tensor idx = s.tensor(new long[]{1, 2});
                Tensor x = s.zeros(DType.F32, 2), y = s.zeros(DType.F32, 2), cache = s.zeros(DType.F32, 4);
                b.sync();
                // `a` also writes part of a cache nobody else writes (a KV cache): the cache keeps what it held, so
                // it descends from every earlier run of both programs.
                GpuReplay a = b.capture(() -> {
                    y.copyFrom(table.indexSelect(0, idx).add(x));
                    cache.narrow(0, 1, 2).copyFrom(y);
                });
                GpuReplay c = b.capture(() -> x.copyFrom(table.indexSelect(0, idx).mul(y)));
                for (int i = 0; i < 400; i++) {
                    a.run();
                    c.run();
                }
                int nx = taints(x), ny = taints(y), nc = taints(cache);
                assertTrue(nx > 0 && ny > 0 && nc > 0, "every buffer descends from the programs' index_selects: " + nx
                        + ", " + ny + ", " + nc);
                assertTrue(nx <= 4 && ny <= 4 && nc <= 4, "taint ranges after 400 runs each: x " + nx + ", y " + ny
                        + ", cache " + nc);
                // Nothing failed: every read is fine, and reading leaves the lists as short.
                assertEquals(2, x.toFloatArray().length);
                assertEquals(2, y.toFloatArray().length);
                assertEquals(4, cache.toFloatArray().length);
            }
        }
    }

    private static int taints(Tensor t) {
        ReplayFaults.Taint[] ts = GpuStorage.of(t).replayTaints();
        return ts == null ? 0 : ts.length;
    }
}
