package dev.gpuos.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reads and writes single elements of any {@link DType} in host memory, converting to and from the Java types
 * used for computing. Conversions follow C casts as PyTorch applies them: float to integer truncates toward
 * zero and saturates to the integer type's range, NaN gives 0 (where C is undefined: this is what PyTorch on
 * CUDA gives, and Java's casts; I32 saturates at its own range, never through I64), anything to BOOL is
 * "not equal to zero" (so NaN is true), F16 and BF16 round to nearest even. Integer to narrower integer wraps
 * (two's complement), as in PyTorch.
 */
public final class HostElements {
    private HostElements() {}

    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    public static float getFloat(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(FLOAT, i);
            case F16 -> Float.float16ToFloat(s.getAtIndex(SHORT, i));
            case BF16 -> BFloat16.toFloat(s.getAtIndex(SHORT, i));
            case F64 -> (float) s.getAtIndex(DOUBLE, i);
            case I32 -> (float) s.getAtIndex(INT, i);
            case I64 -> (float) s.getAtIndex(LONG, i);
            case BOOL -> s.getAtIndex(BYTE, i) != 0 ? 1f : 0f;
        };
    }

    public static double getDouble(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F64 -> s.getAtIndex(DOUBLE, i);
            case I64 -> (double) s.getAtIndex(LONG, i);
            default -> getFloatExactly(s, t, i);
        };
    }

    // Every dtype other than F64 and I64 converts to float without rounding.
    private static double getFloatExactly(MemorySegment s, DType t, long i) {
        return t == DType.I32 ? s.getAtIndex(INT, i) : getFloat(s, t, i);
    }

    public static long getLong(MemorySegment s, DType t, long i) {
        return switch (t) {
            case I64 -> s.getAtIndex(LONG, i);
            case I32 -> s.getAtIndex(INT, i);
            case BOOL -> s.getAtIndex(BYTE, i) != 0 ? 1 : 0;
            case F64 -> (long) s.getAtIndex(DOUBLE, i);
            default -> (long) getFloat(s, t, i);
        };
    }

    /** The raw bits of element i, zero-extended; used for same-dtype copies, which must not alter NaN payloads. */
    public static long getBits(MemorySegment s, DType t, long i) {
        return switch (t.byteSize()) {
            case 1 -> s.getAtIndex(BYTE, i);
            case 2 -> s.getAtIndex(SHORT, i);
            case 4 -> s.getAtIndex(INT, i);
            default -> s.getAtIndex(LONG, i);
        };
    }

    public static void setBits(MemorySegment s, DType t, long i, long bits) {
        switch (t.byteSize()) {
            case 1 -> s.setAtIndex(BYTE, i, (byte) bits);
            case 2 -> s.setAtIndex(SHORT, i, (short) bits);
            case 4 -> s.setAtIndex(INT, i, (int) bits);
            default -> s.setAtIndex(LONG, i, bits);
        }
    }

    public static void setFloat(MemorySegment s, DType t, long i, float v) {
        switch (t) {
            case F32 -> s.setAtIndex(FLOAT, i, v);
            case F16 -> s.setAtIndex(SHORT, i, Float.floatToFloat16(v));
            case BF16 -> s.setAtIndex(SHORT, i, BFloat16.fromFloat(v));
            case F64 -> s.setAtIndex(DOUBLE, i, v);
            case I32 -> s.setAtIndex(INT, i, (int) v);
            case I64 -> s.setAtIndex(LONG, i, (long) v);
            case BOOL -> s.setAtIndex(BYTE, i, (byte) (v != 0 ? 1 : 0));
        }
    }

    public static void setDouble(MemorySegment s, DType t, long i, double v) {
        switch (t) {
            case F64 -> s.setAtIndex(DOUBLE, i, v);
            case I32 -> s.setAtIndex(INT, i, (int) v);
            case I64 -> s.setAtIndex(LONG, i, (long) v);
            case BOOL -> s.setAtIndex(BYTE, i, (byte) (v != 0 ? 1 : 0));
            // F16/BF16 narrow through float, as c10::Half(double) and c10::BFloat16(double) do.
            default -> setFloat(s, t, i, (float) v);
        }
    }

    /** {@code v} converted to {@code t} and back, i.e. rounded to what {@code t} can hold. */
    public static double round(DType t, double v) {
        return switch (t) {
            case F64 -> v;
            case F32 -> (float) v;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            case BF16 -> BFloat16.toFloat(BFloat16.fromFloat((float) v));
            case I32 -> (int) v;
            case I64 -> (long) v;
            case BOOL -> v != 0 ? 1 : 0;
        };
    }

    /** {@code v} converted to the integral or BOOL dtype {@code t} (wrapping for I32). */
    public static long round(DType t, long v) {
        return switch (t) {
            case I32 -> (int) v;
            case BOOL -> v != 0 ? 1 : 0;
            default -> v;
        };
    }

    public static void setLong(MemorySegment s, DType t, long i, long v) {
        switch (t) {
            case I64 -> s.setAtIndex(LONG, i, v);
            case I32 -> s.setAtIndex(INT, i, (int) v);
            case BOOL -> s.setAtIndex(BYTE, i, (byte) (v != 0 ? 1 : 0));
            case F64 -> s.setAtIndex(DOUBLE, i, (double) v);
            default -> setFloat(s, t, i, (float) v);
        }
    }
}
