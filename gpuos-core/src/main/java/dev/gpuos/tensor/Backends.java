package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;

import java.util.Comparator;
import java.util.Optional;
import java.util.ServiceLoader;

/** Chooses the default backend once per JVM: the best available {@link BackendProvider}, else the CPU. */
public final class Backends {
    private Backends() {}

    private static final class Default {
        static final Backend BACKEND = ServiceLoader.load(BackendProvider.class).stream()
                .map(ServiceLoader.Provider::get)
                .sorted(Comparator.comparingInt(BackendProvider::priority).reversed())
                .map(BackendProvider::backend)
                .flatMap(Optional::stream)
                .findFirst()
                .orElseGet(CpuBackend::shared);
    }

    public static Backend defaultBackend() {
        return Default.BACKEND;
    }
}
