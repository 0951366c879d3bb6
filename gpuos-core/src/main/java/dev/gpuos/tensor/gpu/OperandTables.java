package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.runtime.memory.DeviceBlock;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The operand tables of one batch: tasks with more operands than a descriptor's 4 inline slots (fused structures:
 * {@link ElementwiseKernels#MAX_TABLE_REFS}) carry ONE inline operand, a byte view of their table, and their
 * operator reads every operand record from there ({@code gt::operand_table} in {@code gpuos_walk.cuh}). The
 * records have the descriptor's own layout ({@code gpuos_tensor_ref}), so operators index them like inline ones.
 *
 * <p>Why the operator and not the agent reads them: the runtime's queue and worker stay as they are (the task
 * layout is unchanged). The tables of a batch live in ONE device block, filled on the host while the batch is
 * written and uploaded once before it is submitted (one copy per submission that has such tasks, never per op).
 * A submission gives its block back right after submitting (the arena reuses a block only after every task
 * submitted so far has completed, as for staged uploads); a capture keeps it as long as its replay lives.
 *
 * <p>The buffers behind table records are checked live when the planner writes them, and again right before
 * the batch is submitted ({@link #checkLive}; the queue rechecks only the inline operands, the table's block).
 *
 * <p>A task's last operand may be a {@link Scratch}: device memory of its own for the task's tiles to meet in
 * (attention.cu's split S: partial rows and a counter per row). It takes the place of its record, at least a
 * record's words, zero as uploaded; the operator finds it right after its other records. Being in the table gives
 * it the table's lifetime for free: a streamed submission's block is reused only after every task submitted so far
 * has completed, and a captured program keeps its block as long as its replay lives, so every run of the task finds
 * the same scratch (the operator leaves it as it found it: counters back at 0).
 */
final class OperandTables {
    static final int RECORD_WORDS = (int) (TaskFields.REF_BYTES / 8);

    private DeviceBlock block;  // null while growing (see growing())
    private long[] image;
    private final java.util.ArrayList<DeviceBuffer> buffers = new java.util.ArrayList<>();
    private int used;

    private OperandTables(DeviceBlock block, long[] image) {
        this.block = block;
        this.image = image;
    }

    /** The tables {@code tasks} need in one block, or null if none of them has more than 4 operands. */
    static OperandTables forTasks(GpuOS os, List<KernelTask> tasks) {
        long words = 0;
        for (KernelTask t : tasks) if (wide(t)) words += words(t.refs());
        if (words == 0) return null;
        return new OperandTables(os.allocate(words * 8), new long[Math.toIntExact(words)]);
    }

    /**
     * Tables filled as the streamed encoder writes tasks, before their number is known: the records go into a
     * growing image ({@link #append}) and the block is allocated once every task is written ({@link #place});
     * each table task's operand 0 is written then ({@link #writeRef}).
     */
    static OperandTables growing() {
        return new OperandTables(null, new long[16 * RECORD_WORDS]);
    }

    /** Appends {@code refs}' records (checked as {@link #encode} does); returns their first word. */
    int append(List<GpuView> refs) {
        int at = used;
        int need = Math.toIntExact(used + words(refs));
        if (need > image.length) image = java.util.Arrays.copyOf(image, Math.max(need, image.length * 2));
        put(refs);
        return at;
    }

    /** A task's scratch in its operand table (see the class comment), {@code bytes} long; as a task's last operand. */
    record Scratch(long byteSize) implements DeviceBuffer {
        Scratch {
            if (byteSize <= 0) throw new IllegalArgumentException("operand table scratch of " + byteSize + " bytes");
        }

        GpuView view() {
            return new GpuView(this, DTypeCode.U8, 0, new long[]{byteSize}, new long[]{1});
        }

        /** Its place in the table is known only to the table; the record holds no address. */
        @Override public long address() { return 0; }
        @Override public boolean isLive() { return true; }

        int words() {
            return Math.toIntExact(Math.max(RECORD_WORDS, Math.ceilDiv(byteSize, 8)));
        }
    }

    /** Words the table of {@code refs} takes: a record each, a scratch its bytes. */
    static long words(List<GpuView> refs) {
        long words = 0;
        for (GpuView v : refs) words += v.buffer() instanceof Scratch s ? s.words() : RECORD_WORDS;
        return words;
    }

    /** Writes {@code refs}' records (a scratch zeroed) from {@link #used} on. */
    private void put(List<GpuView> refs) {
        for (int i = 0; i < refs.size(); i++) {
            GpuView v = refs.get(i);
            if (v.buffer() instanceof Scratch s) {
                if (i != refs.size() - 1) throw new IllegalArgumentException("operand table scratch " + v + " is not the last operand");
                java.util.Arrays.fill(image, used, used + s.words(), 0L);
                used += s.words();
                continue;
            }
            encode(v, image, used);
            buffers.add(v.buffer());
            used += RECORD_WORDS;
        }
    }

    /** Allocates the block of a growing table for what was appended. */
    void place(GpuOS os) {
        if (block != null) throw new IllegalStateException("operand tables already placed");
        block = os.allocate(used * 8L);
    }

    /** Writes the table of {@code records} records at word {@code at}, as operand 0, into a descriptor. */
    void writeRef(TaskBatch.TaskWriter w, int at, int records) {
        w.ref(0, block, at * 8L, DTypeCode.U8, new long[]{records * (long) RECORD_WORDS * 8}, new long[]{1});
    }

    static boolean wide(KernelTask task) {
        return task.refs().size() > Layouts.MAX_REFS;
    }

    DeviceBlock block() {
        return block;
    }

    /** Writes {@code task}'s operand records into the table and the table, as operand 0, into its descriptor. */
    void write(KernelTask task, TaskBatch.TaskWriter w) {
        int at = used;
        put(task.refs());
        long bytes = (long) (used - at) * 8;
        w.ref(0, block, at * 8L, DTypeCode.U8, new long[]{bytes}, new long[]{1});
    }

    /**
     * Refuses the batch if a buffer a table names was released since it was written (another thread closed its
     * scope): the task would reach memory the arena may already have handed out again. Nothing was submitted.
     */
    void checkLive() {
        for (DeviceBuffer b : buffers) {
            if (!b.isLive()) {
                throw new IllegalStateException("an operand table names a buffer at 0x" + Long.toHexString(b.address())
                        + " that was released after its task was recorded; nothing of this batch was submitted");
            }
        }
    }

    /** Copies the filled tables to the device; returns once they have landed (before the batch is submitted). */
    void upload(GpuOS os) {
        os.upload(block, 0, MemorySegment.ofArray(image).asSlice(0, used * 8L));
    }

    /**
     * One operand record as {@code TaskBatch.TaskWriter.ref} writes it into a descriptor, with the same checks:
     * at most 8 dims, every element the view addresses inside a live buffer.
     */
    static void encode(GpuView v, long[] image, int word) {
        long[] sizes = v.sizes(), strides = v.strides();
        int ndim = sizes.length;
        if (ndim > Layouts.MAX_DIMS || strides.length != ndim) {
            throw new IllegalArgumentException("operand " + v + ": at most " + Layouts.MAX_DIMS + " dims, one stride each");
        }
        long numel = 1, lo = 0, hi = 0, expected = 1;
        boolean contiguous = true;
        for (int d = ndim - 1; d >= 0; d--) {
            long size = sizes[d];
            if (size < 0 || size > Integer.MAX_VALUE) throw new IllegalArgumentException("operand " + v + ": size " + size);
            numel = Math.multiplyExact(numel, size);
            if (size > 1) {
                long span = Math.multiplyExact(size - 1, strides[d]);
                if (span > 0) hi += span;
                else lo += span;
                if (strides[d] != expected) contiguous = false;
            }
            expected *= Math.max(size, 1);
        }
        DeviceBuffer buffer = v.buffer();
        long es = v.dtype().byteSize, offset = numel == 0 ? 0 : v.byteOffset();
        if (!buffer.isLive()) {
            throw new IllegalStateException("operand " + v + ": buffer at 0x" + Long.toHexString(buffer.address())
                    + " was already released");
        }
        if (numel > 0 && (offset + lo * es < 0 || offset + (hi + 1) * es > buffer.byteSize())) {
            throw new IndexOutOfBoundsException("operand " + v + " reaches outside its " + buffer.byteSize() + "-byte buffer");
        }
        java.util.Arrays.fill(image, word, word + RECORD_WORDS, 0L);
        long base = word * 8L;
        put(image, base + TaskFields.REF_DATA, 8, buffer.address() + offset);
        put(image, base + TaskFields.REF_NUMEL, 8, numel);
        put(image, base + TaskFields.REF_DTYPE, 1, v.dtype().code);
        put(image, base + TaskFields.REF_NDIM, 1, ndim);
        put(image, base + TaskFields.REF_FLAGS, 2, contiguous ? Layouts.REF_CONTIGUOUS : 0);
        for (int d = 0; d < ndim; d++) {
            put(image, base + TaskFields.REF_SIZES + 4L * d, 4, sizes[d]);
            put(image, base + TaskFields.REF_STRIDES + 8L * d, 8, strides[d]);
        }
    }

    /** Little-endian store of {@code bytes} bytes at byte offset {@code at} (within one word: fields are aligned). */
    private static void put(long[] image, long at, int bytes, long value) {
        int word = (int) (at >>> 3), shift = (int) (at & 7) * 8;
        long mask = bytes == 8 ? -1L : ((1L << (bytes * 8)) - 1) << shift;
        image[word] = (image[word] & ~mask) | ((value << shift) & mask);
    }
}
