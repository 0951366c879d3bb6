package dev.gpuos.runtime;

import static dev.gpuos.runtime.layout.TaskFields.*;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;

/**
 * Tasks being prepared for one submission, staged in the exact descriptor layout so that submitting
 * is a copy into the ring plus a few patched words. A batch is reused across submissions ({@link #clear()})
 * and belongs to one thread at a time; writing a task allocates nothing.
 *
 * <p>Dependencies are either absolute seqs of earlier submissions or indices of earlier tasks in this batch;
 * the latter are turned into seqs when the batch is written into the ring.
 */
public final class TaskBatch {
    // Staged in a plain long[] on purpose: MemorySegment accessors are shared JDK code whose type profiles
    // the CPU backend's heap segments pollute, and on the H100 run the tensor API's submit path then spent
    // most of its time in their alignment checks and deoptimizations. Array stores have no such cliff; the
    // queue moves each descriptor into the ring with one bulk copy.
    /** Marks a dependency word as "index within this batch" until the batch is written. */
    static final long BATCH_DEP = 1L << 63;
    /** Descriptor size in 8-byte words. */
    static final int TASK_WORDS = (int) (TASK_BYTES / 8);

    /** An operand record's words, and where {@code refContiguous} finds its fields in them. */
    private static final int REF_WORDS = (int) (REF_BYTES / 8), DATA_WORD = (int) (REF_DATA >>> 3),
            NUMEL_WORD = (int) (REF_NUMEL >>> 3), KIND_WORD = (int) (REF_DTYPE >>> 3), SIZE0_WORD = (int) (REF_SIZES >>> 3),
            STRIDE0_WORD = (int) (REF_STRIDES >>> 3);
    private static final int DTYPE_SHIFT = (int) (REF_DTYPE & 7) * 8, NDIM_SHIFT = (int) (REF_NDIM & 7) * 8,
            REF_FLAGS_SHIFT = (int) (REF_FLAGS & 7) * 8, SIZE0_SHIFT = (int) (REF_SIZES & 7) * 8;

    static {
        // dtype, ndim and flags share one word, written at once; data, numel and the first stride are whole words.
        if (REF_NDIM >>> 3 != KIND_WORD || REF_FLAGS >>> 3 != KIND_WORD || REF_DATA % 8 != 0 || REF_NUMEL % 8 != 0
                || REF_STRIDES % 8 != 0) {
            throw new ExceptionInInitializerError("gpuos_tensor_ref's layout no longer fits refContiguous's word writes");
        }
        // refContiguous stores a record's words in order: data, numel, dtype/ndim/flags, the sizes (4 words), the
        // strides (8), aux.
        if (DATA_WORD != 0 || NUMEL_WORD != 1 || KIND_WORD != 2 || SIZE0_WORD != 3 || STRIDE0_WORD != 7
                || REF_WORDS != 16 || (REF_SIZES & 7) != 0 || Layouts.MAX_DIMS != 8) {
            throw new ExceptionInInitializerError("gpuos_tensor_ref's layout no longer fits refContiguous's word order");
        }
        if (TASK_BYTES % 8 != 0 || REF_BYTES % 8 != 0) {
            throw new ExceptionInInitializerError("descriptor sizes must be multiples of 8 bytes: task " + TASK_BYTES
                    + ", ref " + REF_BYTES);
        }
    }

    private long[] words;
    private int[] logicalOps;
    /** The buffer behind each operand ({@code index * MAX_REFS + operand}), rechecked for liveness at submit. */
    private DeviceBuffer[] operands;
    private int count;
    private long tiles;
    private final TaskWriter writer = new TaskWriter();

    public TaskBatch() {
        this(64);
    }

    public TaskBatch(int initialCapacity) {
        int cap = Math.max(1, initialCapacity);
        words = new long[cap * TASK_WORDS];
        logicalOps = new int[cap];
        operands = new DeviceBuffer[cap * Layouts.MAX_REFS];
    }

    public int size() {
        return count;
    }

    /** Sum of ntiles over the batch. */
    public long tiles() {
        return tiles;
    }

