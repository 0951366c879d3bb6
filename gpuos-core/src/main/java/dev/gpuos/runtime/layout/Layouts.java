package dev.gpuos.runtime.layout;

import static dev.gpuos.runtime.layout.StructDef.Scalar.I32;
import static dev.gpuos.runtime.layout.StructDef.Scalar.I64;
import static dev.gpuos.runtime.layout.StructDef.Scalar.U16;
import static dev.gpuos.runtime.layout.StructDef.Scalar.U32;
import static dev.gpuos.runtime.layout.StructDef.Scalar.U64;
import static dev.gpuos.runtime.layout.StructDef.Scalar.U8;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The single source of truth for every structure shared by the host and the worker kernel.
 *
 * <p>Memory map of a running GPUOS instance (capacity {@code C} tasks, a power of two):
 * <pre>
 *   host, pinned + mapped:  gpuos_task hostRing[C]        host writes descriptors, agent copies them
 *                           gpuos_host_control            doorbell (host) / completion + faults (agent)
 *   device:                 gpuos_task ring[C]            agent writes, workers read
 *                           u64 tileMap[T]                agent writes: tile ticket -> task seq
 *                           u32 tileDone[C]               workers count finished tiles per task
 *                           u64 done[C], DONE_STRIDE_B.   seq + 1 once the task's last tile finished
 *                           gpuos_queue_state             cursor (workers), publication (agent)
 *                           gpuos_params                  host writes before each launch
 * </pre>
 * The device structures outlive a worker generation: parking a generation leaves them as they are, and the
 * next generation continues from them.
 */
public final class Layouts {
    private Layouts() {}

    public static final int MAX_DIMS = 8;
    public static final int MAX_REFS = 4;
    public static final int MAX_DEPS = 6;
    public static final int MAX_ARGS = 6;
    /** Tasks are split into at most this many tiles, so the agent's tile map stays cheap to fill. */
    public static final int MAX_TILES_PER_TASK = 4096;
    /** Threads per worker block; operators are written for a block of this size (read {@code blockDim.x}). */
    public static final int BLOCK_THREADS = 256;
    /**
     * Bytes of {@code done[]} per task: the worker gives each completion flag (a u64) a 128-byte line of its own,
     * so that a block marking a task done and the block spinning on that flag share it with nobody.
     */
    public static final int DONE_STRIDE_BYTES = 128;

    /** Fault codes the agent or a worker report in {@code gpuos_host_control.faultCode}. */
    public static final int FAULT_NONE = 0;
    public static final int FAULT_BAD_OP = 1;
    public static final int FAULT_BAD_DESCRIPTOR = 2;

    /** {@code gpuos_host_control.agentState}. */
    public static final int AGENT_NOT_STARTED = 0;
    public static final int AGENT_RUNNING = 1;
    public static final int AGENT_PARKED = 2;
    public static final int AGENT_ABORTED = 3;

    /** {@code gpuos_task.flags} bit the runtime reserves: the worker timestamps this task (see traceSeq). */
    public static final int TASK_FLAG_TRACE = 0x8000;

    /**
     * {@code gpuos_task.flags} bit the runtime reserves: the task's operand records are not in the host ring but
     * in device memory at {@code refsAt} (a replayed batch keeps them there), and the agent copies them from
     * there. The host then writes only the header.
     */
    public static final int TASK_FLAG_REFS_IN_DEVICE = 0x4000;

    /**
     * {@code gpuos_task.op} of an EXPANSION header: not a task but a whole batch of {@code args[0]} tasks (seqs
     * {@code [seq, seq + args[0])}, tiles from {@code tileBase}) whose descriptors lie in device memory at
     * {@code refsAt} (a task template, see {@code dev.gpuos.runtime.TaskTemplate}). The agent copies them from
     * there, patching seq, tileBase and deps, instead of reading the host ring; the host writes this one header.
     */
    public static final long OP_EXPAND = 0xFFFF_FFFFL;

