package dev.gpuos.runtime.layout;

/** Element type codes carried in {@code gpuos_tensor_ref.dtype}; exported to CUDA as GPUOS_DTYPE_*. */
public enum DTypeCode {
    F32(0, 4), F16(1, 2), BF16(2, 2), F64(3, 8), I32(4, 4), I64(5, 8), BOOL(6, 1), U8(7, 1), I8(8, 1), I16(9, 2);

    public final int code;
    public final int byteSize;

    DTypeCode(int code, int byteSize) {
        this.code = code;
        this.byteSize = byteSize;
    }

    public static DTypeCode of(int code) {
        for (DTypeCode d : values()) {
            if (d.code == code) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype code " + code);
    }
}
