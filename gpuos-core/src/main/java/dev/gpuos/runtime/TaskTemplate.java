package dev.gpuos.runtime;

import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A batch kept in device memory as descriptors, submitted again and again with ONE header in the host ring (the
 * GPUOS counterpart of a CUDA graph launch: the host's cost per run does not grow with the batch). The agent
 * reads the header ({@link Layouts#OP_EXPAND}) and copies the tasks from here into the device ring itself,
 * patching seq, tileBase and deps.
 *
 * <p>The image holds, per task, the descriptor as the ring wants it except for three relative fields: seq is
 * the task's index, tileBase the tiles of the tasks before it, and each dep the index of a task before it in
 * the batch. Op fields hold physical slots: the queue resolves the batch's logical operators at every submit,
 * and when an alias flipped since the image was made (a replaced operator) it places a new image first. An
 * image a submitted expansion may still be staged from is never changed; an old one goes back through
 * {@link Memory} only when no longer current.
 *
 * <p>Only dependencies inside the batch are allowed (an absolute seq would be the same on every run), and
 * at most the ring's capacity of tasks. The queue uses a template under its submission lock; {@link #release}
 * may come from any thread, and {@link Memory} must then give the image back only after every task submitted
 * so far has completed (GpuOS does it under the submission lock, through the arena's seq-gated release).
 */
public final class TaskTemplate {
    /** Device memory for images. */
    public interface Memory {
        /**
         * Copies {@code image} into device memory, complete when this returns (tasks submitted afterwards read
         * it), at a 16-byte aligned address.
         */
        Placed place(MemorySegment image);
    }

    /** An image in device memory; {@code release} gives it back once no task submitted so far may read it. */
    public record Placed(long address, Runnable release) {}

    private static final int TASK_WORDS = TaskBatch.TASK_WORDS;
    private static final int OP_WORD = (int) (TaskFields.OP >>> 3), SEQ_WORD = (int) (TaskFields.SEQ >>> 3);
    private static final int TILE_BASE_WORD = (int) (TaskFields.TILE_BASE >>> 3);
    private static final int DEPS_WORD = (int) (TaskFields.DEPS >>> 3), REFS_AT_WORD = (int) (TaskFields.REFS_AT >>> 3);
    private static final int FLAGS_WORD = (int) (TaskFields.FLAGS >>> 3);
    private static final int OP_SHIFT = (int) (TaskFields.OP & 7) * 8, FLAGS_SHIFT = (int) (TaskFields.FLAGS & 7) * 8;
    private static final long OP_MASK = 0xFFFF_FFFFL << OP_SHIFT;

    private final Memory memory;
    private final long[] image;          // relative descriptors; op fields are filled per placement
    private final int size;
    private final long tiles;
    private final int[] ops;             // distinct logical operators
    private final int[] opOfTask;        // index into ops, per task
    private final int[] lastUse;         // per distinct operator: its last task's index
    private final DeviceBuffer[] buffers;  // every distinct operand buffer
    private final int[] resolved;        // scratch for the queue (per distinct operator)
    /** A placed image and the slots it holds. */
    private record Image(Placed placed, int[] slots) {}

    // Swapped by imageFor (under the queue's lock) and by release() (any thread), each taking the image it
    // replaces, so every image goes back exactly once. Memory gives it back only after the submissions that
    // may still name it (GpuOS: under the same lock, through the arena's seq-gated release).
    private final AtomicReference<Image> current = new AtomicReference<>();

    private TaskTemplate(TaskBatch batch, Memory memory) {
        this.memory = memory;
        this.size = batch.size();
        if (size == 0) throw new IllegalArgumentException("a template needs at least one task");
        this.image = Arrays.copyOf(batch.words(), size * TASK_WORDS);
        Map<Integer, Integer> distinct = new LinkedHashMap<>();
        Set<DeviceBuffer> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        this.opOfTask = new int[size];
        long tileSum = 0;
        for (int i = 0; i < size; i++) {
            batch.checkOperandsLive(i);
            for (int r = 0; r < batch.nrefs(i); r++) seen.add(batch.operandBuffer(i, r));
            opOfTask[i] = distinct.computeIfAbsent(batch.logicalOp(i), k -> distinct.size());
            int base = i * TASK_WORDS;
            for (int d = 0; d < batch.ndeps(i); d++) {
                long word = batch.dep(i, d);
                if ((word & TaskBatch.BATCH_DEP) == 0) {
                    throw new IllegalArgumentException("task " + i + " depends on seq " + word + ": a template's tasks "
                            + "may depend only on tasks of the same batch");
                }
                image[base + DEPS_WORD + d] = word & ~TaskBatch.BATCH_DEP;  // a batch index, made absolute on the device
            }
            image[base + SEQ_WORD] = i;
            image[base + TILE_BASE_WORD] = tileSum;
            // The records travel inline: the agent copies them from the image itself.
            image[base + FLAGS_WORD] &= ~((long) Layouts.TASK_FLAG_REFS_IN_DEVICE << FLAGS_SHIFT);
            image[base + REFS_AT_WORD] = 0;
            tileSum += batch.ntiles(i);
        }
        this.tiles = tileSum;
        this.ops = new int[distinct.size()];
        for (var e : distinct.entrySet()) ops[e.getValue()] = e.getKey();
        this.lastUse = new int[ops.length];
        for (int i = 0; i < size; i++) lastUse[opOfTask[i]] = i;
        this.buffers = seen.toArray(DeviceBuffer[]::new);
        this.resolved = new int[ops.length];
    }

    /** A snapshot of {@code batch} (later changes to it do not reach the template); nothing is placed yet. */
    public static TaskTemplate of(TaskBatch batch, Memory memory) {
        return new TaskTemplate(batch, memory);
    }

    /** Tasks one submission runs. */
    public int size() {
        return size;
    }

    /** Tiles one submission takes. */
    public long tiles() {
        return tiles;
    }

    /** Throws if an operand buffer was released; nothing was submitted then. */
    void checkLive() {
        for (DeviceBuffer b : buffers) {
            if (!b.isLive()) {
                throw new IllegalStateException("a template operand buffer at 0x" + Long.toHexString(b.address())
                        + " was released; nothing of this template was submitted");
            }
        }
    }

    /** Resolves the distinct operators (queue, under its lock); returns the scratch array of slots. */
    int[] resolve(SlotResolver resolver) {
        for (int k = 0; k < ops.length; k++) resolved[k] = resolver.slotFor(ops[k]);
        return resolved;
    }

    /** The device address of an image holding {@code slots}, placing one first when the current one differs. */
    long imageFor(int[] slots) {
        Image now = current.get();
        if (now != null && Arrays.equals(slots, now.slots())) return now.placed().address();
        for (int i = 0; i < size; i++) {
            int at = i * TASK_WORDS + OP_WORD;
            image[at] = (image[at] & ~OP_MASK) | ((slots[opOfTask[i]] & 0xFFFF_FFFFL) << OP_SHIFT);
        }
        Placed placed = memory.place(MemorySegment.ofArray(image));
        if ((placed.address() & 15) != 0) throw new IllegalStateException("template image at an unaligned address");
        Image old = current.getAndSet(new Image(placed, slots.clone()));
        if (old != null) old.placed().release().run();
        return placed.address();
    }

    /** Tells the resolver each distinct slot's last use in a submission that started at {@code first}. */
    void noteUses(SlotResolver resolver, int[] slots, long first) {
        for (int k = 0; k < ops.length; k++) resolver.noteUse(slots[k], first + lastUse[k]);
    }

    /** Gives the current image back (see {@link Placed#release}); a later submission places a new one. */
    public void release() {
        Image old = current.getAndSet(null);
        if (old != null) old.placed().release().run();
    }
}
