package dev.gpuos.tensor.fuzz;

/**
 * Random programs of 3-12 ops (plus the inputs they need) from a seed. Every step is valid for the API by
 * construction (the generator tracks dtypes and shapes in {@link Facts}), and values stay where two correct
 * backends agree within tolerance:
 * <ul>
 *   <li>inputs are short binary fractions in [-4, 4] (see {@link FuzzInputs}); some hold NaN, +-inf and -0.0;</li>
 *   <li>ops that jump take only exact operands (see {@link Facts}); divisors are fresh inputs or scalars with
 *       |v| &ge; 0.5; log, sqrt and rsqrt only see exact values, so zeros are real zeros;</li>
 *   <li>magnitudes are bounded: exp takes |x| &le; 10, pow exponents are in {-1, 0, 0.5, 1.5, 2, 3} on bases up
 *       to 16, prod reduces at most 8 elements, mul stops growing past 1e6;</li>
 *   <li>softmax, norms and matmul see no NaN/inf; layer_norm uses eps &ge; 1e-3 on exact inputs, so a row with
 *       (nearly) equal values cannot turn a last-bit difference of its mean into a visible one;</li>
 *   <li>tensors hold at most {@value #MAX_NUMEL} elements; elementwise ops often continue the latest result,
 *       so chains long enough to fuse occur, and syncs fall at random points between steps;</li>
 *   <li>some views try overflow-prone sizes, offsets and strides (Long.MAX_VALUE, 2^31, 2^62, one past the end,
 *       negative ones; {@link OverflowSteps}): every backend must refuse the illegal ones with the same exception
 *       and compute the legal ones alike; casts of NaN and infinities to integers (defined: NaN to 0, saturation)
 *       occur too.</li>
 * </ul>
 */
public final class ProgramGenerator {
    static final int MAX_NUMEL = 4096;

    /** The program of {@code seed}; the same on every machine and every run. */
    public FuzzProgram generate(long seed) {
        return new ProgramBuilder(new java.util.SplittableRandom(seed)).build(seed);
    }
}
