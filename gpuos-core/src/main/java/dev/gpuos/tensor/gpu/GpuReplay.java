package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.TaskTemplate;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.tensor.Replay;
import dev.gpuos.tensor.Tensor;

import java.util.List;

/**
 * A program captured once by {@link GpuBackend#capture} and run again as the same task batch: recording, fusion
 * and planning happen at capture, a run is one submission of the prepared descriptors (the GPUOS counterpart
 * of replaying a CUDA graph). The descriptors stay in device memory as a {@link TaskTemplate}: a run writes ONE
 * header into the ring and the worker's agent copies the tasks itself, so the host's cost per run does not grow
 * with the number of tasks. Every run reads the captured input tensors as they are when it runs and
 * overwrites the captured output tensors; read them (or sync) after {@link #run()}.
 *
 * <p>Ordering: a run starts after everything recorded on the backend before it has completed (it syncs
 * first), and ops recorded after it see its writes, like any other submission. Runs of one replay do not
 * overlap each other. Closing a tensor the replay uses makes later runs fail with {@link IllegalStateException}.
 * A bad index_select index in a run fails only reads of what that run computed from it (and of what is computed
 * from those later), never a sync or another tensor; a later run with good indices computes good results
 * ({@link ReplayFaults}).
 *
 * <p>A program captured with {@link GpuBackend#captureReturning} names its {@link #outputs()}: only those, and
 * tensors that existed before the capture, are guaranteed to be in memory after a run. The tensors it created
 * and did not return are intermediates: a fused task may keep them in registers, and using them after the
 * capture (reading them, or any op on them) throws {@link CapturedIntermediateException}.
 *
 * <p>{@link #close()} gives the template's device memory back and drops the replay's references to its tensors
 * (so their memory can be reclaimed once nothing else uses them); a run after it throws
 * {@link IllegalStateException}. An unclosed replay gives its template back when it becomes unreachable.
 */
public final class GpuReplay implements Replay {
    private final GpuBackend backend;
    final TaskBatch batch;
    /** The batch as a template in device memory (a run writes one header), or null: every run writes the batch. */
    final TaskTemplate template;
    private final int nodes;
    private GpuStorage[] read, written;  // emptied by close (guarded by the backend's submission lock)
    private final int[] readAt, writtenAt;
    /** Its index_selects' bad indices, and which written tensors descend from them (see ReplayFaults). */
    private final ReplayFaults.Writes faults;
    private final Operators operators;
    private final List<Tensor> outputs;
    private List<Task> tasks;
    private long runs;
    private volatile boolean closed;

    /** Per batch index: readable name, registered source, shared memory and operator of each task. */
    record Operators(String[] names, String[] sources, int[] smemBytes, OperatorRef[] refs) {}

    /**
     * One task of the captured batch, read-only: what the worker runs for it. A debugging aid, and what it takes
     * to run the same operators as kernels of their own (the launch-per-op baseline of the workload benchmark).
     *
     * @param name       readable operator name; {@value #JOIN} for a join task, which only waits on others (in
     *                   stream order it can be skipped)
     * @param operator   the registered operator (its id is what the descriptor's op field holds)
     * @param source     the operator's source as registered: the {@code GPUOS_OP} body with its prefix (support
     *                   header, prelude), without the runtime header {@code gpuos_device.cuh}
     * @param words      the descriptor, {@code TASK_BYTES / 8} little-endian words in the {@code gpuos_task} layout
     *                   ({@link Layouts#TASK}). Its op field is the logical operator id and its deps are indices
     *                   within the batch (the queue rewrites both at submit), seq and tileBase are unset; operand
     *                   r's data word is an address inside {@code operands.get(r)}
     * @param smemBytes  dynamic shared memory the operator uses through {@code env->smem} (0: none)
     * @param operands   the buffer each operand points into, in operand order
     */
    public record Task(String name, OperatorRef operator, String source, long[] words, int smemBytes,
                       List<DeviceBuffer> operands) {
        public static final String JOIN = "join";

        public Task {
            words = words.clone();
            operands = List.copyOf(operands);
            if (words.length * 8L != Layouts.TASK.size()) {
                throw new IllegalArgumentException("a descriptor is " + Layouts.TASK.size() + " bytes, not "
                        + words.length * 8L);
            }
        }

        @Override
        public long[] words() {
            return words.clone();
        }

        public boolean isJoin() {
            return JOIN.equals(name);
        }

        /** Tiles the task is split into: the grid of a kernel of its own. */
        public int ntiles() {
            return (int) field(TaskFields.NTILES, 32);
        }

        /** The device address operand {@code r} reads or writes from (its view offset included). */
        public long operandAddress(int r) {
            java.util.Objects.checkIndex(r, operands.size());
            return field(TaskFields.REFS + r * TaskFields.REF_BYTES + TaskFields.REF_DATA, 64);
        }

        private long field(long byteOffset, int width) {
            long w = words[(int) (byteOffset >>> 3)] >>> ((byteOffset & 7) * 8);
            return width == 64 ? w : w & ((1L << width) - 1);
        }
    }

