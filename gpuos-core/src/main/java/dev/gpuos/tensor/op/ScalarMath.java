package dev.gpuos.tensor.op;

/**
 * The scalar functions elementwise ops need beyond java.lang.Math, with C (and so CUDA and PyTorch) semantics
 * where Java's differ.
 */
public final class ScalarMath {
    private ScalarMath() {}

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;

    /** Error function, accurate to about 1e-15 relative: Taylor series near 0, continued fraction for erfc beyond. */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax < 2.5) {
            // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); terms shrink fast enough below 2.5.
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 100; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return TWO_OVER_SQRT_PI * sum;
        }
        if (ax > 6) return Math.copySign(1.0, x);
        return Math.copySign(1.0 - erfcContinuedFraction(ax), x);
    }

    /**
     * Complementary error function without the cancellation of 1 - erf(x) for large x (erfc(10) is 2.1e-45, where
     * 1 - erf(10) is 0): the continued fraction from 2.5 on, 1 - erf(x) below (at least 4e-4 there, so no digits
     * are lost; for x < 0 it lies in [1, 2]).
     */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        if (x < 2.5) return 1.0 - erf(x);
        if (x > 27) return 0;  // below the smallest double
        return erfcContinuedFraction(x);
    }

    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated with Lentz's method.
    private static double erfcContinuedFraction(double x) {
        double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 300; n++) {
            double an = n / 2.0;
            d = x + an * d;
            d = d == 0 ? tiny : d;
            c = x + an / c;
            c = c == 0 ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }

    /** C's pow: unlike Math.pow, pow(1, y) is 1 for every y (NaN included) and pow(-1, +-inf) is 1. */
    public static double pow(double a, double b) {
        if (a == 1 || b == 0) return 1;
        if (a == -1 && Double.isInfinite(b)) return 1;
        return Math.pow(a, b);
    }

    /** Integer power with wrap-around; negative exponents give 1/a truncated (1, +-1 for a = -1, else 0). */
    public static long pow(long a, long b) {
        if (b < 0) {
            if (a == 1) return 1;
            if (a == -1) return (b & 1) == 0 ? 1 : -1;
            return 0;
        }
        long result = 1, base = a;
        while (b != 0) {
            if ((b & 1) != 0) result *= base;
            base *= base;
            b >>>= 1;
        }
        return result;
    }

    /** Python floor division for floats, exactly as PyTorch's div_floor_floating. */
    public static double floorDivide(double a, double b) {
        if (b == 0) return a / b;
        double mod = a % b;
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;
        if (div == 0) return Math.copySign(0.0, a / b);
        double floor = Math.floor(div);
        if (div - floor > 0.5) floor += 1;
        return floor;
    }

    /** Python floor division for integers; division by zero yields 0 (PyTorch raises; a GPU cannot). */
    public static long floorDivide(long a, long b) {
        if (b == 0) return 0;
        long q = a / b;
        if (a % b != 0 && ((a < 0) != (b < 0))) q -= 1;
        return q;
    }

    /** Python modulo (sign of the divisor) for floats, as PyTorch's remainder. */
    public static double remainder(double a, double b) {
        double mod = a % b;
        if (mod != 0 && (b < 0) != (mod < 0)) mod += b;
        return mod;
    }

    /** Python modulo for integers; modulo zero yields 0 (PyTorch raises; a GPU cannot). */
    public static long remainder(long a, long b) {
        if (b == 0) return 0;
        long mod = a % b;
        if (mod != 0 && (b < 0) != (mod < 0)) mod += b;
        return mod;
    }

    /** maximum with PyTorch's NaN rule: a NaN operand wins. */
    public static double maximum(double a, double b) {
        return (Double.isNaN(a) || a > b) ? a : b;
    }

    public static double minimum(double a, double b) {
        return (Double.isNaN(a) || a < b) ? a : b;
    }

    public static double sigmoid(double a) {
        return 1 / (1 + Math.exp(-a));
    }
}
