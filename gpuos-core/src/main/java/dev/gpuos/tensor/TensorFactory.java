package dev.gpuos.tensor;

import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.FillPattern;
import dev.gpuos.tensor.op.UploadNode;

import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;

/**
 * Tensor creation, implemented by {@link TensorScope}: every tensor made here is owned by {@link #scope()} and
 * lives on {@link #backend()}. Creation is recorded like any op (a fill or an upload node), so on a batching
 * backend it costs no round trip; array data is copied before the call returns.
 */
public sealed interface TensorFactory permits TensorScope {
    Backend backend();

    TensorScope scope();

    private Tensor fill(FillPattern pattern, DType dtype, long[] shape) {
        long[] s = Dispatch.checkShape(shape);
        Tensor out = Dispatch.allocate(scope(), backend(), dtype, s);
        return Dispatch.submitFresh(new FillNode(pattern, out));
    }

    default Tensor zeros(DType dtype, long... shape) { return full(0L, dtype, shape); }

    default Tensor ones(DType dtype, long... shape) { return full(1L, dtype, shape); }

    /** Every element {@code value}, converted to {@code dtype} (truncated toward zero for integral dtypes). */
    default Tensor full(double value, DType dtype, long... shape) {
        return fill(new FillPattern.Constant(Scalar.of(value)), dtype, shape);
    }

    default Tensor full(long value, DType dtype, long... shape) {
        return fill(new FillPattern.Constant(Scalar.of(value)), dtype, shape);
    }

    /** 0, 1, ..., end-1 as I64. */
    default Tensor arange(long end) { return arange(0, end, 1); }

    /** start, start+step, ... below end (above end for negative step) as I64. */
    default Tensor arange(long start, long end, long step) {
        long n = arangeLength(start, end, step);
        return fill(new FillPattern.Arange(Scalar.of(start), Scalar.of(step)), DType.I64, new long[]{n});
    }

    /** start, start+step, ... as {@code dtype}; ceil((end - start) / step) elements, like torch.arange. */
    default Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0 || !Double.isFinite(start) || !Double.isFinite(end) || !Double.isFinite(step)) {
            throw new IllegalArgumentException("arange needs finite bounds and a non-zero step, got " + start + ", " + end + ", " + step);
        }
        double n = Math.ceil((end - start) / step);
        if (n < 0) throw new IllegalArgumentException("arange: step " + step + " has the wrong sign for " + start + " to " + end);
        return fill(new FillPattern.Arange(Scalar.of(start), Scalar.of(step)), dtype, new long[]{(long) n});
    }

    private static long arangeLength(long start, long end, long step) {
        if (step == 0) throw new IllegalArgumentException("arange step must be non-zero");
        long span = end - start;
        if (span != 0 && (span > 0) != (step > 0)) {
            throw new IllegalArgumentException("arange: step " + step + " has the wrong sign for " + start + " to " + end);
        }
        return span == 0 ? 0 : (span + step + (step > 0 ? -1 : 1)) / step;
    }

    /** Uniform in [0, 1) from a counter-based generator: the same seed gives the same tensor on every backend. */
    default Tensor rand(long seed, DType dtype, long... shape) {
        requireFloating("rand", dtype);
        return fill(new FillPattern.Uniform(seed, 0, 1), dtype, shape);
    }

    /** Standard normal, counter-based like {@link #rand}. */
    default Tensor randn(long seed, DType dtype, long... shape) {
        requireFloating("randn", dtype);
        return fill(new FillPattern.Normal(seed, 0, 1), dtype, shape);
    }

    private static void requireFloating(String name, DType dtype) {
        if (!dtype.isFloating()) throw new UnsupportedDTypeException(name + " needs a floating dtype, got " + dtype);
    }

    /** An empty {@code shape} means 1-D of the data's length, like torch.tensor([...]); use scalar() for 0-dim. */
    private Tensor upload(DType dtype, long[] shape, int length, BiConsumer<MemorySegment, Integer> encode) {
        long[] s = shape.length == 0 ? new long[]{length} : Dispatch.checkShape(shape);
        if (Layout.numel(s) != length) {
            throw new ShapeMismatchException("data has " + length + " elements but shape " + java.util.Arrays.toString(s)
                    + " needs " + Layout.numel(s));
        }
        long bytes = (long) length * dtype.byteSize();
        MemorySegment host = MemorySegment.ofArray(new long[(int) Math.ceilDiv(bytes, 8)]).asSlice(0, bytes);
        for (int i = 0; i < length; i++) encode.accept(host, i);
        Tensor out = Dispatch.allocate(scope(), backend(), dtype, s);
        return Dispatch.submitFresh(new UploadNode(host, out));
    }

    /**
     * A tensor of {@code dtype} whose elements are the bytes of {@code data} (little-endian, row-major), e.g. a
     * slice of a memory-mapped weights file, uploaded without an intermediate Java array. A batching backend may
     * read {@code data} as late as the next sync point, possibly from another thread: keep it readable until then,
     * in a shared (or global, or heap) segment.
     */
    default Tensor tensor(MemorySegment data, DType dtype, long... shape) {
        long[] s = Dispatch.checkShape(shape);
        long bytes = Layout.numel(s) * dtype.byteSize();
        if (data.byteSize() != bytes) {
            throw new ShapeMismatchException("data has " + data.byteSize() + " bytes but " + dtype + " shape "
                    + java.util.Arrays.toString(s) + " needs " + bytes);
        }
        Tensor out = Dispatch.allocate(scope(), backend(), dtype, s);
        return Dispatch.submitFresh(new UploadNode(data, out));
    }

    /** An F32 tensor holding {@code data} in row-major order. */
    default Tensor tensor(float[] data, long... shape) { return tensor(data, DType.F32, shape); }

    /** {@code data} converted to {@code dtype} (e.g. F16, BF16). */
    default Tensor tensor(float[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data.length, (m, i) -> HostElements.setFloat(m, dtype, i, data[i]));
    }

    default Tensor tensor(double[] data, long... shape) { return tensor(data, DType.F64, shape); }

    default Tensor tensor(double[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data.length, (m, i) -> HostElements.setDouble(m, dtype, i, data[i]));
    }

    default Tensor tensor(int[] data, long... shape) {
        return upload(DType.I32, shape, data.length, (m, i) -> HostElements.setLong(m, DType.I32, i, data[i]));
    }

    default Tensor tensor(long[] data, long... shape) { return tensor(data, DType.I64, shape); }

    default Tensor tensor(long[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data.length, (m, i) -> HostElements.setLong(m, dtype, i, data[i]));
    }

    default Tensor tensor(boolean[] data, long... shape) {
        return upload(DType.BOOL, shape, data.length, (m, i) -> HostElements.setLong(m, DType.BOOL, i, data[i] ? 1 : 0));
    }

    /** A 0-dim F32 tensor, like torch.tensor(1.5). */
    default Tensor scalar(double value) { return full(value, DType.F32); }

    /** A 0-dim tensor of {@code dtype}. */
    default Tensor scalar(double value, DType dtype) { return full(value, dtype); }

    /** A 0-dim I64 tensor, like torch.tensor(3). */
    default Tensor scalar(long value) { return full(value, DType.I64); }
}
