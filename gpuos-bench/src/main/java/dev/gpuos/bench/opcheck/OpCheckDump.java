package dev.gpuos.bench.opcheck;

import dev.gpuos.bench.opcheck.OpCase.Input;
import dev.gpuos.bench.workloads.ResultFiles;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedDTypeException;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * Runs every case of {@link OpCaseTable} on one backend and dumps inputs and outputs as raw little-endian files
 * plus {@code manifest.json}, which {@code bench/pytorch/op_compare.py} replays in PyTorch.
 *
 * <p>Cases are recorded in chunks and read back after each chunk, so a batching backend sees many ops per
 * submission (and the GPU backend compiles the new kernel structures of a chunk in one generation swap).
 */
public final class OpCheckDump {
    public static final String MANIFEST = "manifest.json";
    public static final String FORMAT = "gpuos-opcheck/1";
    /** Cases recorded before one read-back, by default; the GPU's generation swaps are about cases / chunk. */
    public static final int DEFAULT_CHUNK = 200;

    /** What a dump did: cases with outputs, cases GPUOS rejected (dtype), cases that failed, and the time taken. */
    public record Summary(int computed, int rejected, int errors, long millis) {}

    private final PrintStream out;
    private final int chunk;

    public OpCheckDump(PrintStream out) {
        this(out, DEFAULT_CHUNK);
    }

    public OpCheckDump(PrintStream out, int chunk) {
        if (chunk < 1) throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        this.out = out;
        this.chunk = chunk;
    }

    /** Every case of the table, in table order; {@code filter} selects by case id. */
    public static List<OpCase> cases(Predicate<String> filter) {
        List<OpCase> cases = new ArrayList<>();
        for (OpFamily family : OpCaseTable.families()) {
            for (DType d : family.dtypes()) {
                for (OpCase c : family.cases().apply(d)) {
                    if (filter.test(c.id())) cases.add(c);
                }
            }
        }
        return cases;
    }

