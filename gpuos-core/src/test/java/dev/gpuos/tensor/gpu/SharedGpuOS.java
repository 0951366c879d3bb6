package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * GPU test classes of the tensor backend share one GpuOS per class: started before the class's first test
 * (which skips the whole class without a GPU), closed after its last. JUnit runs a superclass's {@code @BeforeAll}
 * first, so a subclass's own {@code @BeforeAll} can build backends on {@link #os}.
 */
abstract class SharedGpuOS {
    static GpuOS os;

    @BeforeAll
    static void startGpuOS() {
        GpuTestSupport.assumeGpu();
        os = GpuOS.start(GpuTestSupport.options());
    }

    @AfterAll
    static void closeGpuOS() {
        if (os != null) os.close();
        os = null;
    }
}
