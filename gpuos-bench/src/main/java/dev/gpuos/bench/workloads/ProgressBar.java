package dev.gpuos.bench.workloads;

import java.io.PrintStream;

/**
 * How far the workload benchmark got: one line per finished (case, configuration) run, e.g.
 * {@code [###.......] 12/48 W3 L=512 gpuos_replay}, next to the result lines.
 */
final class ProgressBar {
    static final int WIDTH = 10;

    private final PrintStream out;
    private final int total;
    private int done;

    ProgressBar(PrintStream out, int total) {
        this.out = out;
        this.total = total;
    }

    /** Counts one finished run and prints the bar. */
    void finished(String workload, String label, String config) {
        done++;
        out.println(line(done, total, workload + " " + label + " " + config));
        out.flush();
    }

    int done() {
        return done;
    }

    /** The bar for {@code done} of {@code total} runs, then what just finished. */
    static String line(int done, int total, String what) {
        int filled = total <= 0 ? WIDTH : (int) Math.min(WIDTH, (long) done * WIDTH / total);
        return "[" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "] " + done + "/" + total + " " + what;
    }
}
