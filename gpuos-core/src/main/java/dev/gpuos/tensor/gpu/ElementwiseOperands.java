package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.tensor.Tensor;

import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * The operands of an elementwise task as the planner found them: the views (inputs, then stored outputs) and
 * their coalesced dims. {@link #write} puts them into the descriptor straight from the views, so the streamed
 * path makes no {@link GpuView} per operand; the list's elements are made only where a cold path asks for them
 * (operand tables, captures, the interpreter tier). Immutable: the planner hands over both arrays.
 */
final class ElementwiseOperands extends AbstractList<GpuView> implements RandomAccess {
    private final Tensor[] views;
    /** {@code dims[0]}: the coalesced shape; {@code dims[1 + k]}: operand k's strides. */
    private final long[][] dims;

    ElementwiseOperands(Tensor[] views, long[][] dims) {
        this.views = views;
        this.dims = dims;
    }

    @Override
    public GpuView get(int index) {
        return GpuView.of(views[index], dims[0], dims[index + 1]);
    }

    @Override
    public int size() {
        return views.length;
    }

    /** Writes every operand inline (at most {@link dev.gpuos.runtime.layout.Layouts#MAX_REFS}). */
    void write(TaskBatch.TaskWriter w) {
        for (int i = 0; i < views.length; i++) write(w, i, views[i], dims[0], dims[i + 1]);
    }

    /** Operand {@code i}, view {@code t} seen with the coalesced {@code shape} and its {@code strides}, inline. */
    static void write(TaskBatch.TaskWriter w, int i, Tensor t, long[] shape, long[] strides) {
        long offset = t.storageOffset() * t.dtype().byteSize();
        if (shape.length == 1 && strides[0] == 1) {
            w.refContiguous(i, GpuStorage.of(t).block(), offset, GpuView.code(t.dtype()), shape[0]);
        } else {
            w.ref(i, GpuStorage.of(t).block(), offset, GpuView.code(t.dtype()), shape, strides);
        }
    }
}
