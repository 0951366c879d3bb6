package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.cuda.Driver;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The models' GPU tests: skip with the driver's reason where there is no GPU, else a started GpuOS. */
final class GpuModelTests {
    private GpuModelTests() {}

    static GpuOS startOrSkip() {
        boolean ok;
        String why;
        try {
            ok = Driver.isAvailable();
            why = ok ? "" : Driver.unavailableReason();
        } catch (Throwable t) {
            ok = false;
            why = t.toString();
        }
        assumeTrue(ok, "no GPU: " + why);
        return GpuOS.start(GpuOSOptions.defaults());
    }
}
