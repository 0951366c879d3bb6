package dev.gpuos.bench.opcheck;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The opcheck dump on the CPU backend: it covers every public op of {@link Tensor} (by reflection, so an op added
 * without a case fails here) with every dtype, its files have the sizes the manifest says, and outputs re-read from
 * the files equal the op recomputed from the dumped inputs and views.
 */
class OpCheckDumpTest {
    /**
     * Public Tensor methods that compute nothing, with the reason; everything else must have a case. Views reach
     * the comparison as the inputs' layouts (transposed, strided with an offset, expanded with stride 0).
     */
    static final Map<String, String> NOT_OPS = notOps();

    private static Map<String, String> notOps() {
        Map<String, String> m = new HashMap<>();
        for (String s : List.of("dtype()", "shape()", "size(int)", "rank()", "numel()", "strides()", "storageOffset()",
                "layout()", "storage()", "backend()", "scope()", "isContiguous()", "isClosed()", "toString()")) {
            m.put(s, "metadata");
        }
        m.put("transferTo(TensorScope)", "ownership");
        for (String s : List.of("reshape(long[])", "view(long[])", "flatten()", "permute(int[])", "transpose(int,int)",
                "narrow(int,long,long)", "slice(int,long,long)", "slice(int,long,long,long)", "select(int,long)",
                "expand(long[])", "broadcastTo(long[])", "unsqueeze(int)", "squeeze()", "squeeze(int)",
                "asStrided(long[],long[],long)")) {
            m.put(s, "view: no computation; views are the inputs' layouts");
        }
        for (String s : List.of("toFloatArray()", "copyTo(float[])", "toDoubleArray()", "toLongArray()", "toIntArray()", "toBooleanArray()",
                "item()", "longItem()", "booleanItem()")) {
            m.put(s, "read-back: how the dump reads outputs");
        }
        return m;
    }

