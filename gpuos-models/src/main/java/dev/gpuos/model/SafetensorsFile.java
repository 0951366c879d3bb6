package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonPrimitive;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorFactory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped into a shared {@link Arena}: an 8-byte little-endian header
 * length, a JSON header naming each tensor's dtype, shape and byte range, then the raw little-endian data. Tensor
 * bytes are handed to the backend as slices of the mapping, so loading copies each weight once (page cache to the
 * device, or to the CPU backend's buffer). Every entry is validated when the file is opened: a truncated file or an
 * inconsistent header fails here, naming the file and the tensor, never later as a wrong result.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Header sizes above this are a corrupt length field, not a real header (the format caps it at 100 MB). */
    static final long MAX_HEADER_BYTES = 100L << 20;

    /** The element types of the format; GPUOS loads the floating ones. */
    public enum StoredType {
        F64(8, DType.F64), F32(4, DType.F32), F16(2, DType.F16), BF16(2, DType.BF16),
        I64(8, DType.I64), I32(4, DType.I32), I16(2, null), I8(1, null), U8(1, null), BOOL(1, DType.BOOL),
        F8_E4M3(1, null), F8_E5M2(1, null), U16(2, null), U32(4, null), U64(8, null);

        final int byteSize;
        final DType dtype;

        StoredType(int byteSize, DType dtype) {
            this.byteSize = byteSize;
            this.dtype = dtype;
        }

        public int byteSize() { return byteSize; }

        /** The tensor dtype these bytes load as, or null when GPUOS has no such dtype. */
        public DType dtype() { return dtype; }
    }

    /** One tensor of the file: its bytes are {@code [begin, end)} of the data section. */
    public record Entry(String name, StoredType type, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long s : shape) n *= s;
            return n;
        }

        public long byteSize() { return end - begin; }

        @Override
        public String toString() { return name + " " + type + Arrays.toString(shape); }
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, Arena arena, MemorySegment data, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps {@code file} and validates its header against its size. */
    public static SafetensorsFile open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment all;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 8) throw new ModelFormatException(file + ": truncated: " + size + " bytes, shorter than the 8-byte header length");
                all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            long headerBytes = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
            if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES || headerBytes > all.byteSize() - 8) {
                throw new ModelFormatException(file + ": header length " + headerBytes + " does not fit the file ("
                        + all.byteSize() + " bytes): truncated or not a safetensors file");
            }
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                        .decode(all.asSlice(8, headerBytes).asByteBuffer()).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                // A lenient decode would turn bad bytes into U+FFFD and rename tensors.
                throw new ModelFormatException(file + ": the header is not valid UTF-8: corrupt or not a safetensors file", e);
            }
            MemorySegment data = all.asSlice(8 + headerBytes);
            JsonFile json = JsonFile.parse(file, header);
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : json.json().entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    if (e.getValue().isJsonObject()) {
                        for (var m : e.getValue().getAsJsonObject().entrySet()) {
                            metadata.put(m.getKey(), m.getValue().isJsonPrimitive() ? m.getValue().getAsString() : m.getValue().toString());
                        }
                    }
                    continue;
                }
                entries.put(e.getKey(), entry(json.objectAt(e.getKey(), e.getValue()), e.getKey(), data.byteSize()));
            }
            checkLayout(file, entries.values(), data.byteSize());
            return new SafetensorsFile(file, arena, data, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFormatException(file + ": missing (no weights file)", e);
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(file + ": cannot be read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The tensors' byte ranges must tile the data section, as the safetensors reference reader requires: sorted by
     * offset they start at 0, each begins where the one before ended (no overlap: two weights sharing bytes would
     * load another tensor's values without an error; no hole), and the last ends at the file's end. Zero-size
     * tensors may sit at any boundary.
     */
    private static void checkLayout(Path file, java.util.Collection<Entry> entries, long dataBytes) {
        Entry[] sorted = entries.toArray(Entry[]::new);
        Arrays.sort(sorted, java.util.Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long at = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin() < at) {
                throw ModelFormatException.at(file, e.name() + ".data_offsets", "bytes [" + e.begin() + ", " + e.end()
                        + ") overlap " + previous.name() + "'s [" + previous.begin() + ", " + previous.end() + ")");
            }
            if (e.begin() > at) {
                throw ModelFormatException.at(file, e.name() + ".data_offsets", "starts at byte " + e.begin()
                        + " of the data section, but " + (previous == null ? "the section starts at 0" : previous.name()
                        + " ends at " + at) + ": the header leaves bytes no tensor owns (corrupt header)");
            }
            if (e.end() > e.begin()) previous = e;
            at = e.end();
        }
        if (at != dataBytes) {
            throw new ModelFormatException(file + ": the tensors end at byte " + at + " of the data section, but the file holds "
                    + dataBytes + " data bytes: " + (dataBytes - at) + " trailing bytes no tensor owns (corrupt header)");
        }
    }

    private static Entry entry(JsonFile spec, String name, long dataBytes) {
        String typeName = spec.string("dtype");
        StoredType type;
        try {
            type = StoredType.valueOf(typeName);
        } catch (IllegalArgumentException e) {
            throw spec.error("dtype", "unknown safetensors dtype '" + typeName + "'");
        }
        JsonArray shapeJson = spec.array("shape");
        long[] shape = new long[shapeJson.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonElement s = shapeJson.get(i);
            shape[i] = nonNegative(s);
            if (shape[i] < 0) throw spec.error("shape", "expected non-negative whole numbers, got " + shapeJson);
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw spec.error("shape", shapeJson + " has more elements than a long can count");
            }
        }
        JsonArray offsets = spec.array("data_offsets");
        if (offsets.size() != 2) throw spec.error("data_offsets", "expected [begin, end], got " + offsets);
        long begin = nonNegative(offsets.get(0)), end = nonNegative(offsets.get(1));
        if (begin < 0 || end < begin) throw spec.error("data_offsets", "expected two whole numbers 0 <= begin <= end, got " + offsets);
        if (end > dataBytes) {
            throw spec.error("data_offsets", "tensor ends at byte " + end + " of the data section, but the file holds only "
                    + dataBytes + " data bytes: the file is truncated");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, type.byteSize);
        } catch (ArithmeticException e) {
            throw spec.error("shape", Arrays.toString(shape) + " of " + type + " is more bytes than a long can count");
        }
        if (end - begin != expected) {
            throw spec.error("data_offsets", "holds " + (end - begin) + " bytes but " + type + " " + Arrays.toString(shape)
                    + " needs " + expected);
        }
        return new Entry(name, type, shape, begin, end);
    }

    /** {@code e} as a whole long, -1 when it is not one (every caller then reports a number below 0). */
    private static long nonNegative(JsonElement e) {
        Long v = JsonFile.wholeLong(e);
        return v == null ? -1 : v;
    }

    public Path file() { return file; }

    /** Tensors in header order. */
    public Map<String, Entry> entries() { return entries; }

    public Map<String, String> metadata() { return metadata; }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new ModelFormatException(file + ": no tensor named '" + name + "'");
        return e;
    }

    /** The raw bytes of one tensor, a slice of the mapping (valid until {@link #close}). */
    public MemorySegment bytes(Entry e) {
        return data.asSlice(e.begin(), e.byteSize());
    }

    /** Bytes [begin, end) of the data section, a slice of the mapping (valid until {@link #close}). */
    public MemorySegment span(long begin, long end) {
        return data.asSlice(begin, end - begin);
    }

    /**
     * Uploads one tensor through {@code factory} as {@code target} (F32 weights of an F16/BF16 file are widened on
     * the backend, after the upload of the stored bytes). The mapping must stay open until the backend synced.
     */
    public Tensor upload(TensorFactory factory, Entry e, DType target) {
        DType stored = e.type().dtype();
        if (stored == null || !stored.isFloating()) {
            throw new ModelFormatException(file + ": " + e.name() + ": dtype " + e.type()
                    + " is not supported for weights (supported: F32, F16, BF16, F64)");
        }
        if (target == DType.F32 && (stored == DType.BF16 || stored == DType.F16) && e.numel() <= HOST_WIDEN_MAX) {
            return factory.tensor(widened(bytes(e), stored), e.shape());
        }
        Tensor t = factory.tensor(bytes(e), stored, e.shape());
        return stored == target ? t : t.to(target);
    }

    /**
     * Largest 16-bit tensor widened to f32 on the host (a model's norm weights and biases): exact either way, and
     * the host's loop over a few thousand elements is cheaper than a cast task, which a load would otherwise
     * compile and wait for.
     */
    static final long HOST_WIDEN_MAX = 1 << 16;

    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private static float[] widened(MemorySegment bytes, DType stored) {
        float[] out = new float[(int) (bytes.byteSize() / 2)];
        for (int i = 0; i < out.length; i++) {
            short h = bytes.get(LE_SHORT, 2L * i);
            out[i] = stored == DType.BF16 ? Float.intBitsToFloat(h << 16) : Float.float16ToFloat(h);
        }
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
