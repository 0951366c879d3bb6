package dev.gpuos.runtime;

import dev.gpuos.runtime.layout.Layouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Flyweight over {@code gpuos_host_control}, the pinned page both sides poll. The host writes only the first
 * line (doorbell, park and abort requests); the agent writes only the second. Acquire/release pairs here match
 * the agent's {@code ld.acquire.sys}/{@code st.release.sys}.
 */
public final class HostControl {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    static final long SUBMITTED = Layouts.HOST_CONTROL.offset("submittedSeq");
    static final long PARK_REQUEST = Layouts.HOST_CONTROL.offset("parkRequest");
    static final long ABORT_REQUEST = Layouts.HOST_CONTROL.offset("abortRequest");
    static final long COMPLETED = Layouts.HOST_CONTROL.offset("completedSeq");
    static final long HEARTBEAT = Layouts.HOST_CONTROL.offset("heartbeat");
    static final long GENERATION = Layouts.HOST_CONTROL.offset("generation");
    static final long AGENT_STATE = Layouts.HOST_CONTROL.offset("agentState");
    static final long TRACE_SEQ = Layouts.HOST_CONTROL.offset("traceSeq");
    static final long SEAL_SALT = Layouts.HOST_CONTROL.offset("sealSalt");
    static final long TRACE_DOORBELL = Layouts.HOST_CONTROL.offset("traceDoorbell");
    static final long TRACE_TASK = Layouts.HOST_CONTROL.offset("traceTask");
    static final long AGENT_PROFILE = Layouts.HOST_CONTROL.offset("agentProfile");
    static final long FAULT_COUNT = Layouts.HOST_CONTROL.offset("faultCount");
    static final long FAULT_LOG = Layouts.HOST_CONTROL.offset("faultLog");
    static final long FAULT_ENTRY_BYTES = Layouts.FAULT_ENTRY.size();
    static final long ENTRY_SEQ = Layouts.FAULT_ENTRY.offset("seq");
    static final long ENTRY_WORD = Layouts.FAULT_ENTRY.offset("word");
    static final long ENTRY_TAG = Layouts.FAULT_ENTRY.offset("tag");

    private final MemorySegment page;

    public HostControl(MemorySegment page) {
        if (page.byteSize() < Layouts.HOST_CONTROL.size()) {
            throw new IllegalArgumentException("control page of " + page.byteSize() + " bytes, need "
                    + Layouts.HOST_CONTROL.size());
        }
        this.page = page;
    }

    /** Zeroes the page and draws a new seal salt; only while no agent runs (before the first launch). */
    public void reset() {
        page.asSlice(0, Layouts.HOST_CONTROL.size()).fill((byte) 0);
        LONG.setRelease(page, TRACE_SEQ, -1L);
        LONG.setRelease(page, SEAL_SALT, java.util.concurrent.ThreadLocalRandom.current().nextLong());
    }

    /** Part of every {@link dev.gpuos.runtime.layout.TaskSeal} of this queue (fixed from {@link #reset} on). */
    public long sealSalt() {
        return (long) LONG.getOpaque(page, SEAL_SALT);
    }

    /**
     * Asks the device to timestamp one task's path (doorbell seen, published, operator start, done, completion
     * published; GPU globaltimer nanoseconds), for finding where latency goes. -1 traces nothing.
     */
    public void traceSeq(long seq) {
        clearTaskTraces();
        for (int i = 0; i < 6; i++) {
            LONG.setRelease(page, TRACE_DOORBELL + 8L * i, 0L);
        }
        LONG.setRelease(page, TRACE_SEQ, seq);
    }

    /** Zeroes the stamps {@link #taskTrace} reads (before submitting the traced tasks). */
    public void clearTaskTraces() {
        for (int i = 0; i < 2 * Layouts.TRACE_TASK_STAMPS; i++) {
            LONG.setRelease(page, TRACE_TASK + 8L * i, 0L);
        }
    }

    /**
     * The worker's stamps of the last task flagged {@code TASK_FLAG_TRACE} with this seq's parity (so a task and
     * the one before it can both be traced): dependency wait begins, last dependency seen done, after the acquire
     * that follows, operator starts, operator done (the barrier after it passed, before the release of done),
     * done released (GPU globaltimer ns; 0 where not written yet). The worker writes them after marking the task
     * done, so read them once later work completed.
     */
    public long[] taskTrace(long seq) {
        long[] t = new long[Layouts.TRACE_TASK_STAMPS];
        long at = TRACE_TASK + 8L * Layouts.TRACE_TASK_STAMPS * (seq & 1);
        for (int i = 0; i < t.length; i++) {
            t[i] = (long) LONG.getAcquire(page, at + 8L * i);
        }
        return t;
    }

