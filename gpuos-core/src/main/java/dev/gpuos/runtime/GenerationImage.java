package dev.gpuos.runtime;

import java.util.Set;

/**
 * One linked, loadable worker module: the worker kernel plus every operator slot it dispatches to.
 *
 * @param cubin    the linked image (nvJitLink output)
 * @param slots    physical operator slots present in the dispatch table
 * @param buildNanos time spent compiling and linking it (0 when every piece came from the cache)
 */
public record GenerationImage(byte[] cubin, Set<Integer> slots, long buildNanos) {
    public GenerationImage {
        slots = Set.copyOf(slots);
    }
}
