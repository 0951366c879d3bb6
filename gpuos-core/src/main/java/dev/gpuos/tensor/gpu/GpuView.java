package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;

import java.util.Arrays;

/**
 * One task operand as a task descriptor carries it: a buffer, the byte offset of element 0, the dtype, and
 * sizes and strides in elements. Operators index with these, so one compiled operator serves every shape.
 */
record GpuView(DeviceBuffer buffer, DTypeCode dtype, long byteOffset, long[] sizes, long[] strides) {

    static DTypeCode code(DType t) {
        return switch (t) {
            case F32 -> DTypeCode.F32;
            case F16 -> DTypeCode.F16;
            case BF16 -> DTypeCode.BF16;
            case F64 -> DTypeCode.F64;
            case I32 -> DTypeCode.I32;
            case I64 -> DTypeCode.I64;
            case BOOL -> DTypeCode.BOOL;
        };
    }

    /** {@code t}'s storage seen with other sizes and strides (a permuted or coalesced form of its layout). */
    static GpuView of(Tensor t, long[] sizes, long[] strides) {
        return new GpuView(GpuStorage.of(t).block(), code(t.dtype()), t.storageOffset() * t.dtype().byteSize(),
                sizes, strides);
    }

    /** {@code t} as it is. */
    static GpuView of(Tensor t) {
        return of(t, t.shape(), t.strides());
    }

    /** {@code t}'s elements as one dense run (t must be contiguous). */
    static GpuView flat(Tensor t) {
        return of(t, new long[]{t.numel()}, new long[]{1});
    }

    void write(TaskBatch.TaskWriter w, int index) {
        w.ref(index, buffer, byteOffset, dtype, sizes, strides);
    }

    @Override
    public String toString() {
        return "GpuView[" + dtype + " " + Arrays.toString(sizes) + " strides " + Arrays.toString(strides) + " +"
                + byteOffset + "B]";
    }
}