    /**
     * Empties the batch for reuse and drops its references to its operands' buffers: a batch reused across
     * submissions would otherwise keep the last submission's buffers reachable until their slots are written again,
     * and a buffer the GC cannot find unreachable cannot give its device memory back (up to a whole submission's
     * results under memory pressure).
     */
    public TaskBatch clear() {
        java.util.Arrays.fill(operands, 0, count * Layouts.MAX_REFS, null);
        count = 0;
        tiles = 0;
        return this;
    }

    /**
     * Appends a task and returns the writer positioned on it (valid until the next {@code add}).
     *
     * @param logicalOp operator id, resolved to a physical slot when the batch is submitted
     * @param ntiles    number of tiles the worker blocks split the task into, 1..{@value Layouts#MAX_TILES_PER_TASK}
     * @param tileSize  operator-defined tile extent (elements or rows), >= 1
     */
    public TaskWriter add(int logicalOp, int ntiles, int tileSize) {
        if (ntiles < 1 || ntiles > Layouts.MAX_TILES_PER_TASK) {
            throw new IllegalArgumentException("ntiles " + ntiles + " outside [1, " + Layouts.MAX_TILES_PER_TASK + "]");
        }
        if (tileSize < 1) {
            throw new IllegalArgumentException("tileSize must be >= 1, was " + tileSize);
        }
        if (logicalOp < 0) {
            throw new IllegalArgumentException("negative operator id " + logicalOp);
        }
        if (count == logicalOps.length) {
            grow();
        }
        long base = (long) count * TASK_BYTES;
        // Only the header is cleared: operand records are written whole by ref()/refContiguous(), and only the
        // first nrefs of them travel (see usedBytes).
        java.util.Arrays.fill(words, count * TASK_WORDS, count * TASK_WORDS + (int) (REFS / 8), 0L);
        logicalOps[count] = logicalOp;
        java.util.Arrays.fill(operands, count * Layouts.MAX_REFS, (count + 1) * Layouts.MAX_REFS, null);
        putInt(base + NTILES, ntiles);
        putInt(base + TILE_SIZE, tileSize);
        writer.at(base, count);
        count++;
        tiles += ntiles;
        return writer;
    }

    /** Appends a task for a registered operator; see {@link #add(int, int, int)}. */
    public TaskWriter add(OperatorRef op, int ntiles, int tileSize) {
        return add(op.id(), ntiles, tileSize);
    }

    /**
     * Sets the operator of task {@code index}, written with a placeholder: an encoder that writes tasks as it
     * plans them learns the ids of operators new to this batch only once they are registered together, before
     * the batch is submitted.
     */
    public void setOperator(int index, OperatorRef op) {
        java.util.Objects.checkIndex(index, count);
        logicalOps[index] = op.id();
    }

    /**
     * The writer positioned on task {@code index}, already added (valid until the next {@code add} or
     * {@code rewrite}): for an operand whose buffer is known only after every task was written (an operand
     * table's block, sized by all of them).
     */
    public TaskWriter rewrite(int index) {
        java.util.Objects.checkIndex(index, count);
        writer.at((long) index * TASK_BYTES, index);
        return writer;
    }