    /**
     * The timestamps of the traced task (0 where not reached yet): doorbell round, published, operator starts,
     * done, completion published, then descriptor read (between the first two).
     */
    public long[] trace() {
        long[] t = new long[6];
        for (int i = 0; i < 6; i++) {
            t[i] = (long) LONG.getAcquire(page, TRACE_DOORBELL + 8L * i);
        }
        return t;
    }

    /**
     * The agent's staging profile, cumulative since its generation launched, as of the last publication of the
     * traced task (see {@link #traceSeq}): staging rounds, tasks staged, globaltimer ns spent deciding (round
     * start to decision, PCIe reads included), copying descriptors, validating, filling the tile map and
     * publishing, and the number of completion publications. Differences between two reads give one run's.
     */
    public long[] agentProfile() {
        long[] p = new long[Layouts.AGENT_PROFILE_WORDS];
        for (int i = 0; i < p.length; i++) {
            p[i] = (long) LONG.getAcquire(page, AGENT_PROFILE + 8L * i);
        }
        return p;
    }

    public MemorySegment segment() {
        return page;
    }

    public void publishSubmitted(long seqEnd) {
        LONG.setRelease(page, SUBMITTED, seqEnd);
    }

    public long submitted() {
        return (long) LONG.getAcquire(page, SUBMITTED);
    }

    public void requestPark(int generation) {
        INT.setRelease(page, PARK_REQUEST, generation);
    }

    public void requestAbort() {
        INT.setRelease(page, ABORT_REQUEST, 1);
    }

    public void clearAbort() {
        INT.setRelease(page, ABORT_REQUEST, 0);
    }

    public long completed() {
        return (long) LONG.getAcquire(page, COMPLETED);
    }

    public long heartbeat() {
        return (long) LONG.getAcquire(page, HEARTBEAT);
    }

    public int generation() {
        return (int) INT.getAcquire(page, GENERATION);
    }

    public int agentState() {
        return (int) INT.getAcquire(page, AGENT_STATE);
    }

    /** Fault records mirrored so far; entry {@code i} lives at {@code i % FAULT_LOG}. */
    public long faultCount() {
        return (long) LONG.getAcquire(page, FAULT_COUNT);
    }

    private long entry(long index) {
        return FAULT_LOG + (index % Layouts.FAULT_LOG) * FAULT_ENTRY_BYTES;
    }

    /** Seq of fault record {@code index}, or -1 if that record was already overwritten by a newer one. */
    public long faultSeq(long index) {
        long e = entry(index);
        if ((long) LONG.getAcquire(page, e + ENTRY_TAG) != index + 1) {
            return -1;
        }
        return (long) LONG.getAcquire(page, e + ENTRY_SEQ);
    }

    public int faultCode(long index) {
        return (int) ((long) LONG.getAcquire(page, entry(index) + ENTRY_WORD) >>> 32);
    }

    public int faultOp(long index) {
        return (int) (long) LONG.getAcquire(page, entry(index) + ENTRY_WORD);
    }

    // The agent's side, for the simulated device (dev.gpuos.runtime.sim) which plays the agent in Java.

    public void agentPublishCompleted(long seq) {
        LONG.setRelease(page, COMPLETED, seq);
    }

    public void agentHeartbeat(long beat) {
        LONG.setOpaque(page, HEARTBEAT, beat);
    }

    public void agentState(int generation, int state) {
        INT.setRelease(page, GENERATION, generation);
        INT.setRelease(page, AGENT_STATE, state);
    }

    public int parkRequest() {
        return (int) INT.getAcquire(page, PARK_REQUEST);
    }

    public boolean abortRequested() {
        return (int) INT.getAcquire(page, ABORT_REQUEST) != 0;
    }

    /** Mirrors fault record {@code index} and publishes the count (the agent's order: entry, then count). */
    public void agentFault(long index, long seq, int code, int op) {
        long e = entry(index);
        LONG.setRelease(page, e + ENTRY_SEQ, seq);
        LONG.setRelease(page, e + ENTRY_WORD, ((long) code << 32) | (op & 0xFFFFFFFFL));
        LONG.setRelease(page, e + ENTRY_TAG, index + 1);
        LONG.setRelease(page, FAULT_COUNT, index + 1);
    }
}
