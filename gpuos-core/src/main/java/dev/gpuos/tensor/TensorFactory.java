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

    /**
     * Every element {@code value}, converted to {@code dtype} (truncated toward zero for integral dtypes). Like
     * PyTorch, a value the dtype cannot hold is refused rather than wrapped or saturated: NaN, infinities or an
     * out-of-range value for I32/I64, a finite value beyond a floating dtype's largest (it would become infinity).
     *
     * @throws IllegalArgumentException "value ... cannot be converted to type ... without overflow"
     */
    default Tensor full(double value, DType dtype, long... shape) {
        return fill(new FillPattern.Constant(checkConvertible(Scalar.of(value), dtype)), dtype, shape);
    }

    /** As {@link #full(double, DType, long...)}; an I32 fill refuses values outside the int range. */
    default Tensor full(long value, DType dtype, long... shape) {
        return fill(new FillPattern.Constant(checkConvertible(Scalar.of(value), dtype)), dtype, shape);
    }

    /** {@code v} if {@code dtype} holds it (up to rounding and truncation toward zero), else PyTorch's error. */
    private static Scalar checkConvertible(Scalar v, DType dtype) {
        Dispatch.require("full", "dtype", dtype);
        double d = v.doubleValue();
        boolean fits = switch (dtype) {
            case BOOL, F64 -> true;
            case F32 -> !Double.isFinite(d) || Double.isFinite((float) d);
            case F16 -> !Double.isFinite(d) || Float.isFinite(Float.float16ToFloat(Float.floatToFloat16((float) d)));
            case BF16 -> !Double.isFinite(d) || Float.isFinite(BFloat16.toFloat(BFloat16.fromFloat((float) d)));
            case I32 -> v.isFloating() ? d > -2147483649.0 && d < 2147483648.0  // false for NaN
                    : v.longValue() >= Integer.MIN_VALUE && v.longValue() <= Integer.MAX_VALUE;
            case I64 -> !v.isFloating() || (d >= -0x1p63 && d < 0x1p63);
        };
        if (!fits) {
            throw new IllegalArgumentException("value " + v + " cannot be converted to type " + dtype
                    + " without overflow" + (dtype.isIntegral() ? " (" + dtype + " holds integers "
                    + (dtype == DType.I32 ? "-2147483648 to 2147483647" : "-2^63 to 2^63 - 1") + ")" : ""));
        }
        return v;
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
        if (!(n <= Layout.MAX_NUMEL)) {  // also an infinite span: (end - start) overflowed a double
            throw new IllegalArgumentException("arange(" + start + ", " + end + ", " + step + ") would have " + n
                    + " elements: more than the limit of " + Layout.MAX_NUMEL);
        }
        return fill(new FillPattern.Arange(Scalar.of(start), Scalar.of(step)), dtype, new long[]{(long) n});
    }

    private static long arangeLength(long start, long end, long step) {
        if (step == 0) throw new IllegalArgumentException("arange step must be non-zero");
        if (start != end && (end > start) != (step > 0)) {
            throw new IllegalArgumentException("arange: step " + step + " has the wrong sign for " + start + " to " + end);
        }
        // end - start may not fit in a long (arange(Long.MIN_VALUE, Long.MAX_VALUE)); its unsigned value does.
        long span = step > 0 ? end - start : start - end;
        long stride = step > 0 ? step : -step;  // |Long.MIN_VALUE| as unsigned: also right
        long n = span == 0 ? 0 : Long.divideUnsigned(span - 1, stride) + 1;
        if (n < 0 || n > Layout.MAX_NUMEL) {
            throw new IllegalArgumentException("arange(" + start + ", " + end + ", " + step + ") would have "
                    + Long.toUnsignedString(n) + " elements: the span " + start + " to " + end + " over step " + step
                    + " exceeds the limit of " + Layout.MAX_NUMEL + " elements");
        }
        return n;
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
    private Tensor upload(DType dtype, long[] shape, Object data, int length, BiConsumer<MemorySegment, Integer> encode) {
        Dispatch.require("tensor", "data", data);
        Dispatch.require("tensor", "dtype", dtype);
        Dispatch.require("tensor", "shape", shape);
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
        Dispatch.require("tensor", "data", data);
        Dispatch.require("tensor", "dtype", dtype);
        Dispatch.require("tensor", "shape", shape);
        long[] s = Dispatch.checkShape(shape);
        long bytes = Layout.numel(s) * dtype.byteSize();   // numel <= Layout.MAX_NUMEL = Long.MAX_VALUE / 8: no overflow
        if (data.byteSize() != bytes) {
            throw new ShapeMismatchException("data has " + data.byteSize() + " bytes but " + dtype + " shape "
                    + java.util.Arrays.toString(s) + " needs " + bytes);
        }
        data = Dispatch.readableFromAnyThread(data);
        Tensor out = Dispatch.allocate(scope(), backend(), dtype, s);
        return Dispatch.submitFresh(new UploadNode(data, out));
    }

    /** An F32 tensor holding {@code data} in row-major order. */
    default Tensor tensor(float[] data, long... shape) { return tensor(data, DType.F32, shape); }

    /** {@code data} converted to {@code dtype} (e.g. F16, BF16). */
    default Tensor tensor(float[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data, data == null ? 0 : data.length, (m, i) -> HostElements.setFloat(m, dtype, i, data[i]));
    }

    default Tensor tensor(double[] data, long... shape) { return tensor(data, DType.F64, shape); }

    default Tensor tensor(double[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data, data == null ? 0 : data.length, (m, i) -> HostElements.setDouble(m, dtype, i, data[i]));
    }

    default Tensor tensor(int[] data, long... shape) {
        return upload(DType.I32, shape, data, data == null ? 0 : data.length, (m, i) -> HostElements.setLong(m, DType.I32, i, data[i]));
    }

    default Tensor tensor(long[] data, long... shape) { return tensor(data, DType.I64, shape); }

    /**
     * {@code data} converted to {@code dtype}. Like torch.tensor, an element an I32 cannot hold is refused, not
     * wrapped (I32 is the one integral dtype narrower than the data).
     */
    default Tensor tensor(long[] data, DType dtype, long... shape) {
        return upload(dtype, shape, data, data == null ? 0 : data.length,
                (m, i) -> HostElements.setLong(m, dtype, i, dtype == DType.I32 ? intElement(data, i) : data[i]));
    }

    private static long intElement(long[] data, int i) {
        if (data[i] != (int) data[i]) {
            throw new IllegalArgumentException("tensor: data[" + i + "] = " + data[i] + " cannot be converted to type I32"
                    + " without overflow (I32 holds integers -2147483648 to 2147483647)");
        }
        return data[i];
    }

    default Tensor tensor(boolean[] data, long... shape) {
        return upload(DType.BOOL, shape, data, data == null ? 0 : data.length, (m, i) -> HostElements.setLong(m, DType.BOOL, i, data[i] ? 1 : 0));
    }

    /** A 0-dim F32 tensor, like torch.tensor(1.5). */
    default Tensor scalar(double value) { return full(value, DType.F32); }

    /** A 0-dim tensor of {@code dtype}. */
    default Tensor scalar(double value, DType dtype) { return full(value, dtype); }

    /** A 0-dim I64 tensor, like torch.tensor(3). */
    default Tensor scalar(long value) { return full(value, DType.I64); }
}