    /**
     * Appends a copy of a whole descriptor, {@link #descriptorWords} as another batch holds it (a captured task,
     * GpuReplay.Task: its deps indices within that batch, which must be earlier tasks of this one), so that
     * captured tasks can run again elsewhere, e.g. with some of them {@link TaskWriter#traced traced}. The op
     * field is replaced by {@code op}'s id; {@code operands} are the buffers of its nrefs operand records.
     */
    public TaskWriter addDescriptor(OperatorRef op, long[] descriptor, java.util.List<? extends DeviceBuffer> operands) {
        if (descriptor.length != TASK_WORDS) {
            throw new IllegalArgumentException("a descriptor is " + TASK_WORDS + " words, not " + descriptor.length);
        }
        int index = count;
        long ntiles = (descriptor[(int) (NTILES >>> 3)] >>> ((NTILES & 7) * 8)) & 0xFFFF_FFFFL;
        long tileSize = (descriptor[(int) (TILE_SIZE >>> 3)] >>> ((TILE_SIZE & 7) * 8)) & 0xFFFF_FFFFL;
        TaskWriter w = add(op, (int) Math.min(ntiles, Integer.MAX_VALUE), (int) Math.min(Math.max(tileSize, 1), Integer.MAX_VALUE));
        long base = (long) index * TASK_BYTES;
        System.arraycopy(descriptor, 0, words, index * TASK_WORDS, TASK_WORDS);
        putInt(base + OP, op.id());
        int nrefs = nrefs(index), ndeps = ndeps(index);
        if (nrefs > Layouts.MAX_REFS || ndeps > Layouts.MAX_DEPS || operands.size() != nrefs) {
            count--;
            tiles -= ntiles;
            throw new IllegalArgumentException("descriptor with " + nrefs + " operand records and " + ndeps + " deps, given "
                    + operands.size() + " operand buffers (at most " + Layouts.MAX_REFS + " records, " + Layouts.MAX_DEPS + " deps)");
        }
        for (int d = 0; d < ndeps; d++) {
            long word = dep(index, d);
            if ((word & BATCH_DEP) != 0 && (word & ~BATCH_DEP) >= index) {
                count--;
                tiles -= ntiles;
                throw new IllegalArgumentException("task " + index + " dep " + d + " names batch task " + (word & ~BATCH_DEP)
                        + ", not an earlier one");
            }
        }
        for (int r = 0; r < nrefs; r++) this.operands[index * Layouts.MAX_REFS + r] = operands.get(r);
        return w;
    }

    /** Index the next {@link #add} will get: handy for dependencies within the batch. */
    public int nextIndex() {
        return count;
    }

    private void grow() {
        int cap = logicalOps.length * 2;
        words = java.util.Arrays.copyOf(words, cap * TASK_WORDS);
        logicalOps = java.util.Arrays.copyOf(logicalOps, cap);
        operands = java.util.Arrays.copyOf(operands, cap * Layouts.MAX_REFS);
    }

    // ---- little-endian field access over the word array (offsets are byte offsets, naturally aligned)

    private long getLong(long off) {
        return words[(int) (off >>> 3)];
    }

    private void putLong(long off, long v) {
        words[(int) (off >>> 3)] = v;
    }

    private long bits(long off, int width) {
        int shift = (int) (off & 7) * 8;
        long mask = width == 64 ? -1L : (1L << width) - 1;
        return (words[(int) (off >>> 3)] >>> shift) & mask;
    }

    private void putBits(long off, int width, long v) {
        int i = (int) (off >>> 3);
        int shift = (int) (off & 7) * 8;
        long mask = ((1L << width) - 1) << shift;
        words[i] = (words[i] & ~mask) | ((v << shift) & mask);
    }

    private void putInt(long off, int v) {
        putBits(off, 32, v & 0xFFFF_FFFFL);
    }

    private void putShort(long off, int v) {
        putBits(off, 16, v & 0xFFFFL);
    }

    private void putByte(long off, int v) {
        putBits(off, 8, v & 0xFFL);
    }

    // ---- what the queue reads

    /**
     * Bytes of descriptor {@code index} the host writes into the ring: the header and its first nrefs operands.
     * Also when the operands live in device memory ({@link #refsInDevice}), where the agent does not read them
     * from the ring: writing whole descriptors measured about twice as fast per task on the development machine
     * as writing only the 144-byte headers (50-60 vs ~110 ns; whole cache lines, in sequence).
     */
    long usedBytes(int index) {
        return REFS + nrefs(index) * REF_BYTES;
    }

