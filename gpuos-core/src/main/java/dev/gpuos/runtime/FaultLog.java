package dev.gpuos.runtime;

import dev.gpuos.runtime.layout.Layouts;
import java.util.Map;
import java.util.TreeMap;

/**
 * Host-side reader of the fault records the agent mirrors into {@link HostControl}. Faults are kept by seq so
 * that whoever waits for a range of tasks can learn whether one of them faulted.
 */
public final class FaultLog {
    private static final int KEEP = 4096;

    private final HostControl control;
    private final TreeMap<Long, TaskFaultException> bySeq = new TreeMap<>();
    private final OperatorNames names;
    private long consumed;
    private long lost;

    /** Names operator slots in fault messages. */
    public interface OperatorNames {
        String nameOf(int slot);
    }

    FaultLog(HostControl control, OperatorNames names) {
        this.control = control;
        this.names = names;
        this.consumed = control.faultCount();
    }

    /** Reads new records; cheap when there are none (one acquire load). */
    synchronized void poll() {
        long count = control.faultCount();
        while (consumed < count) {
            long seq = control.faultSeq(consumed);
            if (seq < 0 || count - consumed > Layouts.FAULT_LOG) {
                lost++;
            } else {
                int code = control.faultCode(consumed);
                int op = control.faultOp(consumed);
                if (control.faultCount() - consumed > Layouts.FAULT_LOG) {
                    lost++; // overwritten while we read it: the fields may mix two records
                    consumed++;
                    continue;
                }
                bySeq.put(seq, new TaskFaultException(seq, code, op, describe(seq, code, op)));
                if (bySeq.size() > KEEP) {
                    bySeq.pollFirstEntry();
                }
            }
            consumed++;
        }
    }

    private String describe(long seq, int code, int op) {
        return switch (code) {
            case Layouts.FAULT_BAD_OP -> "task " + seq + " names operator slot " + op + " (" + names.nameOf(op)
                    + "), which the running worker generation does not contain";
            case Layouts.FAULT_BAD_DESCRIPTOR -> "task " + seq + " has a malformed descriptor; the worker aborted";
            default -> "task " + seq + " reported fault code " + code + " (operator slot " + op + ")";
        };
    }

    /** The first fault recorded for a task in [from, to), or null. */
    synchronized TaskFaultException firstIn(long from, long to) {
        Map.Entry<Long, TaskFaultException> e = bySeq.ceilingEntry(from);
        return e != null && e.getKey() < to ? e.getValue() : null;
    }

    /**
     * What made the agent abort, for the exception that says so: the malformed-descriptor records it mirrored
     * before it exited (the first few), or that none arrived.
     */
    synchronized String abortReason() {
        poll();
        var out = new StringBuilder();
        int shown = 0;
        for (TaskFaultException f : bySeq.values()) {
            if (f.code() != Layouts.FAULT_BAD_DESCRIPTOR) continue;
            if (shown++ == 4) {
                out.append("; ...");
                break;
            }
            out.append(shown == 1 ? "" : "; ").append(f.getMessage());
        }
        return shown > 0 ? out.toString() : "no malformed-descriptor record reached the host fault log (" + consumed
                + " records read, " + lost + " lost)";
    }

    synchronized long lost() {
        return lost;
    }

    synchronized long total() {
        return consumed;
    }
}
