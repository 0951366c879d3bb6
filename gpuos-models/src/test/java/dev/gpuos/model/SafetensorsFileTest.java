package dev.gpuos.model;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static float[] values(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * 3);
        return v;
    }

    @Test
    void readsF32F16Bf16AndWidensToF32() throws IOException {
        float[] a = values(12, 1), b = values(6, 2), c = values(8, 3);
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().add("a", "F32", new long[]{3, 4}, a).add("b", "F16", new long[]{6}, b)
                .add("c", "BF16", new long[]{2, 2, 2}, c).write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file); TensorScope scope = TensorScope.open(CpuBackend.eager())) {
            assertEquals(3, st.entries().size());
            assertEquals("pt", st.metadata().get("format"));
            Tensor ta = st.upload(scope, st.entry("a"), DType.F32);
            assertArrayEquals(new long[]{3, 4}, ta.shape());
            assertArrayEquals(a, ta.toFloatArray());
            float[] tb = st.upload(scope, st.entry("b"), DType.F32).toFloatArray();
            float[] tc = st.upload(scope, st.entry("c"), DType.F32).toFloatArray();
            for (int i = 0; i < b.length; i++) assertEquals(SafetensorsWriter.roundTrip("F16", b[i]), tb[i]);
            for (int i = 0; i < c.length; i++) assertEquals(SafetensorsWriter.roundTrip("BF16", c[i]), tc[i]);
            assertEquals(DType.BF16, st.upload(scope, st.entry("c"), DType.BF16).dtype());
        }
    }

    @Test
    void truncatedFileNamesTheFileAndTensor() throws IOException {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().add("w", "F32", new long[]{4, 4}, values(16, 4)).write(file);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 5));
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("w.data_offsets")
                && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void shortOrCorruptHeaderIsAClearError() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[]{1, 2, 3});
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(tiny)).getMessage().contains("truncated"));
        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, new byte[]{(byte) 0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(huge)).getMessage().contains("header length"));
        Path notJson = dir.resolve("bad.safetensors");
        Files.write(notJson, new byte[]{4, 0, 0, 0, 0, 0, 0, 0, '{', 'x', ':', '}'});
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(notJson)).getMessage().contains("not valid JSON"));
        Path missing = dir.resolve("missing.safetensors");
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(missing)).getMessage().contains("missing"));
    }

    @Test
    void unknownDtypeAndWrongByteCountAreNamed() throws IOException {
        Path file = dir.resolve("x.safetensors");
        String header = "{\"w\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        writeRaw(file, header, 8);
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("w.dtype") && e.getMessage().contains("F12"), e.getMessage());
        writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("w.data_offsets") && e.getMessage().contains("needs 12"), e.getMessage());
        writeRaw(file, "{\"w\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8);
        try (SafetensorsFile st = SafetensorsFile.open(file); TensorScope scope = TensorScope.open(CpuBackend.eager())) {
            e = assertThrows(ModelFormatException.class, () -> st.upload(scope, st.entry("w"), DType.F32));
            assertTrue(e.getMessage().contains("I8") && e.getMessage().contains("not supported"), e.getMessage());
        }
    }

    /** A header whose ranges overlap, leave a hole or stop short of the file's end loads no tensor (HF rejects it too). */
    @Test
    void rangesMustTileTheDataSection() throws IOException {
        Path file = dir.resolve("x.safetensors");
        // b reuses a's last 4 bytes: without the check, b would load a's values.
        writeRaw(file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("b.data_offsets")
                && e.getMessage().contains("overlap a"), e.getMessage());
        writeRaw(file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("b.data_offsets") && e.getMessage().contains("a ends at 8"), e.getMessage());
        writeRaw(file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("4 trailing bytes"), e.getMessage());
        // Header order is free, and zero-size tensors may sit on any boundary.
        writeRaw(file, "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertEquals(3, st.entries().size());
        }
    }

    @Test
    void numbersThatAreNotWholeLongsAreErrorsNotRoundedOrWrapped() throws IOException {
        Path file = dir.resolve("x.safetensors");
        String[][] cases = {
            {"[2]", "[0,8.5]", "w.data_offsets"},                     // was read as 8
            {"[2]", "[\"0\",8]", "w.data_offsets"},                    // a string
            {"[18446744073709551616]", "[0,0]", "w.shape"},             // 2^64: was read as 0 elements
            {"[1.5]", "[0,4]", "w.shape"},
            {"[4294967296,4294967296]", "[0,0]", "w.shape"},            // 2^64 elements: overflows the count
            {"[2305843009213693952]", "[0,0]", "w.shape"},              // 2^61 F32 elements: overflows the bytes
        };
        for (String[] c : cases) {
            writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":" + c[0] + ",\"data_offsets\":" + c[1] + "}}", 8);
            var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file), c[0] + " " + c[1]);
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(c[2]), e.getMessage());
        }
    }

    @Test
    void aHeaderThatIsNotUtf8IsAnError() throws IOException {
        Path file = dir.resolve("x.safetensors");
        byte[] h = "{\"w\u00ff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        var b = java.nio.ByteBuffer.allocate(8 + h.length + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array());
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("UTF-8"), e.getMessage());
    }

    private static void writeRaw(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        var b = java.nio.ByteBuffer.allocate(8 + h.length + dataBytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array(), StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
    }
}