    /**
     * From now on task {@code index}'s operand records travel from device memory at {@code refsAt} (its nrefs
     * records, in order, as this batch holds them): the agent reads only the header from the ring (over PCIe) and
     * copies the records from there. For a batch submitted again and again (a replay), whose operands never
     * change. The records stay in this batch too (operand checks, {@link #descriptorWords}). The caller keeps
     * that memory alive and unchanged while any submission of the batch may run.
     */
    public void refsInDevice(int index, long refsAt) {
        java.util.Objects.checkIndex(index, count);
        if (refsAt == 0 || (refsAt & 15) != 0) {
            throw new IllegalArgumentException("operand records must lie at a non-null 16-byte aligned device address, got 0x"
                    + Long.toHexString(refsAt));
        }
        long base = (long) index * TASK_BYTES;
        putLong(base + REFS_AT, refsAt);
        putShort(base + FLAGS, (int) bits(base + FLAGS, 16) | Layouts.TASK_FLAG_REFS_IN_DEVICE);
    }

    /** The operand records of task {@code index} as they lie in the descriptor ({@code nrefs * REF_BYTES / 8} words). */
    public long[] operandRecordWords(int index) {
        java.util.Objects.checkIndex(index, count);
        int from = index * TASK_WORDS + (int) (REFS / 8);
        return java.util.Arrays.copyOfRange(words, from, from + (int) (nrefs(index) * REF_BYTES / 8));
    }

    int nrefs(int index) {
        return (int) bits((long) index * TASK_BYTES + NREFS, 8);
    }

    int ntiles(int index) {
        return (int) bits((long) index * TASK_BYTES + NTILES, 32);
    }

    int ndeps(int index) {
        return (int) bits((long) index * TASK_BYTES + NDEPS, 8);
    }

    long dep(int index, int d) {
        return getLong((long) index * TASK_BYTES + DEPS + 8L * d);
    }

    /** The words of descriptor {@code index} (TASK_WORDS long), for the queue to copy and patch. */
    long[] words() {
        return words;
    }

    int logicalOp(int index) {
        return logicalOps[index];
    }

    // ---- read-only views for debugging and for running the same tasks elsewhere (see GpuReplay#tasks)

    /** A copy of descriptor {@code index}: {@code TASK_BYTES / 8} little-endian words in the gpuos_task layout. */
    public long[] descriptorWords(int index) {
        java.util.Objects.checkIndex(index, count);
        return java.util.Arrays.copyOfRange(words, index * TASK_WORDS, (index + 1) * TASK_WORDS);
    }

    /** The logical operator id of task {@code index} (the descriptor's op field holds it until the queue resolves it). */
    public int operatorId(int index) {
        java.util.Objects.checkIndex(index, count);
        return logicalOps[index];
    }

    /** Operands task {@code index} carries (its nrefs). */
    public int operandCount(int index) {
        java.util.Objects.checkIndex(index, count);
        return nrefs(index);
    }

    /** The buffer operand {@code r} of task {@code index} points into. */
    public DeviceBuffer operandBuffer(int index, int r) {
        java.util.Objects.checkIndex(r, operandCount(index));
        return operands[index * Layouts.MAX_REFS + r];
    }

    /**
     * Refuses a task whose operand buffer was released after the task was recorded: its descriptor would carry
     * a pointer into memory the arena may already have handed to someone else. Called by the queue before it
     * writes anything of the batch.
     */
    void checkOperandsLive(int index) {
        int nrefs = nrefs(index);
        for (int r = 0; r < nrefs; r++) {
            DeviceBuffer b = operands[index * Layouts.MAX_REFS + r];
            if (b == null) {
                throw new IllegalStateException("task " + index + " operand " + r + " was never set (operands "
                        + "below the highest one set must all be set)");
            }
            if (!b.isLive()) {
                throw new IllegalStateException("task " + index + " operand " + r + ": buffer at 0x"
                        + Long.toHexString(b.address()) + " was released after the task was recorded; nothing of "
                        + "this batch was submitted");
            }
        }
    }

    /** Flyweight that fills one staged descriptor. */
    public final class TaskWriter {
        private long base;
        private int index;

        private void at(long base, int index) {
            this.base = base;
            this.index = index;
        }

        /** Position of this task in its batch. */
        public int index() {
            return index;
        }

