package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.tensor.BackendProvider;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The provider is registered, outranks the CPU, and offers nothing unless asked to (or without a GPU). */
class GpuBackendProviderTest {

    @Test
    void registeredWithServiceLoaderAndOptIn() {
        assertTrue(ServiceLoader.load(BackendProvider.class).stream()
                .anyMatch(p -> p.type() == GpuBackendProvider.class));
        GpuBackendProvider provider = new GpuBackendProvider();
        assertTrue(provider.priority() > 0);
        assumeTrue(System.getProperty(GpuBackendProvider.PROPERTY) == null
                && System.getenv(GpuBackendProvider.ENVIRONMENT) == null, "the gpu backend was requested for this JVM");
        assertTrue(provider.backend().isEmpty(), "not requested: no GpuOS may be started");
    }

    @Test
    void requestedWithoutAGpuOffersNothing() {
        assumeTrue(!GpuOS.gpuAvailable(), "a GPU is present");
        String old = System.getProperty(GpuBackendProvider.PROPERTY);
        System.setProperty(GpuBackendProvider.PROPERTY, "gpu");
        try {
            assertTrue(new GpuBackendProvider().backend().isEmpty());
        } finally {
            if (old == null) System.clearProperty(GpuBackendProvider.PROPERTY);
            else System.setProperty(GpuBackendProvider.PROPERTY, old);
        }
    }
}
