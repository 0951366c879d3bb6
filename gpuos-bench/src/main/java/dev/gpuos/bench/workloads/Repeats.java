package dev.gpuos.bench.workloads;

/**
 * The timing discipline shared by every configuration: warm-up runs first (the first one, JIT included, is
 * reported on its own), then {@code repeats} timed runs, each a wall time around a synchronized region. A run
 * that would start after the deadline is not started; the row then says how many repeats it got.
 */
final class Repeats {
    /** One full run of the workload, from the first op recorded to the device being done. Returns ms. */
    interface TimedRun {
        double run() throws Exception;
    }

    private final int warmups;
    private final int repeats;
    private final long deadlineNanos;

    Repeats(int warmups, int repeats, long deadlineNanos) {
        if (warmups < 0 || repeats < 1) {
            throw new IllegalArgumentException("warmups >= 0 and repeats >= 1 needed, got " + warmups + ", " + repeats);
        }
        this.warmups = warmups;
        this.repeats = repeats;
        this.deadlineNanos = deadlineNanos;
    }

    int repeats() {
        return repeats;
    }

    boolean expired() {
        return System.nanoTime() - deadlineNanos > 0;
    }

    /** Runs the extra warm-ups (the first one is the caller's checked run) and the timed repeats. */
    double[] measure(TimedRun run) throws Exception {
        for (int i = 1; i < warmups && !expired(); i++) {
            run.run();
        }
        double[] times = new double[repeats];
        int done = 0;
        while (done < repeats && (done == 0 || !expired())) {
            times[done++] = run.run();
        }
        return done == repeats ? times : java.util.Arrays.copyOf(times, done);
    }

    static double msSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }
}
