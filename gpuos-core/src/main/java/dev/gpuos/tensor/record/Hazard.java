package dev.gpuos.tensor.record;

/** Why one recorded node must wait for an earlier one that touches the same buffer. */
public enum Hazard {
    /** Read after write: the later node reads what the earlier one writes. */
    RAW,
    /** Write after read: the later node overwrites what the earlier one still has to read. */
    WAR,
    /** Write after write: both write; the later value must win. */
    WAW
}