    /** {@code gpuos_tensor_ref.flags}: the elements are dense and row-major (strides may be ignored). */
    public static final int REF_CONTIGUOUS = 1;

    public static final StructDef TENSOR_REF = StructDef.struct("gpuos_tensor_ref",
                    "A tensor operand: device address of element 0, dtype, shape and element strides.")
            .field("data", U64, "host", "device address of the first element (already includes the view offset)")
            .field("numel", I64, "host", "number of elements")
            .field("dtype", U8, "host", "dtype code (dev.gpuos.runtime.DTypeCode)")
            .field("ndim", U8, "host", "number of dimensions, 0..8")
            .field("flags", U16, "host", "REF_* flags")
            .field("reserved", U32, "host", "zero")
            .array("sizes", I32, MAX_DIMS, "host", "extent of each dimension")
            .array("strides", I64, MAX_DIMS, "host", "stride of each dimension, in elements (may be 0 or negative)")
            .field("aux", U64, "host", "operator-defined extra word")
            .build();

    /** Timestamps a worker writes per traced task ({@code gpuos_host_control.traceTask}). */
    public static final int TRACE_TASK_STAMPS = 6;

    /** Words of {@code gpuos_host_control.agentProfile} (see HostControl.agentProfile). */
    public static final int AGENT_PROFILE_WORDS = 8;

    /** Fault records kept in the device log and mirrored to the host; older ones are overwritten. */
    public static final int FAULT_LOG = 64;

    public static final StructDef FAULT_ENTRY = StructDef.struct("gpuos_fault_entry",
                    "One fault record: which task, what happened. 'tag' (index + 1) is written last, with release.")
            .field("seq", U64, "reporter", "seq of the faulting task")
            .field("word", U64, "reporter", "FAULT_* code << 32 | operator slot")
            .field("tag", U64, "reporter (release)", "log index + 1 once the entry is complete")
            .field("reserved", U64, "reporter", "zero")
            .build();

    public static final StructDef TASK = StructDef.struct("gpuos_task",
                    "A fixed-size task descriptor. Written by the host into the host ring; the agent copies it "
                            + "to the device ring at the same slot before publishing it.")
            .field("op", U32, "host", "physical operator slot (resolved through the alias table at submit)")
            .field("ntiles", U32, "host", "number of tiles, 1..MAX_TILES_PER_TASK")
            .field("seq", U64, "host", "global sequence number; slot = seq & (capacity - 1)")
            .field("tileBase", U64, "host", "global tile ticket of tile 0 (prefix sum of ntiles)")
            .field("flags", U16, "host", "operator-defined flags; bits 15 (TASK_FLAG_TRACE) and 14 (TASK_FLAG_REFS_IN_DEVICE) are the runtime's")
            .field("ndeps", U8, "host", "number of valid deps")
            .field("nrefs", U8, "host", "number of valid refs")
            .field("tileSize", U32, "host", "elements (or rows) per tile, operator-defined")
            .field("refsAt", U64, "host", "with TASK_FLAG_REFS_IN_DEVICE: device address of the nrefs operand records")
            .field("seal", U64, "host (release, last)", "first task of a submission: TaskSeal of the descriptor, so "
                    + "the agent may take it from one read of its slot before the doorbell; else zero")
            .array("deps", U64, MAX_DEPS, "host", "seqs of earlier tasks that must complete first (all < seq)")
            .array("args", U64, MAX_ARGS, "host", "scalar arguments, raw bits (long or double)")
            .nested("refs", TENSOR_REF, MAX_REFS, "host", "operands")
            .build();

