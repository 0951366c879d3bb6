package dev.gpuos.runtime.ops;

import java.util.List;

/** A task named an operator that has no active version. */
public final class UnknownOperatorException extends RuntimeException {

    private static final int LISTED = 50;

    private final String name;
    private final List<String> knownNames;

    public UnknownOperatorException(String name, List<String> knownNames, String detail) {
        super("unknown operator '" + name + "'" + detail + "; known operators: "
                + (knownNames.size() <= LISTED ? knownNames
                        : knownNames.subList(0, LISTED) + " and " + (knownNames.size() - LISTED) + " more"));
        this.name = name;
        this.knownNames = List.copyOf(knownNames);
    }

    public String name() {
        return name;
    }

    /** Names with an active version when the lookup failed, sorted. */
    public List<String> knownNames() {
        return knownNames;
    }
}