        public TaskWriter flags(int flags) {
            if ((flags & ~0x3FFF) != 0) {
                throw new IllegalArgumentException("operator flags must fit in 14 bits (bits 14 and 15 are the"
                        + " runtime's): 0x" + Integer.toHexString(flags));
            }
            int old = (int) bits(base + FLAGS, 16);
            putShort(base + FLAGS, (old & (Layouts.TASK_FLAG_TRACE | Layouts.TASK_FLAG_REFS_IN_DEVICE)) | flags);
            return this;
        }

        /** Marks this task to be timestamped on the device (with {@link HostControl#traceSeq}). */
        public TaskWriter traced() {
            int old = (int) bits(base + FLAGS, 16);
            putShort(base + FLAGS, old | Layouts.TASK_FLAG_TRACE);
            return this;
        }

        public TaskWriter arg(int i, long bits) {
            checkIndex(i, Layouts.MAX_ARGS, "arg");
            putLong(base + ARGS + 8L * i, bits);
            return this;
        }

        public TaskWriter argDouble(int i, double value) {
            return arg(i, Double.doubleToRawLongBits(value));
        }

        /** Waits for an earlier submission's task. */
        public TaskWriter dependsOnSeq(long seq) {
            if (seq < 0) {
                throw new IllegalArgumentException("negative seq " + seq);
            }
            return addDep(seq);
        }

        /** Waits for an earlier task of this batch. */
        public TaskWriter dependsOn(int batchIndex) {
            if (batchIndex < 0 || batchIndex >= index) {
                throw new IllegalArgumentException("task " + index + " may depend only on earlier tasks of its batch, not "
                        + batchIndex);
            }
            return addDep(BATCH_DEP | batchIndex);
        }

        private TaskWriter addDep(long word) {
            int n = (int) bits(base + NDEPS, 8);
            for (int d = 0; d < n; d++) {
                if (getLong(base + DEPS + 8L * d) == word) {
                    return this;
                }
            }
            if (n == Layouts.MAX_DEPS) {
                throw new IllegalStateException("task already has " + Layouts.MAX_DEPS
                        + " dependencies; join them through an earlier task");
            }
            putLong(base + DEPS + 8L * n, word);
            putByte(base + NDEPS, n + 1);
            return this;
        }

        /** A dense row-major 1-D operand of {@code numel} elements starting {@code byteOffset} into the buffer. */
        public TaskWriter refContiguous(int i, DeviceBuffer buffer, long byteOffset, DTypeCode dtype, long numel) {
            if (numel > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("1-D operand of " + numel + " elements exceeds 2^31-1: give it a shape");
            }
            long extent = numel * dtype.byteSize;
            if (numel == 0) byteOffset = 0;  // addresses nothing (see ref)
            checkBounds(buffer, byteOffset, byteOffset, byteOffset + extent, i);
            // Whole words, not a field at a time: a streamed elementwise op writes three of these records, and
            // the read-modify-write of each small field was most of their cost.
            int r = (int) (refBase(i) >>> 3);
            // Every word of the record stored once, in order (filling it and then storing five words into it cost
            // more); the static check at the top pins the order.
            words[r] = buffer.address() + byteOffset;
            words[r + 1] = numel;
            words[r + 2] = (dtype.code & 0xFFL) << DTYPE_SHIFT | 1L << NDIM_SHIFT
                    | (long) Layouts.REF_CONTIGUOUS << REF_FLAGS_SHIFT;
            words[r + 3] = (numel & 0xFFFF_FFFFL) << SIZE0_SHIFT;
            words[r + 4] = 0L;
            words[r + 5] = 0L;
            words[r + 6] = 0L;
            words[r + 7] = 1L;
            words[r + 8] = 0L;
            words[r + 9] = 0L;
            words[r + 10] = 0L;
            words[r + 11] = 0L;
            words[r + 12] = 0L;
            words[r + 13] = 0L;
            words[r + 14] = 0L;
            words[r + 15] = 0L;
            bumpRefs(i, buffer);
            return this;
        }