    GpuReplay(GpuBackend backend, TaskBatch batch, TaskTemplate template, int nodes, List<GpuStorage> read, List<Integer> readAt,
              List<GpuStorage> written, List<Integer> writtenAt, ReplayFaults.Writes faults, Operators operators,
              List<Tensor> outputs) {
        this.backend = backend;
        this.batch = batch;
        this.template = template;
        this.nodes = nodes;
        this.read = read.toArray(GpuStorage[]::new);
        this.readAt = readAt.stream().mapToInt(Integer::intValue).toArray();
        this.written = written.toArray(GpuStorage[]::new);
        this.writtenAt = writtenAt.stream().mapToInt(Integer::intValue).toArray();
        this.faults = faults;
        this.operators = operators;
        this.outputs = List.copyOf(outputs);
    }

    /**
     * The tensors the captured program returned, in its order ({@link GpuBackend#captureReturning}); read them
     * after {@link #run()}. Empty for a program captured with {@link GpuBackend#capture(Runnable)}, which stores
     * every tensor it writes.
     */
    @Override
    public List<Tensor> outputs() {
        return outputs;
    }

    /**
     * The captured tasks in batch order, joins included (see {@link Task}). Operand addresses are valid while
     * the captured tensors are open, in this GpuOS's CUDA context only.
     */
    public synchronized List<Task> tasks() {
        if (tasks == null) {
            List<Task> out = new java.util.ArrayList<>(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                OperatorRef ref = operators.refs()[i];
                if (ref.id() != batch.operatorId(i)) {
                    throw new IllegalStateException("captured task " + i + " (" + operators.names()[i] + ") carries "
                            + "operator id " + batch.operatorId(i) + ", but its operator " + ref + " has id " + ref.id());
                }
                List<DeviceBuffer> operands = new java.util.ArrayList<>();
                for (int r = 0; r < batch.operandCount(i); r++) operands.add(batch.operandBuffer(i, r));
                out.add(new Task(operators.names()[i], ref, operators.sources()[i], standalone(batch.descriptorWords(i)),
                        operators.smemBytes()[i], operands));
            }
            tasks = List.copyOf(out);
        }
        return tasks;
    }

    /**
     * The descriptor as a task of its own: the operand records in place, without the ring's note that they also
     * lie in device memory (a replayed batch's, see TaskBatch#refsInDevice).
     */
    private static long[] standalone(long[] words) {
        int flagsWord = (int) (TaskFields.FLAGS >>> 3), flagsShift = (int) ((TaskFields.FLAGS & 7) * 8);
        words[flagsWord] &= ~((long) Layouts.TASK_FLAG_REFS_IN_DEVICE << flagsShift);
        words[(int) (TaskFields.REFS_AT >>> 3)] = 0;
        return words;
    }

    /**
     * Submits the captured tasks once more (after syncing what was recorded before); returns without waiting.
     *
     * @throws IllegalStateException after {@link #close()}, or when a tensor the replay uses was closed
     */
    @Override
    public void run() {
        backend.runReplay(this);
    }

    /** Recorded ops the capture held (nodes without effect excluded). */
    public int nodeCount() {
        return nodes;
    }

    /** Tasks one run submits (joins included). */
    public int taskCount() {
        return batch.size();
    }

    /** Runs so far. */
    @Override
    public synchronized long runs() {
        return runs;
    }

    /**
     * Gives the task template back (reused only after every task submitted so far completed, so a run in flight
     * finishes) and drops the references to the captured tensors. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        backend.closeReplay(this);
    }

    /** Called by the backend between submissions, so no run is being submitted meanwhile. */
    void closeBetweenSubmissions() {
        if (closed) return;
        closed = true;
        if (template != null) template.release();
        faults.owner().replayClosed();
        synchronized (this) {
            read = new GpuStorage[0];
            written = new GpuStorage[0];
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /** Throws if this replay was closed or a tensor it touches was released. */
    void checkLive() {
        if (closed) {
            throw new IllegalStateException("this GpuReplay was closed (its task template was given back); capture the"
                    + " program again to run it");
        }
        for (GpuStorage s : read) s.block();
        for (GpuStorage s : written) s.block();
    }

    /**
     * Submits one run (the backend's submission lock held, tensors checked live) and returns the seq after it.
     * The faults object is locked from the submit until its run is noted, so a read draining the program's
     * fault log never sees a run whose entries may be half written.
     */
    long submitRun(dev.gpuos.GpuOS os, long completed) {
        synchronized (faults.owner()) {
            long end = template != null ? os.submit(template) : os.submit(batch);
            long base = end - batch.size();
            noteRun(base, completed);
            faults.noteRun(base, end);
            return end;
        }
    }

    /** Records the tasks of a run that started at {@code base} as the last users of their buffers. */
    private synchronized void noteRun(long base, long completed) {
        for (int i = 0; i < read.length; i++) read[i].noteRead(base + readAt[i], completed);
        for (int i = 0; i < written.length; i++) written[i].noteWrite(base + writtenAt[i]);
        runs++;
    }
}
