package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuUnavailableException;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.BackendProvider;

import java.util.Optional;

/**
 * Offers the GPU backend to {@link dev.gpuos.tensor.TensorScope#open()}, but only on request: system property
 * {@code gpuos.tensor.backend=gpu} or environment {@code GPUOS_TENSOR_BACKEND=gpu}. Starting a GpuOS is not
 * cheap (a worker compile, a context, a kernel that occupies the whole GPU until the JVM exits), so merely
 * having a GPU must not change where every default scope computes. The GpuOS started here lives until JVM
 * exit (its shutdown hook closes it).
 */
public final class GpuBackendProvider implements BackendProvider {
    public static final String PROPERTY = "gpuos.tensor.backend";
    public static final String ENVIRONMENT = "GPUOS_TENSOR_BACKEND";

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<Backend> backend() {
        String wanted = System.getProperty(PROPERTY, System.getenv(ENVIRONMENT));
        if (!"gpu".equalsIgnoreCase(wanted) || !GpuOS.gpuAvailable()) return Optional.empty();
        try {
            return Optional.of(new GpuBackend(GpuOS.start()));
        } catch (GpuUnavailableException e) {
            System.getLogger(GpuBackendProvider.class.getName()).log(System.Logger.Level.WARNING,
                    "gpu backend requested but unavailable: " + e.getMessage());
            return Optional.empty();
        }
    }
}