    public static final StructDef QUEUE_STATE = StructDef.struct("gpuos_queue_state",
                    "Device-resident queue state that survives generation swaps. Each writer owns a 128-byte line.")
            .alignTo(128)
            .field("tileCursor", U64, "workers (atomicAdd)", "next tile ticket to hand out")
            .alignTo(128)
            .field("pubTiles", U64, "agent (release)", "tickets < pubTiles belong to published tasks")
            .field("pubSeq", U64, "agent (release, before pubTiles)", "tasks < pubSeq are in the device ring")
            .field("watermark", U64, "agent", "every task < watermark is complete")
            .field("parking", U32, "agent", "1: publishing stopped; workers exit once no published tile is left")
            .field("abort", U32, "agent", "1: every block exits as soon as it can, work may be left undone")
            .field("expBase", U64, "agent", "first seq of the expansion being staged (see OP_EXPAND)")
            .field("expEnd", U64, "agent", "seq after its last task; pubSeq < expEnd: the next tasks come from its template")
            .field("expTemplate", U64, "agent", "device address of its descriptors (task k at expTemplate + k * sizeof(gpuos_task))")
            .field("expTileBase", U64, "agent", "tile ticket of its first tile (template tileBase fields are relative to it)")
            .alignTo(128)
            .field("faultCount", U64, "workers (atomicAdd reserves a log entry)", "faults reported so far")
            .nested("faultLog", FAULT_ENTRY, FAULT_LOG, "the worker that reserved the entry", "ring of fault records")
            .alignTo(128)
            .build();

    public static final StructDef HOST_CONTROL = StructDef.struct("gpuos_host_control",
                    "Pinned, device-mapped host memory: the only memory both sides poll. Only the agent reads "
                            + "the host's line, over PCIe, so no worker ever polls host memory.")
            .alignTo(128)
            .field("submittedSeq", U64, "host (release)", "doorbell: descriptors for every seq < submittedSeq are written")
            .field("parkRequest", U32, "host", "generation number the host asks to park")
            .field("abortRequest", U32, "host", "non-zero: abort the running generation")
            .field("traceSeq", U64, "host", "seq whose path through the device is timestamped (~0: none)")
            .field("sealSalt", U64, "host (before the first launch)", "random per queue: part of every TaskSeal, so a "
                    + "sealed descriptor a previous queue left in recycled pinned memory never passes")
            .alignTo(128)
            .field("completedSeq", U64, "agent (release)", "completion watermark: every seq < completedSeq is done")
            .field("heartbeat", U64, "agent", "incremented by the agent's loop; stalls mean a dead or hung worker")
            .field("generation", U32, "agent", "generation number of the running agent")
            .field("agentState", U32, "agent", "AGENT_* state of the generation named in 'generation'")
            .alignTo(128)
            .field("traceDoorbell", U64, "trace (agent or worker, traced task only)", "agent: globaltimer ns: round in which the agent read the traced task's doorbell")
            .field("tracePublished", U64, "trace (agent or worker, traced task only)", "agent: globaltimer ns: traced task published to the workers")
            .field("traceStart", U64, "trace (agent or worker, traced task only)", "worker: globaltimer ns: a block starts the traced task's operator")
            .field("traceEnd", U64, "trace (agent or worker, traced task only)", "worker: globaltimer ns: the traced task marked done")
            .field("traceCompleted", U64, "trace (agent or worker, traced task only)", "agent: globaltimer ns: completion watermark passed the traced task")
            .field("traceRead", U64, "trace (agent or worker, traced task only)", "agent: globaltimer ns: the traced task's descriptor in the device ring (read over PCIe), before validation and publication")
            .array("traceTask", U64, 2 * TRACE_TASK_STAMPS, "trace (worker: the block marking a TASK_FLAG_TRACE task done, after done)",
                    "globaltimer ns, TRACE_TASK_STAMPS per seq parity (a task and the one before it can both be traced),"
                            + " from [TRACE_TASK_STAMPS * (seq & 1)]: dependency wait begins, last dependency seen done,"
                            + " after the acquire, operator starts, operator done (before the release), done released")
            .alignTo(128)
            .array("agentProfile", U64, AGENT_PROFILE_WORDS, "agent (with the traced task's publication)",
                    "cumulative since launch: staging rounds, tasks staged, then globaltimer ns spent in each part of"
                            + " them (deciding, copying, validating, tile map, publishing), completion publications")
            .alignTo(128)
            .field("faultCount", U64, "agent (release, after the entries)", "fault records mirrored so far")
            .nested("faultLog", FAULT_ENTRY, FAULT_LOG, "agent", "mirror of the device fault log")
            .alignTo(128)
            .build();

