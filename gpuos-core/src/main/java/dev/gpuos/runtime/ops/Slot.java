package dev.gpuos.runtime.ops;

/** One entry a generation must contain: the code of {@code name} version {@code version} at {@code index}. */
public record Slot(int index, String name, int version, String source) {
}
