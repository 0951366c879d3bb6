package dev.gpuos.tensor.op;

/**
 * CPU scalar implementation of an elementwise op for floating compute types. Unused operands are 0;
 * {@code p} holds the op's parameters. F32 (and F16/BF16, which compute in F32) evaluate this in double and
 * round once to float: for + - * / and sqrt that is bit-identical to float arithmetic, for transcendental
 * functions it is the correctly rounded value, which a GPU's float math matches within a few ulp.
 */
@FunctionalInterface
public interface DoubleKernel {
    double apply(double a, double b, double c, double[] p);
}
