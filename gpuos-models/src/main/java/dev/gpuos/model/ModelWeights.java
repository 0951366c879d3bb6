package dev.gpuos.model;

import com.google.gson.JsonElement;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Hugging Face model folder: {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}. Hands tensors to a backend by name, checking each shape against what the
 * architecture (from config.json) expects, and reports progress in bytes.
 */
public final class ModelWeights implements AutoCloseable {
    private final Path folder;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
    private final long totalBytes;
    private long uploadedBytes;
    private LoadProgress progress = LoadProgress.NONE;
    private SafetensorsFile.StoredType expectedType;
    private Path configFile;

    private ModelWeights(Path folder, List<SafetensorsFile> files) {
        this.folder = folder;
        this.files = files;
        long total = 0;
        for (SafetensorsFile f : files) {
            for (SafetensorsFile.Entry e : f.entries().values()) {
                SafetensorsFile previous = byName.putIfAbsent(e.name(), f);
                if (previous != null) {
                    throw new ModelFormatException(f.file() + ": tensor '" + e.name() + "' is also in " + previous.file());
                }
                total += e.byteSize();
            }
        }
        this.totalBytes = total;
    }

    public static ModelWeights open(Path folder) {
        Path single = folder.resolve("model.safetensors");
        Path index = folder.resolve("model.safetensors.index.json");
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            if (Files.exists(single)) {
                files.add(SafetensorsFile.open(single));
            } else if (Files.exists(index)) {
                JsonFile json = JsonFile.read(index);
                var shards = new java.util.LinkedHashSet<String>();
                for (Map.Entry<String, JsonElement> e : json.object("weight_map").json().entrySet()) {
                    JsonElement v = e.getValue();
                    if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                        throw json.error("weight_map." + e.getKey(), "expected a shard file name, got " + v);
                    }
                    String shard = v.getAsString();
                    // HF writes plain names beside the index; a path out of the folder would load some other file
                    Path at = folder.resolve(shard).normalize();
                    if (shard.isEmpty() || Path.of(shard).isAbsolute() || !at.startsWith(folder.normalize()) || at.equals(folder.normalize())) {
                        throw json.error("weight_map." + e.getKey(), "shard '" + shard + "' is not a file inside " + folder);
                    }
                    shards.add(shard);
                }
                for (String shard : shards) files.add(SafetensorsFile.open(folder.resolve(shard)));
            } else {
                throw new ModelFormatException(folder + ": no model.safetensors or model.safetensors.index.json"
                        + " (only safetensors weights are supported; convert pytorch_model.bin with save_pretrained)");
            }
            return new ModelWeights(folder, files);
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    public Path folder() { return folder; }

    public long totalBytes() { return totalBytes; }

    public void onProgress(LoadProgress listener) { this.progress = listener; }

    /** Every weight {@link #load} hands out must be stored as {@code dtype} (config.json's dtype; null: any). */
    public void expectStoredType(SafetensorsFile.StoredType dtype, Path configFile) {
        this.expectedType = dtype;
        this.configFile = configFile;
    }

    public boolean contains(String name) { return byName.containsKey(name); }

    /**
     * Device bytes of the weights that take at least {@code minBytes} each as {@code dtype} (each rounded up to
     * 256 bytes, as the arena cuts them): what a load reserves in one piece before uploading (the small ones, the
     * norms and biases, stay in the arena's slabs).
     */
    public long deviceBytes(DType dtype, long minBytes) {
        long sum = 0;
        for (SafetensorsFile f : files) {
            for (SafetensorsFile.Entry e : f.entries().values()) {
                long n = 1;
                for (long d : e.shape()) n = Math.multiplyExact(n, d);
                long bytes = Math.multiplyExact(n, dtype.byteSize());
                if (bytes >= minBytes) sum += (bytes + 255) / 256 * 256;
            }
        }
        return sum;
    }

