package dev.gpuos.bench.workloads;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Judges the rows of one run against the case's plain-Java reference ({@link Accuracy}) and writes the probe
 * rows ({@link WorkloadCase#probeRows()}) to {@code probeDir/<case key>__<config>.f32}, where {@code run.py}
 * compares them with PyTorch eager's rows.
 */
final class OutputCheck {
    private OutputCheck() {}

    static Accuracy run(WorkloadCase c, Map<String, float[]> inputs, IntFunction<float[]> rowOf, Path probeDir,
                        String config) {
        Accuracy accuracy = new Accuracy(c.tolerance());
        int[] probes = c.probeRows();
        List<float[]> probeRows = new ArrayList<>(probes.length);
        int nextProbe = 0;
        for (int k = 0; k < c.rows(); k++) {
            float[] row = rowOf.apply(k);
            accuracy.addRow(k, row, c.reference(inputs, k));
            if (nextProbe < probes.length && probes[nextProbe] == k) {
                probeRows.add(row);
                nextProbe++;
            }
        }
        if (probeDir != null) {
            try {
                Files.createDirectories(probeDir);
                ResultFiles.writeProbe(probeDir.resolve(probeFile(c, config)), probeRows);
            } catch (IOException e) {
                throw new UncheckedIOException("could not write the probe rows of " + c + " " + config, e);
            }
        }
        return accuracy;
    }

    static String probeFile(WorkloadCase c, String config) {
        return c.key() + "__" + config + ".f32";
    }

    static String status(Accuracy a, WorkloadCase c) {
        return a.within() ? ResultRow.OK : ResultRow.FAILED_CHECK;
    }

    static String note(Accuracy a, WorkloadCase c) {
        return a.within() ? "" : "max rel err " + a.maxError() + " > " + c.tolerance().bound + " at "
                + a.worst();
    }
}
