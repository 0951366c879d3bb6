package dev.gpuos.bench.workloads;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** CUDA sources of the raw-task operators and the launch wrapper (resources, so they read as .cu files). */
final class OperatorSource {
    private OperatorSource() {}

    /** add_f32 is the runtime benchmark's operator (ops/); mul_f32 and launch_one live with the workloads. */
    static String load(String name) {
        String path = name.equals("add_f32") ? "/dev/gpuos/bench/ops/add_f32.cu" : "/dev/gpuos/bench/workloads/" + name + ".cu";
        try (InputStream in = OperatorSource.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + path);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
