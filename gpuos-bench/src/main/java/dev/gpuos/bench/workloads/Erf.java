package dev.gpuos.bench.workloads;

/**
 * erf in double for the W6 reference (Java has none): the Maclaurin series where it converges quickly, the
 * continued fraction of erfc beyond. Accurate to about 1e-14, far below the 1e-4 the check allows.
 */
final class Erf {
    private Erf() {}

    static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double a = Math.abs(x);
        double r = a < 2.5 ? series(a) : 1 - erfcContinuedFraction(a);
        return Math.copySign(r, x);
    }

    /** 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); terms peak near n = x^2, so x < 2.5 loses < 3 digits. */
    private static double series(double x) {
        double term = x;
        double sum = x;
        double x2 = x * x;
        for (int n = 1; n < 200; n++) {
            term *= -x2 / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                break;
            }
        }
        return sum * 2 / Math.sqrt(Math.PI);
    }

    /** erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), by modified Lentz, x >= 2.5. */
    private static double erfcContinuedFraction(double x) {
        double tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0;
        for (int n = 1; n < 500; n++) {
            double an = n / 2.0;
            d = x + an * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c = x + an / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }
}
