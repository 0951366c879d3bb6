package dev.gpuos.bench.workloads;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A captured program ({@link GpuReplay#tasks()}) made portable to another CUDA context, for the launch-per-op
 * baseline: the tasks in batch order (joins dropped: stream order already waits for everything before), the
 * distinct buffers their operands point into, each either a case input (filled from the host values) or
 * scratch (zero-filled), and where each output row lies. {@link #descriptors} rebases every operand's data
 * word onto the buffers of the new context; nothing else in a descriptor is an address (the tensor backend
 * passes memory only as operands: even index_select's fault record is one), and a non-zero aux word is refused.
 */
record PortableProgram(List<Task> tasks, List<Buffer> buffers, List<Row> rows) {

    /** A buffer of the captured program: its address and size in the GpuOS context, and the input it holds. */
    record Buffer(long address, long bytes, String input) {
        boolean isInput() {
            return input != null;
        }
    }

    /** One launch: the operator's source, its grid and shared memory, and the buffer of each operand. */
    record Task(String name, String source, int ntiles, int smemBytes, long[] words, int[] operandBuffers) {}

    /** Output row k: {@code elements} float32 values starting {@code byteOffset} into buffer {@code buffer}. */
    record Row(int buffer, long byteOffset, int elements) {}

    /** Where an output row lies in the GpuOS context. */
    record RowAt(DeviceBuffer buffer, long byteOffset, int elements) {}

    /**
     * The program of {@code replay}, which captured a case whose inputs are {@code inputs} and whose output rows
     * are {@code rows} (all open). Inputs must be whole dense float32 tensors and rows dense float32 views: the
     * launch-per-op run uploads the former and reads the latter as plain float arrays.
     */
    static PortableProgram capture(GpuBackend backend, GpuReplay replay, Map<String, Tensor> inputs, List<Tensor> rows) {
        Map<String, DeviceBuffer> in = new LinkedHashMap<>();
        for (var e : inputs.entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype() != DType.F32 || !t.isContiguous() || t.storageOffset() != 0) {
                throw new IllegalArgumentException("input " + e.getKey() + " is not a whole dense float32 tensor: " + t);
            }
            in.put(e.getKey(), backend.deviceBuffer(t));
        }
        List<RowAt> at = new ArrayList<>(rows.size());
        for (int k = 0; k < rows.size(); k++) {
            Tensor t = rows.get(k);
            if (t.dtype() != DType.F32 || !t.isContiguous()) {
                throw new IllegalArgumentException("row " + k + " is not a dense float32 view: " + t);
            }
            at.add(new RowAt(backend.deviceBuffer(t), t.storageOffset() * Float.BYTES, Math.toIntExact(t.numel())));
        }
        return of(replay.tasks(), in, at);
    }

    /** The pure part of {@link #capture}: numbers the buffers in first-use order and checks every reference. */
    static PortableProgram of(List<GpuReplay.Task> captured, Map<String, DeviceBuffer> inputs, List<RowAt> rowsAt) {
        Map<Long, String> inputAt = new HashMap<>();
        for (var e : inputs.entrySet()) {
            String other = inputAt.put(e.getValue().address(), e.getKey());
            if (other != null) {
                throw new IllegalArgumentException("inputs " + other + " and " + e.getKey() + " share a buffer");
            }
        }
        Map<Long, Integer> index = new HashMap<>();
        List<Buffer> buffers = new ArrayList<>();
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < captured.size(); i++) {
            GpuReplay.Task t = captured.get(i);
            if (t.isJoin()) {
                continue;
            }
            if (t.source().contains("gt::operand_table(task)")) {
                // Its operands are records in a device table whose addresses only this context knows; rebasing
                // them would take a table of its own per launch (issue 12 fused tasks). Refused, so the case
                // reports why it has no launch-per-op row instead of launching zeroed pointers.
                throw new IllegalArgumentException("task " + i + " (" + t.name() + ") reads its operands from an"
                        + " operand table, which the launch-per-op baseline cannot rebase");
            }
            int[] operandBuffers = new int[t.operands().size()];
            for (int r = 0; r < operandBuffers.length; r++) {
                DeviceBuffer b = t.operands().get(r);
                Integer at = index.get(b.address());
                if (at == null) {
                    at = buffers.size();
                    index.put(b.address(), at);
                    buffers.add(new Buffer(b.address(), b.byteSize(), inputAt.get(b.address())));
                } else if (buffers.get(at).bytes() != b.byteSize()) {
                    throw new IllegalStateException("task " + i + " operand " + r + ": two sizes for the buffer at 0x"
                            + Long.toHexString(b.address()));
                }
                operandBuffers[r] = at;
                long offset = t.operandAddress(r) - b.address();
                if (offset < 0 || offset > b.byteSize()) {
                    throw new IllegalStateException("task " + i + " (" + t.name() + ") operand " + r + " points "
                            + offset + " bytes from its " + b.byteSize() + "-byte buffer");
                }
                long aux = t.words()[(int) ((TaskFields.REFS + r * TaskFields.REF_BYTES + TaskFields.REF_AUX) >>> 3)];
                if (aux != 0) {
                    throw new IllegalStateException("task " + i + " (" + t.name() + ") operand " + r + " carries an aux"
                            + " word (0x" + Long.toHexString(aux) + "), which may be an address: cannot rebase it");
                }
            }
            tasks.add(new Task(t.name(), t.source(), t.ntiles(), t.smemBytes(), t.words(), operandBuffers));
        }
        List<Row> rows = new ArrayList<>(rowsAt.size());
        for (int k = 0; k < rowsAt.size(); k++) {
            RowAt r = rowsAt.get(k);
            Integer at = index.get(r.buffer().address());
            if (at == null) {
                throw new IllegalStateException("row " + k + " lies in a buffer no task of the program touches");
            }
            if (r.byteOffset() < 0 || r.byteOffset() + (long) r.elements() * Float.BYTES > buffers.get(at).bytes()) {
                throw new IllegalStateException("row " + k + " reaches past its buffer");
            }
            rows.add(new Row(at, r.byteOffset(), r.elements()));
        }
        return new PortableProgram(List.copyOf(tasks), List.copyOf(buffers), List.copyOf(rows));
    }

    /**
     * All descriptors, {@code TASK_BYTES} apart, as little-endian words: operand data words rebased from the
     * captured buffers onto {@code newBase} (indexed like {@link #buffers}), dependencies cleared (one stream
     * orders the launches), op and seq zero (a kernel of its own reads neither).
     */
    long[] descriptors(long[] newBase) {
        if (newBase.length != buffers.size()) {
            throw new IllegalArgumentException(newBase.length + " new addresses for " + buffers.size() + " buffers");
        }
        int taskWords = (int) (TaskFields.TASK_BYTES / 8);
        long[] out = new long[tasks.size() * taskWords];
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            long[] w = t.words().clone();
            for (int r = 0; r < t.operandBuffers().length; r++) {
                int data = (int) ((TaskFields.REFS + r * TaskFields.REF_BYTES + TaskFields.REF_DATA) >>> 3);
                Buffer b = buffers.get(t.operandBuffers()[r]);
                w[data] = newBase[t.operandBuffers()[r]] + (w[data] - b.address());
            }
            setBits(w, TaskFields.NDEPS, 8, 0);
            for (int d = 0; d < Layouts.MAX_DEPS; d++) {
                w[(int) ((TaskFields.DEPS >>> 3) + d)] = 0;
            }
            setBits(w, TaskFields.OP, 32, 0);
            w[(int) (TaskFields.SEQ >>> 3)] = 0;
            System.arraycopy(w, 0, out, i * taskWords, taskWords);
        }
        return out;
    }

    private static void setBits(long[] words, long byteOffset, int width, long value) {
        int i = (int) (byteOffset >>> 3), shift = (int) (byteOffset & 7) * 8;
        long mask = ((1L << width) - 1) << shift;
        words[i] = (words[i] & ~mask) | ((value << shift) & mask);
    }
}
