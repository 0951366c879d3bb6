package dev.gpuos.runtime;

/**
 * A registered operator as tasks name it: a stable logical id. The physical slot (which code runs) is looked
 * up when a task is written into the ring, so replacing an operator never changes handles held by callers.
 */
public record OperatorRef(String name, int id) {
    public OperatorRef {
        if (id < 0) {
            throw new IllegalArgumentException("operator id must be >= 0: " + id);
        }
    }
}