    @TempDir
    static Path dir;
    static Map<String, Object> manifest;
    static List<Map<String, Object>> entries;
    static OpCheckDump.Summary summary;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void dumpOnTheCpu() throws IOException {
        summary = new OpCheckDump(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
                .run(CpuBackend.eager(), "cpu", dir, id -> true);
        manifest = (Map<String, Object>) MiniJson.parse(Files.readString(dir.resolve(OpCheckDump.MANIFEST)));
        entries = (List<Map<String, Object>>) manifest.get("cases");
    }

    static String signature(Method m) {
        return m.getName() + Arrays.stream(m.getParameterTypes()).map(Class::getSimpleName)
                .collect(Collectors.joining(",", "(", ")"));
    }

    @Test
    void everyPublicTensorOpHasACaseAndEveryCaseNamesARealOp() {
        Set<String> ops = Stream.of(Tensor.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !m.isSynthetic())
                .map(OpCheckDumpTest::signature).filter(s -> !NOT_OPS.containsKey(s))
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> covered = entries.stream().map(e -> (String) e.get("api")).collect(Collectors.toCollection(TreeSet::new));
        Set<String> missing = new TreeSet<>(ops);
        missing.removeAll(covered);
        assertEquals(Set.of(), missing, "public Tensor ops without a case in OpCaseTable (add one, or list the "
                + "method in NOT_OPS if it computes nothing)");
        Set<String> unknown = new TreeSet<>(covered);
        unknown.removeAll(ops);
        assertEquals(Set.of(), unknown, "cases naming no public Tensor method");
        assertTrue(ops.size() > 80, "found only " + ops.size() + " ops: " + ops);
    }

    @Test
    void everyElementwiseAndReduceKernelIsCovered() {
        Set<String> kernels = entries.stream().filter(e -> "ok".equals(e.get("status")))
                .map(e -> (String) e.get("kernel")).collect(Collectors.toSet());
        for (ElementwiseOp op : ElementwiseOp.values()) assertTrue(kernels.contains(op.name()), op + " has no case");
        for (ReduceOp op : ReduceOp.values()) assertTrue(kernels.contains(op.name()), op + " has no case");
    }

    /** Every dtype of every family is either computed or rejected by GPUOS (then op_compare checks torch rejects it). */
    @Test
    void everyFamilyTriesEveryDtypeAndNothingFails() {
        assertEquals(0, summary.errors(), "cases that failed: see the manifest in " + dir);
        for (OpFamily family : OpCaseTable.families()) {
            if (family.dtypes().size() == 1) continue; // the mixed-dtype promotion cases
            Set<String> seen = entries.stream().filter(e -> family.api().equals(e.get("api")))
                    .map(e -> (String) e.get("dtype")).collect(Collectors.toSet());
            for (DType d : DType.values()) {
                assertTrue(seen.contains(Cases.pythonName(d)), family.api() + " has no case for " + d);
            }
        }
        long computed = entries.stream().filter(e -> "ok".equals(e.get("status"))).count();
        assertEquals(summary.computed(), computed);
        assertTrue(computed > 800, "only " + computed + " cases computed");
    }

    @Test
    @SuppressWarnings("unchecked")
    void filesHaveTheSizesTheManifestSays() throws IOException {
        for (Map<String, Object> e : entries) {
            for (Map<String, Object> in : (List<Map<String, Object>>) e.get("inputs")) {
                long expected = (Long) in.get("storage_numel") * itemSize((String) in.get("dtype"));
                assertEquals(expected, Files.size(dir.resolve((String) in.get("file"))), e.get("id") + " input " + in.get("name"));
                List<Object> shape = (List<Object>) in.get("shape"), strides = (List<Object>) in.get("strides");
                long last = (Long) in.get("offset");
                for (int k = 0; k < shape.size(); k++) last += ((Long) shape.get(k) - 1) * (Long) strides.get(k);
                assertTrue(last < (Long) in.get("storage_numel"), e.get("id") + ": view leaves its storage");
            }
            if ("ok".equals(e.get("status"))) {
                Map<String, Object> out = (Map<String, Object>) e.get("output");
                long n = ((List<Object>) out.get("shape")).stream().mapToLong(v -> (Long) v).reduce(1, (x, y) -> x * y);
                assertEquals(n * itemSize((String) out.get("dtype")), Files.size(dir.resolve((String) out.get("file"))),
                        e.get("id") + " output");
            }
        }
    }

    /** Rebuilds every input from its file and view (as op_compare.py does), reruns the op, and compares bytes. */
    @Test
    @SuppressWarnings("unchecked")
    void outputsReadBackEqualTheOpRecomputedFromTheDumpedInputs() throws IOException {
        Map<String, OpCase> byId = OpCheckDump.cases(id -> true).stream()
                .collect(Collectors.toMap(OpCase::id, c -> c));
        int checked = 0;
        for (Map<String, Object> e : entries) {
            if (!"ok".equals(e.get("status"))) continue;
            OpCase c = byId.get((String) e.get("id"));
            try (TensorScope scope = TensorScope.open(CpuBackend.eager())) {
                List<Tensor> views = ((List<Map<String, Object>>) e.get("inputs")).stream()
                        .map(in -> rebuild(scope, in)).toList();
                byte[] expected = OpCheckDump.elementBytes(c.run().apply(views));
                String file = (String) ((Map<String, Object>) e.get("output")).get("file");
                assertArrayEquals(expected, Files.readAllBytes(dir.resolve(file)), (String) e.get("id"));
                checked++;
            }
        }
        assertEquals(summary.computed(), checked);
    }

    /** Two cases checked against arithmetic written out here, independent of the tensor library. */
    @Test
    void spotChecksAgainstPlainJava() throws IOException {
        Map<String, Object> add = entry("add(Tensor)/F32/broadcast");
        float[] a = floats(file(add, 0)), b = floats(file(add, 1)), out = floats(outFile(add));
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 8; j++) {
                assertEquals(Float.floatToIntBits(a[i * 8 + j] + b[j]), Float.floatToIntBits(out[i * 8 + j]), "add " + i + "," + j);
            }
        }
        Map<String, Object> sum = entry("sum(int[],boolean)/I64/dims-1");
        long[] x = longs(file(sum, 0)), s = longs(outFile(sum));
        for (int row = 0; row < 20; row++) {
            long expected = 0;
            for (int k = 0; k < 6; k++) expected += x[row * 6 + k];
            assertEquals(expected, s[row], "sum row " + row);
        }
    }

    /**
     * op_compare.py's torch-free half: its self-test of the error measures, and --validate reading this very dump
     * (manifest, dtypes, file sizes, views inside their storage) the way the comparison will on the GPU machine.
     */
    @Test
    void opComparePyReadsTheDumpWithoutTorch() throws Exception {
        Path script = Path.of("..", "bench", "pytorch", "op_compare.py").toAbsolutePath().normalize();
        assumeTrue(Files.isRegularFile(script), "no " + script);
        assumeTrue(python3Works(), "python3 is not on PATH: op_compare.py's self-test is not run");
        assertEquals(0, python(script.toString(), "--self-test"), "op_compare.py --self-test failed (output above)");
        assertEquals(0, python(script.toString(), "--validate", dir.toString()), "op_compare.py --validate failed");
    }

    private static boolean python3Works() {
        try {
            return new ProcessBuilder("python3", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static int python(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("python3"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) System.out.println(output);
        return rc;
    }

    @SuppressWarnings("unchecked")
    private static Tensor rebuild(TensorScope scope, Map<String, Object> in) {
        DType d = dtype((String) in.get("dtype"));
        try {
            MemorySegment bytes = MemorySegment.ofArray(Files.readAllBytes(dir.resolve((String) in.get("file"))));
            int n = Math.toIntExact((Long) in.get("storage_numel"));
            Tensor storage;
            if (d.isFloating()) {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) v[i] = HostElements.getDouble(bytes, d, i);
                storage = scope.tensor(v, d, n);
            } else {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = HostElements.getLong(bytes, d, i);
                storage = scope.tensor(v, d, n);
            }
            long[] shape = ((List<Object>) in.get("shape")).stream().mapToLong(v -> (Long) v).toArray();
            long[] strides = ((List<Object>) in.get("strides")).stream().mapToLong(v -> (Long) v).toArray();
            return storage.asStrided(shape, strides, (Long) in.get("offset"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Map<String, Object> entry(String id) {
        return entries.stream().filter(e -> id.equals(e.get("id"))).findFirst().orElseThrow(() -> new AssertionError(id));
    }

    @SuppressWarnings("unchecked")
    private static byte[] file(Map<String, Object> e, int input) throws IOException {
        return Files.readAllBytes(dir.resolve((String) ((List<Map<String, Object>>) e.get("inputs")).get(input).get("file")));
    }

    @SuppressWarnings("unchecked")
    private static byte[] outFile(Map<String, Object> e) throws IOException {
        return Files.readAllBytes(dir.resolve((String) ((Map<String, Object>) e.get("output")).get("file")));
    }

    private static float[] floats(byte[] b) {
        float[] f = new float[b.length / 4];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    private static long[] longs(byte[] b) {
        long[] l = new long[b.length / 8];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(l);
        return l;
    }

    private static DType dtype(String pythonName) {
        return Stream.of(DType.values()).filter(d -> Cases.pythonName(d).equals(pythonName)).findFirst().orElseThrow();
    }

    private static long itemSize(String pythonName) {
        return dtype(pythonName).byteSize();
    }
}
