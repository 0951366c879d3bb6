package dev.gpuos.tensor;

import java.util.Optional;

/**
 * How a backend offers itself to {@link TensorScope#open()}: implementations are found with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/dev.gpuos.tensor.BackendProvider}); the available
 * provider with the highest priority wins, and the CPU backend (priority 0) is the fallback.
 */
public interface BackendProvider {
    /** Higher wins. The built-in CPU backend has 0; a GPU backend should use a positive value. */
    int priority();

    /** The backend if it can run on this machine (e.g. a driver and a device are present), else empty. */
    Optional<Backend> backend();
}