    public Summary run(Backend backend, String device, Path dir, Predicate<String> filter) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(dir);
        List<OpCase> cases = cases(filter);
        List<Map<String, Object>> entries = new ArrayList<>();
        int[] counts = new int[3];
        // The manifest is rewritten after every chunk, so a dump stopped by a timeout still has its finished cases.
        for (int start = 0; start < cases.size(); start += chunk) {
            int end = Math.min(cases.size(), start + chunk);
            runChunk(backend, dir, cases, start, end, entries, counts);
            writeManifest(dir, backend, device, entries, end == cases.size(), (System.nanoTime() - t0) / 1_000_000);
        }
        if (cases.isEmpty()) writeManifest(dir, backend, device, entries, true, 0);
        return new Summary(counts[0], counts[1], counts[2], (System.nanoTime() - t0) / 1_000_000);
    }

    private static void writeManifest(Path dir, Backend backend, String device, List<Map<String, Object>> entries,
                                      boolean complete, long millis) throws IOException {
        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("format", FORMAT);
        manifest.put("backend", backend.name());
        manifest.put("device", device);
        manifest.put("created", Instant.now().toString());
        manifest.put("complete", complete);
        manifest.put("dump_ms", millis);
        // op_compare.py's bounds: the library's one table, not a copy in the script (see ToleranceTable).
        manifest.put("tolerance", dev.gpuos.tensor.ToleranceTable.byPyTorchName());
        manifest.put("cases", entries);
        ResultFiles.writeAtomically(dir.resolve(MANIFEST), ResultFiles.json(manifest));
    }

    private record Pending(OpCase op, int number, List<Tensor> views, Tensor result, Map<String, Object> entry) {}

    private void runChunk(Backend backend, Path dir, List<OpCase> cases, int from, int to,
                          List<Map<String, Object>> entries, int[] counts) throws IOException {
        long t0 = System.nanoTime();
        try (TensorScope scope = TensorScope.open(backend)) {
            List<Pending> pending = new ArrayList<>();
            for (int i = from; i < to; i++) {
                OpCase c = cases.get(i);
                Map<String, Object> entry = describe(c);
                entries.add(entry);
                List<Tensor> views = new ArrayList<>();
                List<Map<String, Object>> inputEntries = new ArrayList<>();
                for (int k = 0; k < c.inputs().size(); k++) {
                    Input in = c.inputs().get(k);
                    String file = String.format("c%04d_%s.bin", i, in.name());
                    long seed = c.id().hashCode() * 31L + k;
                    views.add(upload(scope, in, seed, dir.resolve(file), inputEntries, file));
                }
                entry.put("inputs", inputEntries);
                try {
                    pending.add(new Pending(c, i, views, c.run().apply(views), entry));
                } catch (UnsupportedDTypeException e) {
                    entry.put("status", "rejected");
                    entry.put("message", e.getMessage());
                    counts[1]++;
                } catch (RuntimeException e) {
                    fail(entry, e, counts);
                }
            }
            long recorded = System.nanoTime();
            for (Pending p : pending) {
                try {
                    String file = String.format("c%04d_out.bin", p.number());
                    Files.write(dir.resolve(file), elementBytes(p.result()));
                    Map<String, Object> output = new LinkedHashMap<>();
                    output.put("dtype", Cases.pythonName(p.result().dtype()));
                    output.put("shape", p.result().shape());
                    output.put("file", file);
                    p.entry().put("status", "ok");
                    p.entry().put("output", output);
                    counts[0]++;
                } catch (RuntimeException e) {
                    fail(p.entry(), e, counts);
                }
            }
            // On the GPU the first read-back submits the chunk: its time includes compiling the chunk's new kernels.
            out.printf("opcheck: cases %d-%d of %d: recorded in %d ms, ran and read back in %d ms%n", from + 1, to,
                    cases.size(), (recorded - t0) / 1_000_000, (System.nanoTime() - recorded) / 1_000_000);
        }
    }

    private void fail(Map<String, Object> entry, RuntimeException e, int[] counts) {
        entry.put("status", "error");
        entry.put("message", e.toString());
        counts[2]++;
        out.println("opcheck: " + entry.get("id") + " failed: " + e);
    }

    private static Map<String, Object> describe(OpCase c) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("id", c.id());
        e.put("api", c.api());
        e.put("kernel", c.kernel());
        e.put("dtype", Cases.pythonName(c.dtype()));
        e.put("torch", c.torch());
        e.put("check", c.check().name().toLowerCase());
        e.put("params", c.params());
        return e;
    }

    /** The storage of {@code in} filled with seeded values, uploaded and written to {@code file}; returns the view. */
    private static Tensor upload(TensorScope scope, Input in, long seed, Path file, List<Map<String, Object>> entries,
                                 String name) throws IOException {
        long[] base = storageShape(in);
        int n = Math.toIntExact(Layout.numel(base));
        SplittableRandom r = new SplittableRandom(seed);
        DType t = in.dtype();
        MemorySegment bytes = MemorySegment.ofArray(new byte[n * t.byteSize()]);
        Tensor storage;
        long[] uploadShape = base.length == 0 ? new long[]{1} : base;
        if (t.isFloating()) {
            double[] v = in.values().floats(r, n);
            for (int i = 0; i < n; i++) HostElements.setDouble(bytes, t, i, v[i]);
            storage = scope.tensor(v, t, uploadShape);
        } else {
            long[] v = in.values().longs(r, n, t, in.bound());
            for (int i = 0; i < n; i++) HostElements.setLong(bytes, t, i, v[i]);
            storage = scope.tensor(v, t, uploadShape);
        }
        Files.write(file, bytes.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        Tensor view = view(base.length == 0 ? storage.reshape() : storage, in);
        if (!Arrays.equals(view.shape(), in.shape())) {
            throw new IllegalStateException("view " + in.view() + " of " + Arrays.toString(base) + " has shape "
                    + Arrays.toString(view.shape()) + ", expected " + Arrays.toString(in.shape()));
        }
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("name", in.name());
        e.put("dtype", Cases.pythonName(t));
        e.put("values", in.values().name().toLowerCase());
        e.put("view", in.view().name().toLowerCase());
        e.put("seed", seed);
        e.put("file", name);
        e.put("storage_numel", n);
        e.put("shape", view.shape());
        e.put("strides", view.strides());
        e.put("offset", view.storageOffset());
        entries.add(e);
        return view;
    }

    /** The contiguous storage a view of kind {@code in.view()} with shape {@code in.shape()} is taken from. */
    static long[] storageShape(Input in) {
        long[] s = in.shape().clone();
        int rank = s.length;
        switch (in.view()) {
            case CONTIGUOUS -> { }
            case TRANSPOSED -> {
                long last = s[rank - 1];
                s[rank - 1] = s[rank - 2];
                s[rank - 2] = last;
            }
            case STRIDED -> s[rank - 1] = 2 * s[rank - 1] + 1;
            case EXPANDED -> s[0] = 1;
        }
        return s;
    }

    private static Tensor view(Tensor storage, Input in) {
        return switch (in.view()) {
            case CONTIGUOUS -> storage;
            case TRANSPOSED -> storage.transpose(-1, -2);
            case STRIDED -> storage.slice(-1, 1, storage.size(-1), 2);
            case EXPANDED -> storage.expand(in.shape());
        };
    }

    /**
     * The elements of {@code t} in row-major order, in its dtype's encoding in native order (little-endian on the
     * x86-64 and AArch64 hosts GPUOS runs on); a sync point.
     */
    static byte[] elementBytes(Tensor t) {
        DType d = t.dtype();
        int n = Math.toIntExact(t.numel());
        MemorySegment bytes = MemorySegment.ofArray(new byte[n * d.byteSize()]);
        if (d.isFloating()) {
            double[] v = t.toDoubleArray();
            // One NaN for all: its sign and payload depend on the order the op met its NaN operands; not compared.
            for (int i = 0; i < n; i++) HostElements.setDouble(bytes, d, i, Double.isNaN(v[i]) ? Double.NaN : v[i]);
        } else {
            long[] v = t.toLongArray();
            for (int i = 0; i < n; i++) HostElements.setLong(bytes, d, i, v[i]);
        }
        return bytes.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }
}
