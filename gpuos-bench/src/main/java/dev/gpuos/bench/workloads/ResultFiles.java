package dev.gpuos.bench.workloads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Writes workloads_gpuos.json / .csv and the probe files: the schema {@code bench/pytorch/run.py} writes too
 * and {@code bench/charts.py} reads. JSON is written by hand because the bench's own writer is package-private
 * to {@code dev.gpuos.bench}.
 */
public final class ResultFiles {
    private ResultFiles() {}

    static final List<String> CSV_COLUMNS = List.of("workload", "case", "config", "status", "median_ms", "p10_ms",
            "p90_ms", "min_ms", "repeats", "us_per_op", "first_run_ms", "max_rel_err", "tolerance", "ops", "note");

    /** Writes via a temporary file and a move, so a reader never sees half a file. */
    public static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    public static String csv(List<ResultRow> rows) {
        StringBuilder out = new StringBuilder(String.join(",", CSV_COLUMNS)).append('\n');
        for (ResultRow row : rows) {
            Map<String, Object> m = row.toMap();
            for (int i = 0; i < CSV_COLUMNS.size(); i++) {
                Object v = m.get(CSV_COLUMNS.get(i));
                out.append(i == 0 ? "" : ",").append(csvField(v == null ? "" : String.valueOf(v)));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static String csvField(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** Rows as little-endian float32, concatenated: the layout run.py reads with numpy.fromfile. */
    public static void writeProbe(Path file, List<float[]> rows) throws IOException {
        long bytes = 0;
        for (float[] r : rows) {
            bytes += 4L * r.length;
        }
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] r : rows) {
            buf.asFloatBuffer().put(r);
            buf.position(buf.position() + 4 * r.length);
        }
        buf.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }

    public static String json(Object value) {
        StringBuilder out = new StringBuilder();
        json(out, value, 0);
        return out.append('\n').toString();
    }

    private static void json(StringBuilder out, Object v, int indent) {
        switch (v) {
            case null -> out.append("null");
            case Map<?, ?> m -> {
                out.append('{');
                boolean first = true;
                for (var e : m.entrySet()) {
                    out.append(first ? "\n" : ",\n").append("  ".repeat(indent + 1));
                    string(out, String.valueOf(e.getKey()));
                    out.append(": ");
                    json(out, e.getValue(), indent + 1);
                    first = false;
                }
                out.append(first ? "}" : "\n" + "  ".repeat(indent) + "}");
            }
            case List<?> l -> {
                boolean nested = !l.isEmpty() && (l.getFirst() instanceof Map<?, ?> || l.getFirst() instanceof List<?>);
                out.append('[');
                for (int i = 0; i < l.size(); i++) {
                    out.append(i == 0 ? "" : ",");
                    if (nested) {
                        out.append('\n').append("  ".repeat(indent + 1));
                    } else if (i > 0) {
                        out.append(' ');
                    }
                    json(out, l.get(i), indent + 1);
                }
                out.append(nested ? "\n" + "  ".repeat(indent) + "]" : "]");
            }
            case float[] f -> {
                out.append('[');
                for (int i = 0; i < f.length; i++) {
                    out.append(i == 0 ? "" : ", ");
                    number(out, f[i]);
                }
                out.append(']');
            }
            case int[] a -> json(out, java.util.Arrays.stream(a).boxed().toList(), indent);
            case long[] a -> json(out, java.util.Arrays.stream(a).boxed().toList(), indent);
            case Double d -> number(out, d);
            case Float f -> number(out, f);
            case Number n -> out.append(n);
            case Boolean b -> out.append(b);
            default -> string(out, v.toString());
        }
    }

    /** Non-finite numbers have no JSON form: null. Floats print their shortest float repr, exact for run.py. */
    private static void number(StringBuilder out, double d) {
        out.append(Double.isFinite(d) ? Double.toString(d) : "null");
    }

    private static void number(StringBuilder out, float f) {
        out.append(Float.isFinite(f) ? Float.toString(f) : "null");
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
