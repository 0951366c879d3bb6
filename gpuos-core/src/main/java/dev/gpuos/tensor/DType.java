package dev.gpuos.tensor;

/**
 * Element types of a {@link Tensor}. The set and the promotion lattice follow PyTorch
 * ({@code torch.promote_types}); see {@link TypePromotion} for the operand-aware rules
 * ({@code torch.result_type}) that ops use.
 */
public enum DType {
    BOOL(1, Category.BOOL, "bool"),
    I32(4, Category.INTEGRAL, "int"),
    I64(8, Category.INTEGRAL, "long long"),
    F16(2, Category.FLOATING, "__half"),
    BF16(2, Category.FLOATING, "__nv_bfloat16"),
    F32(4, Category.FLOATING, "float"),
    F64(8, Category.FLOATING, "double");

    /** The dtype that integer inputs are promoted to by true division and float math (torch's default dtype). */
    public static final DType DEFAULT_FLOAT = F32;

    /** Promotion categories, ordered: a value of a higher category is never demoted by a lower one. */
    public enum Category { BOOL, INTEGRAL, FLOATING }

    private final int byteSize;
    private final Category category;
    private final String cudaType;

    DType(int byteSize, Category category, String cudaType) {
        this.byteSize = byteSize;
        this.category = category;
        this.cudaType = cudaType;
    }

    public int byteSize() { return byteSize; }

    public Category category() { return category; }

    public boolean isFloating() { return category == Category.FLOATING; }

    /** True for I32 and I64 (not BOOL). */
    public boolean isIntegral() { return category == Category.INTEGRAL; }

    /** The CUDA C type that stores one element (storage type, not the compute type). */
    public String cudaType() { return cudaType; }

    /**
     * The type elementwise math is carried out in, like PyTorch's "opmath" type: half precisions compute in F32,
     * all integers and BOOL in I64 (results are truncated to the storage type on write, which wraps exactly like
     * 32-bit two's complement arithmetic), F32 in F32 and F64 in F64.
     */
    public DType computeType() {
        return switch (this) {
            case F16, BF16, F32 -> F32;
            case F64 -> F64;
            case BOOL, I32, I64 -> I64;
        };
    }

    /** {@code torch.promote_types(a, b)} restricted to these dtypes. */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a == BOOL) return b;
        if (b == BOOL) return a;
        if (a.isIntegral() && b.isIntegral()) return (a == I64 || b == I64) ? I64 : I32;
        if (a.isIntegral()) return b;
        if (b.isIntegral()) return a;
        if (a == F64 || b == F64) return F64;
        // F16 with BF16 has no common 16-bit type; torch widens both to F32.
        return F32;
    }
}
