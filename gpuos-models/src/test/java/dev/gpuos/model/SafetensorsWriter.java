package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.gpuos.tensor.BFloat16;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes .safetensors files for tests (F32, F16, BF16), the way the format specifies. */
final class SafetensorsWriter {
    private record Item(String dtype, long[] shape, byte[] bytes) {}

    private final Map<String, Item> items = new LinkedHashMap<>();

    SafetensorsWriter add(String name, String dtype, long[] shape, float[] values) {
        int size = switch (dtype) { case "F32" -> 4; case "F16", "BF16" -> 2; default -> throw new IllegalArgumentException(dtype); };
        ByteBuffer b = ByteBuffer.allocate(values.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case "F32" -> b.putFloat(v);
                case "F16" -> b.putShort(Float.floatToFloat16(v));
                default -> b.putShort(BFloat16.fromFloat(v));
            }
        }
        items.put(name, new Item(dtype, shape, b.array()));
        return this;
    }

    /** The value a stored {@code dtype} element reads back as. */
    static float roundTrip(String dtype, float v) {
        return switch (dtype) {
            case "F16" -> Float.float16ToFloat(Float.floatToFloat16(v));
            case "BF16" -> BFloat16.toFloat(BFloat16.fromFloat(v));
            default -> v;
        };
    }

    void write(Path file) throws IOException {
        JsonObject header = new JsonObject();
        JsonObject meta = new JsonObject();
        meta.addProperty("format", "pt");
        header.add("__metadata__", meta);
        long offset = 0;
        for (var e : items.entrySet()) {
            JsonObject t = new JsonObject();
            t.addProperty("dtype", e.getValue().dtype());
            JsonArray shape = new JsonArray();
            for (long s : e.getValue().shape()) shape.add(s);
            t.add("shape", shape);
            JsonArray off = new JsonArray();
            off.add(offset);
            offset += e.getValue().bytes().length;
            off.add(offset);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8;   // the format pads the header with spaces to an 8-byte boundary
        byte[] padded = new byte[h.length + pad];
        System.arraycopy(h, 0, padded, 0, h.length);
        for (int i = h.length; i < padded.length; i++) padded[i] = ' ';
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).array());
            out.write(padded);
            for (Item i : items.values()) out.write(i.bytes());
        }
    }
}
