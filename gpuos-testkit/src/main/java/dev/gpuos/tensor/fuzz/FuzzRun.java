package dev.gpuos.tensor.fuzz;

import java.util.Map;

/**
 * One program run on one backend: an {@link Outcome} per tensor id, and {@code crash} when the run as a whole
 * failed (a sync that threw, a scope that would not close).
 */
public record FuzzRun(Map<Integer, Outcome> outcomes, String crash) {
    public FuzzRun {
        outcomes = Map.copyOf(outcomes);
    }

    static FuzzRun crashed(Map<Integer, Outcome> outcomes, String crash) { return new FuzzRun(outcomes, crash); }
}
