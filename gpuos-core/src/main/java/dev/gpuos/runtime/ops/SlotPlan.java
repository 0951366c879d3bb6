package dev.gpuos.runtime.ops;

/**
 * A reserved slot for a new operator version, returned by {@link AliasTable#begin}: the caller compiles the
 * source into the next generation at {@code slot}, then calls {@link AliasTable#activate} once that
 * generation runs, or {@link AliasTable#abort} if building it failed.
 */
public record SlotPlan(String name, int version, int slot) {
}
