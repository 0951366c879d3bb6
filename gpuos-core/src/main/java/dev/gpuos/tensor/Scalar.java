package dev.gpuos.tensor;

/**
 * A Python-style number used as an operand ({@code x.add(2.5)}). Its {@link #kind()} is BOOL, I64 or F64, the
 * "wrapped number" types of PyTorch: such a scalar only changes the result dtype when its category (bool &lt;
 * integral &lt; floating) is higher than the tensors' (see {@link TypePromotion}).
 *
 * @param doubleValue the value as a double (exact for F64 and BOOL kinds)
 * @param longValue   the value as a long (exact for I64 and BOOL kinds)
 * @param kind        BOOL, I64 or F64
 */
public record Scalar(double doubleValue, long longValue, DType kind) implements Operand {
    public Scalar {
        if (kind != DType.BOOL && kind != DType.I64 && kind != DType.F64) {
            throw new IllegalArgumentException("scalar kind must be BOOL, I64 or F64, got " + kind);
        }
    }

    public static Scalar of(double value) { return new Scalar(value, (long) value, DType.F64); }

    public static Scalar of(long value) { return new Scalar(value, value, DType.I64); }

    public static Scalar of(boolean value) { return new Scalar(value ? 1 : 0, value ? 1 : 0, DType.BOOL); }

    public boolean isFloating() { return kind == DType.F64; }

    @Override
    public String toString() {
        return kind == DType.F64 ? Double.toString(doubleValue)
                : kind == DType.BOOL ? Boolean.toString(longValue != 0) : Long.toString(longValue);
    }
}
