package dev.gpuos.tensor.interp;

/**
 * The instruction set of op programs: the one definition, from which {@link InterpreterSource} generates the
 * CUDA {@code GPUOS_IOP_*} constants the interpreter switches on.
 *
 * <p>An instruction is 8 bytes: {@code op dst a b c x y z}. Registers are 64-bit words holding either a value
 * of a compute type (F32 in the low 32 bits, F64, I64; see {@link #computeCode}) or the raw bits of a stored
 * element (zero-extended). Dtypes are {@code DTypeCode} codes.
 */
public enum Opcode {
    /** Header, instruction 0: dst = registers used, a | b &lt;&lt; 8 = instructions (header included),
     *  c = operands, x = argument words, y = version, z = magic. */
    PROGRAM,
    /** dst = raw bits of operand a's element, dtype x. */
    LOAD,
    /** dst = raw register a (stored dtype x) as compute type z, rounded through operand type y first. */
    CVT,
    /** dst = argument word a as compute type z. */
    ARG,
    /** dst = ElementwiseOp x over registers a, b, c in F32; params p0, p1 from argument words y, z (255: none). */
    EVAL_F32,
    /** The same in F64. */
    EVAL_F64,
    /** The same in I64. */
    EVAL_I64,
    /** Operand b's element = register a (compute type z) converted to dtype x; dst = the stored raw bits. */
    STORE,
    /** Operand b's element = raw register a of dtype x (a same-dtype copy moves bits); dst = the same bits. */
    STORE_RAW,
    /** The whole program (instruction 1): reduce groups with reduce.cu's task interface; x = ReduceOp (sum, prod,
     *  mean, max, min), y = input dtype. */
    REDUCE;

    public int code() {
        return ordinal();
    }

    /** CUDA {@code GPUOS_ICOMPUTE_*} code of a compute type: F32 0, F64 1, I64 2. */
    public static int computeCode(dev.gpuos.tensor.DType compute) {
        return switch (compute) {
            case F32 -> 0;
            case F64 -> 1;
            case I64 -> 2;
            default -> throw new IllegalArgumentException("not a compute type: " + compute);
        };
    }
}