    public static final StructDef PARAMS = StructDef.struct("gpuos_params",
                    "Kernel parameter block, written by the host (context idle) before each generation launch.")
            .field("ring", U64, "host", "device address of gpuos_task[capacity]")
            .field("hostRing", U64, "host", "device view of the host ring (mapped pinned memory)")
            .field("tileMap", U64, "host", "device address of u64[tileCapacity]")
            .field("tileDone", U64, "host", "device address of u32[capacity]")
            .field("done", U64, "host", "device address of the completion flags, DONE_STRIDE_BYTES per task")
            .field("state", U64, "host", "device address of gpuos_queue_state")
            .field("control", U64, "host", "device view of gpuos_host_control")
            .field("capacity", U64, "host", "ring capacity in tasks, power of two")
            .field("tileCapacity", U64, "host", "tile map capacity, power of two")
            .field("generation", U32, "host", "this generation's number")
            .field("smemBytes", U32, "host", "dynamic shared memory per block, offered to operators")
            .field("spinMaxNs", U32, "host", "longest __nanosleep of an idle block")
            .field("stageChunk", U32, "host", "most tasks the agent stages before publishing")
            .build();

    /** Every shared struct, in dependency order, for the header generator and the layout tests. */
    public static Map<String, StructDef> all() {
        var m = new LinkedHashMap<String, StructDef>();
        for (StructDef s : new StructDef[] {TENSOR_REF, FAULT_ENTRY, TASK, QUEUE_STATE, HOST_CONTROL, PARAMS}) {
            m.put(s.cName(), s);
        }
        return m;
    }

    /** Integer constants exported to CUDA as {@code #define GPUOS_<NAME>}. */
    public static Map<String, Long> constants() {
        var m = new LinkedHashMap<String, Long>();
        m.put("MAX_DIMS", (long) MAX_DIMS);
        m.put("MAX_REFS", (long) MAX_REFS);
        m.put("MAX_DEPS", (long) MAX_DEPS);
        m.put("MAX_ARGS", (long) MAX_ARGS);
        m.put("MAX_TILES_PER_TASK", (long) MAX_TILES_PER_TASK);
        m.put("FAULT_LOG", (long) FAULT_LOG);
        m.put("BLOCK_THREADS", (long) BLOCK_THREADS);
        m.put("DONE_STRIDE_BYTES", (long) DONE_STRIDE_BYTES);
        m.put("TRACE_TASK_STAMPS", (long) TRACE_TASK_STAMPS);
        m.put("AGENT_PROFILE_WORDS", (long) AGENT_PROFILE_WORDS);
        m.put("FAULT_NONE", (long) FAULT_NONE);
        m.put("FAULT_BAD_OP", (long) FAULT_BAD_OP);
        m.put("FAULT_BAD_DESCRIPTOR", (long) FAULT_BAD_DESCRIPTOR);
        m.put("REF_CONTIGUOUS", (long) REF_CONTIGUOUS);
        m.put("TASK_FLAG_TRACE", (long) TASK_FLAG_TRACE);
        m.put("TASK_FLAG_REFS_IN_DEVICE", (long) TASK_FLAG_REFS_IN_DEVICE);
        m.put("OP_EXPAND", OP_EXPAND);
        m.put("AGENT_NOT_STARTED", (long) AGENT_NOT_STARTED);
        m.put("AGENT_RUNNING", (long) AGENT_RUNNING);
        m.put("AGENT_PARKED", (long) AGENT_PARKED);
        m.put("AGENT_ABORTED", (long) AGENT_ABORTED);
        for (var d : DTypeCode.values()) {
            m.put("DTYPE_" + d.name(), (long) d.code);
        }
        return m;
    }
}
