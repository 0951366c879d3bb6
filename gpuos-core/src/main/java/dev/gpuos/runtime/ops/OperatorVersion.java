package dev.gpuos.runtime.ops;

/**
 * A snapshot of one version of a named operator. Versions of a name are numbered from 1 and never reused;
 * the state is the one at the time the snapshot was taken.
 */
public record OperatorVersion(String name, int version, int slot, String source, OperatorState state) {

    @Override
    public String toString() {
        return name + " v" + version + " in slot " + slot + " (" + state + ")";
    }
}
