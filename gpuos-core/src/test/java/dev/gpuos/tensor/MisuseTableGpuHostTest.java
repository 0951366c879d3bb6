package dev.gpuos.tensor;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.gpu.GpuBackend;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The misuse table's errors on the GPU backend's host path (GpuOS over the simulated device): every case the CPU
 * backends refuse with a clear error, the GPU backend must refuse with the same exception type naming the same
 * input, before anything reaches the device. The simulated device's operators do not compute, so the documented
 * values are not compared here (GpuBadInputTest and the fuzzer compare values on a GPU); cases whose error only the
 * operator itself can find (an index past the end, read from device memory) are listed and checked by the GPU
 * tests instead.
 */
class MisuseTableGpuHostTest {
    /** Errors found by the operator on the device from data values: nothing to check on a device that does not compute. */
    private static final List<String> FOUND_ON_THE_DEVICE = List.of("indexSelect index 5 of 2, read", "indexSelect index -1, read");

    @Test
    void theGpuBackendRefusesWhatTheCpuBackendsRefuseTheSameWay() {
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1))) {
            GpuBackend backend = new GpuBackend(os, 16, Duration.ofSeconds(10), null);
            for (MisuseTableTest.Case k : MisuseTableTest.cases()) {
                if (!(k.expect() instanceof MisuseTableTest.Fails) || FOUND_ON_THE_DEVICE.contains(k.name())) continue;
                String verdict;
                try (TensorScope s = TensorScope.open(backend)) {
                    verdict = MisuseTableTest.judge(k, s);
                } catch (Throwable t) {
                    verdict = "closing the scope threw " + t;
                }
                checked++;
                if (!verdict.equals("clear")) wrong.add(k.group() + ": " + k.name() + ": " + verdict);
            }
        }
        System.out.println("[misuse on the GPU backend's host path] " + checked + " error cases, " + wrong.size() + " wrong");
        assertEquals(List.of(), wrong);
        assertTrue(checked >= 100, "error cases checked: " + checked);
    }
}
