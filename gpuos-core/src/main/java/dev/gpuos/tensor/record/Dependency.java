package dev.gpuos.tensor.record;

import dev.gpuos.tensor.Storage;

/** Node {@code after} of a submission must not start before node {@code before} has finished. */
public record Dependency(int before, int after, Hazard hazard, Storage buffer) {
}
