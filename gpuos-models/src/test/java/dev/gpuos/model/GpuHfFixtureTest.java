package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.tensor.gpu.GpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;


/** The Hugging Face fixture checks of HfFixtureTest on the GPU backend. */
@Tag("gpu")
class GpuHfFixtureTest {
    static GpuOS os;
    static GpuBackend gpu;

    @BeforeAll
    static void start() {
        os = GpuModelTests.startOrSkip();
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void stop() {
        if (os != null) os.close();
    }

    @Test
    void bertMatchesHfOnTheGpu() {
        HfFixtureChecks.bert(gpu);
        HfFixtureChecks.bert(gpu, dev.gpuos.tensor.DType.BF16);
    }

    @Test
    void llamaMatchesHfOnTheGpu() {
        HfFixtureChecks.llama(gpu);
    }
}
