package dev.gpuos.runtime;

/** A task the worker refused or could not run (e.g. its operator slot is not in the running generation). */
public final class TaskFaultException extends GpuOSException {
    private final long seq;
    private final int code;
    private final int opSlot;

    public TaskFaultException(long seq, int code, int opSlot, String message) {
        super(message);
        this.seq = seq;
        this.code = code;
        this.opSlot = opSlot;
    }

    public long seq() {
        return seq;
    }

    public int code() {
        return code;
    }

    public int opSlot() {
        return opSlot;
    }
}
