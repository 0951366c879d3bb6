package dev.gpuos.bench.workloads;

import java.util.Arrays;

/** Median and spread of repeated wall times, with numpy's default (linear) percentile so both sides agree. */
public record Samples(double median, double p10, double p90, double min, double max, int count) {

    public static Samples of(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        double[] s = values.clone();
        Arrays.sort(s);
        return new Samples(percentile(s, 0.5), percentile(s, 0.1), percentile(s, 0.9), s[0], s[s.length - 1], s.length);
    }

    /** Linear interpolation between closest ranks of sorted {@code s} (numpy.percentile's default). */
    static double percentile(double[] s, double q) {
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, s.length - 1);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }
}