    /**
     * Reserves the device memory of the large weights as {@code dtype} in one piece when {@code backend} is a GPU
     * ({@link dev.gpuos.GpuOS#reserveMemory}): a first load then makes one driver allocation, not one per weight
     * (each about 10 ms while the worker runs). Nothing on other backends.
     */
    void reserveOn(dev.gpuos.tensor.Backend backend, DType dtype) {
        if (!(backend instanceof dev.gpuos.tensor.gpu.GpuBackend gpu)) return;
        long bytes = deviceBytes(dtype, dev.gpuos.GpuOS.RESERVED_MIN_BYTES);
        if (bytes > 0) gpu.os().reserveMemory(bytes);
    }

    /** The stored entry of {@code name}, or a clear error when the folder lacks it. */
    public SafetensorsFile.Entry entry(String name) {
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw new ModelFormatException(folder + ": the weights have no tensor '" + name + "'"
                    + " (the architecture in config.json needs it)");
        }
        return f.entry(name);
    }

    /** The stored dtype most weights use (for messages: "bf16 weights, computing in f32"). */
    public SafetensorsFile.StoredType mainType() {
        Map<SafetensorsFile.StoredType, Long> bytes = new LinkedHashMap<>();
        for (SafetensorsFile f : files) for (var e : f.entries().values()) bytes.merge(e.type(), e.byteSize(), Long::sum);
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(SafetensorsFile.StoredType.F32);
    }

    /** Uploads {@code name} as {@code dtype} after checking that its shape is {@code expected}. */
    public Tensor load(TensorFactory factory, String name, DType dtype, long... expected) {
        SafetensorsFile.Entry e = checked(name, expected);
        Tensor t = byName.get(name).upload(factory, e, dtype);
        uploaded(e);
        return t;
    }

    /**
     * The stored bytes of {@code name} (a slice of the mapping, valid until {@link #close}) after the checks of
     * {@link #load}; counted as uploaded, so the caller uploads them before the next progress report.
     */
    public java.lang.foreign.MemorySegment bytes(String name, long... expected) {
        SafetensorsFile.Entry e = checked(name, expected);
        java.lang.foreign.MemorySegment bytes = byName.get(name).bytes(e);
        uploaded(e);
        return bytes;
    }

    /**
     * The stored bytes of the tensors {@code names}, in that order, as ONE slice of the mapping when they lie back
     * to back in one file (an HF file sorts its tensors by name, so a layer's gate_proj is followed by its
     * up_proj), after the checks of {@link #load} against {@code expected}; null (and nothing counted) when they do
     * not. Counted as uploaded, like {@link #bytes}.
     */
    public java.lang.foreign.MemorySegment adjacentBytes(String[] names, long[][] expected) {
        SafetensorsFile f = byName.get(names[0]);
        for (int i = 0; i < names.length; i++) {
            SafetensorsFile.Entry e = checked(names[i], expected[i]);
            if (byName.get(names[i]) != f || i > 0 && f.entry(names[i - 1]).end() != e.begin()) return null;
        }
        SafetensorsFile.Entry first = f.entry(names[0]), last = f.entry(names[names.length - 1]);
        java.lang.foreign.MemorySegment span = f.span(first.begin(), last.end());
        for (String n : names) uploaded(f.entry(n));
        return span;
    }

    private SafetensorsFile.Entry checked(String name, long... expected) {
        SafetensorsFile.Entry e = entry(name);
        if (!Arrays.equals(e.shape(), expected)) {
            throw new ModelFormatException(byName.get(name).file() + ": tensor '" + name + "' has shape "
                    + Arrays.toString(e.shape()) + " but config.json implies " + Arrays.toString(expected));
        }
        if (expectedType != null && e.type() != expectedType) {
            throw new ModelFormatException(byName.get(name).file() + ": tensor '" + name + "' is stored as " + e.type()
                    + " but " + configFile + " declares dtype " + expectedType);
        }
        return e;
    }

    private void uploaded(SafetensorsFile.Entry e) {
        uploadedBytes += e.byteSize();
        progress.uploaded(uploadedBytes, totalBytes, e.name());
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
