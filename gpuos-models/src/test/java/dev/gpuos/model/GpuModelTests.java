package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.GpuTestSupport;

/** The models' GPU tests: skip with the driver's reason where there is no GPU, else a started GpuOS. */
final class GpuModelTests {
    private GpuModelTests() {}

    static GpuOS startOrSkip() {
        GpuTestSupport.assumeGpu();
        return GpuOS.start(GpuOSOptions.defaults());
    }
}
