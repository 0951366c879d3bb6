package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The primary context of device 0 for GPU-tagged tests. {@link #acquire()} skips the calling test class (JUnit
 * assumption) with a reason when there is no driver or no device, so the same suite runs on CPU-only machines.
 */
public final class GpuTestContext {
    public final int device;
    public final long context;
    public final String arch;

    private GpuTestContext(int device, long context, String arch) {
        this.device = device;
        this.context = context;
        this.arch = arch;
    }

    public static GpuTestContext acquire() {
        assumeTrue(Driver.isAvailable(), () -> "no GPU: " + Driver.unavailableReason());
        try {
            Driver.init();
        } catch (CudaException e) {
            assumeTrue(false, "no GPU: " + e.getMessage());
        }
        assumeTrue(Driver.deviceCount() > 0, "no GPU: the driver reports 0 devices");
        int device = Driver.device(0);
        long context = Driver.primaryCtxRetain(device);
        Driver.ctxSetCurrent(context);
        int[] cc = Driver.computeCapability(device);
        return new GpuTestContext(device, context, "sm_" + cc[0] + cc[1]);
    }

    /** The driver's current context is per thread; JUnit may move tests between threads. */
    public void makeCurrent() {
        Driver.ctxSetCurrent(context);
    }

    public void release() {
        Driver.ctxSetCurrent(0);
        Driver.primaryCtxRelease(device);
    }
}
