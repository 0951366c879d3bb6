package dev.gpuos.tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How far a correct result of one op may lie from an independent computation of it (the CPU backend against
 * the GPU, a double-precision reference, PyTorch on CUDA, the interpreter tier against native operators),
 * relative to the reference: {@code |actual - expected| <= tolerance x max(|expected|, scale)}, where each
 * check picks its scale (a floor near zero, the inputs' or the row's magnitude). Integers and BOOL are exact.
 * The one table every test, the fuzzer, opcheck's comparison with PyTorch (through its manifest) and the
 * interpreter checks read, so they cannot drift apart (issue 12: five copies had, F64 1e-12 against 1e-9 and
 * 16-bit reductions 2e-2 against 1e-2).
 *
 * <p>These bound one op on exact inputs; a chain of dependent steps grows its error with its length and is
 * judged by its own workload check.
 */
public final class ToleranceTable {
    private ToleranceTable() {}

    /** What kind of result is compared. */
    public enum Kind {
        /** Each element is one function of the elements it reads: elementwise ops, casts, selections. */
        ELEMENTWISE,
        /**
         * Each element sums or compares many inputs, in an order that differs between implementations (tree on the
         * GPU, sequential on the CPU): reductions, softmax, norms, matmul. Compared normwise (against the largest
         * magnitude of the row or result).
         */
        ACCUMULATING
    }

    /** The relative tolerance for a result of dtype {@code t}; 0 (exact) for integers and BOOL. */
    public static double relative(DType t, Kind kind) {
        return switch (t) {
            // Both sides are correct to a few ulps (1e-16) for the same formula, but correct implementations use
            // different ones: the CPU's gelu x/2 (1 + erf) and CUDA's erfc form differ by ~3e-12 where erf nears
            // -1, and pow/exp of large arguments scale an ulp by the argument. Summation order adds n eps, about
            // 1e-12 for 10^4 terms. 1e-9 admits those and still fails any step computed in F32 (>= 6e-8).
            case F64 -> 1e-9;
            // Unit roundoff 6e-8; CUDA's and Java's libm differ by up to ~4 ulps (tanh, erf, pow), and fused
            // chains round at every stored member: 1e-5 (~80 ulps) covers that, while a wrong op or a 16-bit
            // rounding (1e-3) fails. Sums of n terms in different orders err by up to n eps, in practice sqrt(n)
            // eps: 1e-4 normwise covers the rows tested (up to ~10^4 terms). Issue 3's targets.
            case F32 -> kind == Kind.ACCUMULATING ? 1e-4 : 1e-5;
            // Both sides compute in F32 (accumulating too) and round once to the storage type, so they differ by
            // at most one ulp of the result where a value lands on different sides of a rounding boundary: 2^-7 =
            // 7.8e-3 relative for BF16 (2^-10 for F16). 1e-2 is one BF16 ulp with margin; two ulps (2e-2) would
            // mean a path rounds twice, which none should.
            case F16, BF16 -> 1e-2;
            case BOOL, I32, I64 -> 0;
        };
    }

    public static double elementwise(DType t) {
        return relative(t, Kind.ELEMENTWISE);
    }

    public static double accumulating(DType t) {
        return relative(t, Kind.ACCUMULATING);
    }

    /**
     * The floating rows of the table keyed "kind/dtype" with PyTorch's dtype names ("elementwise/float32",
     * "normwise/bfloat16"): what opcheck writes into its manifest for op_compare.py.
     */
    public static Map<String, Double> byPyTorchName() {
        Map<String, Double> out = new LinkedHashMap<>();
        for (DType t : DType.values()) {
            if (!t.isFloating()) continue;
            String name = switch (t) {
                case F16 -> "float16";
                case BF16 -> "bfloat16";
                case F32 -> "float32";
                case F64 -> "float64";
                default -> throw new AssertionError(t);
            };
            out.put("elementwise/" + name, elementwise(t));
            out.put("normwise/" + name, accumulating(t));
        }
        return out;
    }
}