        /**
         * A strided operand: {@code sizes} and {@code strides} (in elements, zero or negative allowed) of a view
         * whose element 0 lies {@code byteOffset} into {@code buffer}. Every element the view can address must
         * lie inside the buffer.
         */
        public TaskWriter ref(int i, DeviceBuffer buffer, long byteOffset, DTypeCode dtype, long[] sizes, long[] strides) {
            int ndim = sizes.length;
            if (ndim > Layouts.MAX_DIMS || strides.length != ndim) {
                throw new IllegalArgumentException("operand " + i + ": " + ndim + " sizes / " + strides.length
                        + " strides; at most " + Layouts.MAX_DIMS + " dims and one stride per dim");
            }
            long numel = 1;
            long lo = 0;
            long hi = 0;
            boolean contiguous = true;
            long expected = 1;
            for (int d = ndim - 1; d >= 0; d--) {
                long size = sizes[d];
                if (size < 0 || size > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("operand " + i + ": size " + size + " of dim " + d
                            + " outside [0, 2^31-1]");
                }
                numel = Math.multiplyExact(numel, size);
                if (size > 1) {
                    long span = Math.multiplyExact(size - 1, strides[d]);
                    if (span > 0) {
                        hi += span;
                    } else {
                        lo += span;
                    }
                    if (strides[d] != expected) {
                        contiguous = false;
                    }
                }
                expected *= Math.max(size, 1);
            }
            long es = dtype.byteSize;
            if (numel > 0) {
                checkBounds(buffer, byteOffset, byteOffset + lo * es, byteOffset + (hi + 1) * es, i);
            } else {
                // An empty view addresses no byte, so its offset may lie anywhere (a narrow of an empty tensor,
                // an empty tensor's one-byte block): it points at the buffer's start.
                byteOffset = 0;
                checkBounds(buffer, 0, 0, 0, i);
            }
            long r = refBase(i);
            java.util.Arrays.fill(words, (int) (r >>> 3), (int) ((r + REF_BYTES) >>> 3), 0L);
            putLong(r + REF_DATA, buffer.address() + byteOffset);
            putLong(r + REF_NUMEL, numel);
            putByte(r + REF_DTYPE, dtype.code);
            putByte(r + REF_NDIM, ndim);
            putShort(r + REF_FLAGS, contiguous ? Layouts.REF_CONTIGUOUS : 0);
            for (int d = 0; d < ndim; d++) {
                putInt(r + REF_SIZES + 4L * d, (int) sizes[d]);
                putLong(r + REF_STRIDES + 8L * d, strides[d]);
            }
            bumpRefs(i, buffer);
            return this;
        }

        public TaskWriter refAux(int i, long aux) {
            checkIndex(i, Layouts.MAX_REFS, "operand");
            putLong(refBase(i) + REF_AUX, aux);
            return this;
        }

        private long refBase(int i) {
            checkIndex(i, Layouts.MAX_REFS, "operand");
            return base + REFS + REF_BYTES * i;
        }

        private void bumpRefs(int i, DeviceBuffer buffer) {
            operands[index * Layouts.MAX_REFS + i] = buffer;
            int n = (int) bits(base + NREFS, 8);
            if (i + 1 > n) {
                putByte(base + NREFS, i + 1);
            }
        }
    }

    private static void checkIndex(int i, int limit, String what) {
        if (i < 0 || i >= limit) {
            throw new IndexOutOfBoundsException(what + " index " + i + " outside [0, " + limit + ")");
        }
    }

    private static void checkBounds(DeviceBuffer buffer, long origin, long lo, long hi, int operand) {
        if (buffer == null) {
            throw new NullPointerException("operand " + operand + ": no buffer");
        }
        if (buffer.address() == 0) {
            throw new IllegalArgumentException("operand " + operand + ": buffer has a null device address");
        }
        if (!buffer.isLive()) {
            throw new IllegalStateException("operand " + operand + ": buffer at 0x" + Long.toHexString(buffer.address())
                    + " was already released");
        }
        if (origin < 0 || lo < 0 || hi > buffer.byteSize()) {
            throw new IndexOutOfBoundsException("operand " + operand + ": view reaches bytes [" + lo + ", " + hi
                    + ") of a " + buffer.byteSize() + "-byte buffer");
        }
    }
}
