package dev.gpuos.tensor.op;

/**
 * CPU scalar implementation of an elementwise op for integral compute (I32, I64 and BOOL compute in 64-bit;
 * the store truncates, which wraps exactly like 32-bit two's complement arithmetic). BOOL inputs arrive as 0/1.
 */
@FunctionalInterface
public interface LongKernel {
    long apply(long a, long b, long c, double[] p);
}
