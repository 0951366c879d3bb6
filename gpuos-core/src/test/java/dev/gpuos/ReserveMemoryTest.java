package dev.gpuos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.runtime.sim.SimulatedWorker;
import org.junit.jupiter.api.Test;

/** {@link GpuOS#reserveMemory} on the simulated device: one allocation, taken with the worker parked. */
class ReserveMemoryTest {
    private static final long MIB = 1L << 20;

    @Test
    void reservesTheShortfallOnceAndServesLargeBlocksFromIt() {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), names -> new SimulatedWorkerDevice(DeviceRuntime.Config.defaults(),
                SimulatedWorker.Config.DEFAULT.withWorkers(2), 1L << 30, name -> {
                    throw new AssertionError("no operator runs here: " + name);
                }, names))) {
            assertEquals(64 * MIB, os.reserveMemory(64 * MIB));
            DeviceBlock weight = os.allocate(40 * MIB), small = os.allocate(4096);
            assertTrue(weight.isReserved(), weight.toString());
            assertFalse(small.isReserved(), small.toString());
            assertEquals(0, os.reserveMemory(64 * MIB - 40 * MIB), "24 MiB are still free in the region");
            assertEquals(40 * MIB, os.reserveMemory(64 * MIB), "only the shortfall is taken");
            assertEquals(104 * MIB, os.memory().stats().reservedBytes());
            os.release(weight);
            assertThrows(IllegalArgumentException.class, () -> os.reserveMemory(0));
        }
    }
}
