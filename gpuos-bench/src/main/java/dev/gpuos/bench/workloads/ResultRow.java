package dev.gpuos.bench.workloads;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of the results: a workload case run in one configuration. The timing counts only if {@code status}
 * is {@link #OK}; {@link #FAILED_CHECK} keeps the timing for diagnosis but marks it as not comparable.
 *
 * @param times      wall times of the timed repeats in ms, or null if the configuration did not get that far
 * @param firstRunMs the first (warm-up) run, JIT compilation included
 * @param maxRelErr  see {@link Accuracy}; NaN if nothing was compared
 * @param extra      configuration-specific figures (submissions and tasks per run, operators compiled, ...)
 */
public record ResultRow(String workload, String label, String config, String description, long ops, Samples times,
                        double firstRunMs, String status, double maxRelErr, double tolerance, String note,
                        Map<String, Object> extra) {
    public static final String OK = "ok";
    public static final String FAILED_CHECK = "FAILED-CHECK";
    public static final String ERROR = "ERROR";
    public static final String SKIPPED = "SKIPPED";

    static ResultRow skipped(WorkloadCase c, String config, String why) {
        return new ResultRow(c.workload(), c.label(), config, c.description(), c.ops(), null, Double.NaN, SKIPPED,
                Double.NaN, c.tolerance().bound, why, Map.of());
    }

    static ResultRow error(WorkloadCase c, String config, Throwable e) {
        String why = e.getClass().getSimpleName() + ": " + e.getMessage();
        for (Throwable cause = e.getCause(); cause != null && cause != e; cause = cause.getCause()) {
            why += " (caused by " + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")";
        }
        return new ResultRow(c.workload(), c.label(), config, c.description(), c.ops(), null, Double.NaN, ERROR,
                Double.NaN, c.tolerance().bound, why, Map.of());
    }

    /** The row as JSON-ready values (milliseconds, errors), in a stable key order shared with run.py. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workload", workload);
        m.put("case", label);
        m.put("config", config);
        m.put("description", description);
        m.put("ops", ops);
        m.put("median_ms", times == null ? null : times.median());
        m.put("p10_ms", times == null ? null : times.p10());
        m.put("p90_ms", times == null ? null : times.p90());
        m.put("min_ms", times == null ? null : times.min());
        m.put("max_ms", times == null ? null : times.max());
        m.put("repeats", times == null ? 0 : times.count());
        m.put("us_per_op", times == null || ops == 0 ? null : times.median() * 1000 / ops);
        m.put("first_run_ms", Double.isNaN(firstRunMs) ? null : firstRunMs);
        m.put("status", status);
        m.put("max_rel_err", Double.isNaN(maxRelErr) ? null : maxRelErr);
        m.put("tolerance", tolerance);
        m.put("note", note);
        m.put("extra", extra);
        return m;
    }
}
