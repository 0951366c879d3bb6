package dev.gpuos.bench;

import java.util.List;
import java.util.Map;

/** A small JSON writer for benchmark results (maps, lists, numbers, strings, booleans). */
final class Json {
    private Json() {}

    static String write(Object value) {
        var out = new StringBuilder();
        write(out, value, 0);
        return out.append('\n').toString();
    }

    private static void write(StringBuilder out, Object v, int indent) {
        if (v == null) {
            out.append("null");
        } else if (v instanceof Map<?, ?> m) {
            out.append("{");
            boolean first = true;
            for (var e : m.entrySet()) {
                out.append(first ? "\n" : ",\n").append("  ".repeat(indent + 1));
                string(out, String.valueOf(e.getKey()));
                out.append(": ");
                write(out, e.getValue(), indent + 1);
                first = false;
            }
            out.append(first ? "}" : "\n" + "  ".repeat(indent) + "}");
        } else if (v instanceof List<?> l) {
            out.append("[");
            for (int i = 0; i < l.size(); i++) {
                out.append(i == 0 ? "" : ", ");
                write(out, l.get(i), indent + 1);
            }
            out.append("]");
        } else if (v instanceof double[] d) {
            out.append("[");
            for (int i = 0; i < d.length; i++) {
                out.append(i == 0 ? "" : ", ");
                number(out, d[i]);
            }
            out.append("]");
        } else if (v instanceof Double d) {
            number(out, d);
        } else if (v instanceof Float f) {
            number(out, f);
        } else if (v instanceof Number || v instanceof Boolean) {
            out.append(v);
        } else {
            string(out, v.toString());
        }
    }

    private static void number(StringBuilder out, double d) {
        if (Double.isFinite(d)) {
            out.append(d);
        } else {
            out.append("null");
        }
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
