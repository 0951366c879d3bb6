package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The GPU-machine benchmark of bench/models/gpu_check.sh, in one JVM and one GpuOS: the full-size random models
 * that make_fixtures.py --full built, on the inputs HF was timed on (hf_timing.json).
 * <ul>
 *   <li>Llama (Llama-3.2-1B config, bf16): load, then greedy decoding of 128 tokens from HF's 32 prompt ids after
 *   a warm-up generation (operators compiled, decode step captured): decode tok/s, prefill; the first 16 tokens
 *   against HF's bf16 greedy tokens, with HF's top-2 gap where they first differ (random weights have near-ties
 *   that bf16 rounding in another order may flip: a report, not a pass/fail).</li>
 *   <li>BERT (all-MiniLM-L6-v2 config, f32 weights): the 1 x 16 and 32 x 128 id batches, products in f32 and in
 *   bf16, captured / captured without product epilogues / recorded per batch / captured: median of 30 runs after 3 warm-ups, and the worst cosine
 *   against HF's embeddings of the same ids.</li>
 *   <li>Llama again: the decode step's RoPE and cache writes in three tasks a layer and in one, alternated twice.</li>
 * </ul>
 * usage: ModelsBench LLAMA_DIR BERT_DIR hf_timing.json [cpu|sim] (cpu: the CPU backend; sim: the GPU backend on the simulated
 * device, whose operators compute nothing: both to try the bench's own code on small folders)
 */
public final class ModelsBench {
    private ModelsBench() {}

    public static void main(String[] args) throws Exception {
        Path llamaDir = Path.of(args[0]), bertDir = Path.of(args[1]);
        JsonObject hf = JsonParser.parseString(Files.readString(Path.of(args[2]))).getAsJsonObject();
        // each row is printed as soon as it is measured too: a run cut short by its time limit keeps what it had
        List<String> rows = new ArrayList<>() {
            @Override
            public boolean add(String row) {
                System.out.println("  " + row);
                System.out.flush();
                return super.add(row);
            }
        };
        if (args.length > 3 && args[3].equals("cpu")) {
            Backend cpu = dev.gpuos.tensor.cpu.CpuBackend.eager();
            part(rows, "llama", () -> llama(cpu, llamaDir, hf, rows));
            for (DType compute : new DType[]{DType.F32, DType.BF16}) part(rows, "bert " + compute, () -> bert(cpu, bertDir, hf, compute, rows));
            part(rows, "llama decode A/B", () -> llamaForms(cpu, llamaDir, hf, rows));
        } else {
            boolean sim = args.length > 3 && args[3].equals("sim");
            try (GpuOS os = sim ? GpuOS.on(GpuOSOptions.defaults(), dev.gpuos.SimulatedWorkerDevice.sink(2)) : GpuOS.start(GpuOSOptions.defaults())) {
                GpuBackend gpu = new GpuBackend(os);
                // -Dgpuos.bench.bertOnly=true: the BERT rows alone (bench/models/bert_epilogues.sh builds no Llama folder)
                boolean bertOnly = Boolean.getBoolean("gpuos.bench.bertOnly");
                if (!bertOnly) part(rows, "llama", () -> llama(gpu, llamaDir, hf, rows));
                for (DType compute : new DType[]{DType.F32, DType.BF16}) part(rows, "bert " + compute, () -> bert(gpu, bertDir, hf, compute, rows));
                if (!bertOnly) part(rows, "llama decode A/B", () -> llamaForms(gpu, llamaDir, hf, rows));
            }
        }
        System.out.println("== models bench");
        rows.forEach(r -> System.out.println("  " + r));
    }

    private interface Part {
        void run() throws Exception;
    }

    /** One part of the bench; a failure is a row of its own, and the parts after it still run. */
    private static void part(List<String> rows, String name, Part p) {
        try {
            p.run();
        } catch (Exception | AssertionError e) {
            rows.add(name + " FAILED: " + e);
            e.printStackTrace();
        }
    }

    private static long bytes(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static void llama(Backend gpu, Path dir, JsonObject hf, List<String> rows) throws IOException {
        int[] prompt = HfFixtureChecks.ints(hf.get("llama_prompt_ids"));
        int[] hfTokens = HfFixtureChecks.ints(hf.get("llama_greedy_first16"));
        float[] gaps = hf.has("llama_greedy_first16_top2_gap") ? HfFixtureChecks.floats(hf.get("llama_greedy_first16_top2_gap")) : null;
        int n = 128;
        long t0 = System.nanoTime();
        try (LlamaModel m = LlamaModel.load(dir, gpu, prompt.length + n, LoadProgress.NONE)) {
            double loadS = (System.nanoTime() - t0) / 1e9;
            long b = bytes(dir);
            rows.add(String.format(Locale.ROOT, "llama load: %.2f GB of %s safetensors in %.0f ms (%.1f GB/s), products in %s",
                    b / 1e9, m.storedType(), loadS * 1e3, b / 1e9 / loadS, m.computeType()));
            long w0 = System.nanoTime();
            m.generate(prompt, 16, false, id -> { });
            rows.add(String.format(Locale.ROOT, "llama warm-up generation (16 tokens; compiles, captures): %.0f ms", (System.nanoTime() - w0) / 1e6));
            for (int run = 0; run < 2; run++) {
                int compiled = compiledCount(gpu);
                LlamaModel.Generation g = m.generate(prompt, n, false, id -> { });
                rows.add(String.format(Locale.ROOT, "llama decode run %d: %d tokens, %.1f tok/s (%.3f ms/token); prefill %.1f ms (%d tokens, %s); %d operators compiled in the run; step %s",
                        run + 1, g.tokens().length, g.decodeTokensPerSecond(), 1e3 / g.decodeTokensPerSecond(),
                        g.prefillSeconds() * 1e3, prompt.length, LlamaModel.capturedPrefill ? "captured" : "eager",
                        compiledCount(gpu) - compiled, m.decodeMode()));
                if (run == 0) rows.add("llama prefill: " + m.prefillMode());
                if (run == 0) {
                    int[] got = Arrays.copyOf(g.tokens(), hfTokens.length);
                    int first = -1;
                    for (int i = 0; i < hfTokens.length && first < 0; i++) if (hfTokens[i] != got[i]) first = i;
                    rows.add("llama greedy vs HF bf16: " + (first < 0 ? hfTokens.length + "/" + hfTokens.length + " tokens identical"
                            : "identical up to token " + first + (gaps != null ? String.format(Locale.ROOT, " (HF top-2 gap there %.4f)", gaps[first]) : "")
                            + "; HF " + Arrays.toString(hfTokens) + ", GPUOS " + Arrays.toString(got)));
                }
            }
            prefills(gpu, m, prompt, rows::add);
        }
    }

    /** The decode A/B ({@link #decodeForms}) on the model loaded again: run after BERT, so a cut run keeps BERT's rows. */
    private static void llamaForms(Backend gpu, Path dir, JsonObject hf, List<String> rows) {
        int[] prompt = HfFixtureChecks.ints(hf.get("llama_prompt_ids"));
        int n = 128;
        try (LlamaModel m = LlamaModel.load(dir, gpu, prompt.length + n, LoadProgress.NONE)) {
            decodeForms(gpu, m, prompt, n, rows::add);
        }
    }

    /**
     * The decode step with a layer's RoPE and cache writes in three tasks (session 16) and in one (session 17,
     * the default), alternated twice in this JVM: each form's step made and captured again after a warm-up
     * generation, then a timed generation of {@code n} tokens; tok/s and the step's tasks.
     */
    static void decodeForms(Backend b, LlamaModel m, int[] prompt, int n, java.util.function.Consumer<String> rows) {
        boolean was = LlamaModel.oneTaskCacheWrite;
        try {
            for (boolean one : new boolean[]{false, true, false, true}) {
                LlamaModel.oneTaskCacheWrite = one;
                m.dropDecodeStep();
                m.generate(prompt, 16, false, id -> { });
                int compiled = compiledCount(b);
                LlamaModel.Generation g = m.generate(prompt, n, false, id -> { });
                rows.accept(String.format(Locale.ROOT, "llama decode A/B, RoPE and cache writes %s: %.1f tok/s (%.3f ms/token); %d compiled in the run; step %s",
                        one ? "in one task a layer" : "in three tasks a layer (-Dgpuos.llama.oneTaskCacheWrite=false)",
                        g.decodeTokensPerSecond(), 1e3 / g.decodeTokensPerSecond(), compiledCount(b) - compiled, m.decodeMode()));
            }
        } finally {
            LlamaModel.oneTaskCacheWrite = was;
            m.dropDecodeStep();
        }
    }

    private static int compiledCount(Backend b) {
        return b instanceof GpuBackend g ? g.operatorsCompiled().size() : 0;
    }

    /**
     * The prefill of the prompt alone, captured (the default) and recorded eagerly (as before session 16), four
     * times each, then captured again: ms, operators compiled, submissions and tasks of each. GPU run models-4-1
     * timed 613-715 ms for the eager prefill after warm-up, which compiled operators at timing-dependent cuts.
     */
    static void prefills(Backend b, LlamaModel m, int[] prompt, java.util.function.Consumer<String> rows) {
        boolean was = LlamaModel.capturedPrefill;
        try {
            for (boolean captured : new boolean[]{true, false, true}) {
                LlamaModel.capturedPrefill = captured;
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "llama prefill %d tokens, %s, 4 times:",
                        prompt.length, captured ? "captured" : "eager (-Dgpuos.llama.prefillCapture=false)"));
                for (int i = 0; i < 4; i++) {
                    GpuBackend.Stats before = b instanceof GpuBackend g ? g.stats() : null;
                    int compiled = compiledCount(b);
                    m.reset();
                    long t0 = System.nanoTime();
                    m.nextToken(prompt);
                    double ms = (System.nanoTime() - t0) / 1e6;
                    sb.append(String.format(Locale.ROOT, " %.1f ms", ms));
                    if (before != null) {
                        GpuBackend.Stats after = ((GpuBackend) b).stats();
                        sb.append(String.format(Locale.ROOT, " (%d compiled, %d submissions, %d tasks)", compiledCount(b) - compiled,
                                after.submissions() - before.submissions(), after.tasks() - before.tasks()));
                    }
                    sb.append(i < 3 ? ";" : "");
                }
                rows.accept(sb.toString());
            }
        } finally {
            LlamaModel.capturedPrefill = was;
        }
    }

    private static void bert(Backend gpu, Path dir, JsonObject hf, DType compute, List<String> rows) {
        try (BertEncoder e = BertEncoder.load(dir, gpu, compute, LoadProgress.NONE)) {
            for (String spec : new String[]{"1x16", "32x128"}) {
                JsonObject c = hf.getAsJsonObject("bert_" + spec);
                JsonArray idRows = c.getAsJsonArray("ids");
                int[][] ids = new int[idRows.size()][];
                for (int i = 0; i < ids.length; i++) ids[i] = HfFixtureChecks.ints(idRows.get(i));
                // captured (the default), captured without the products' epilogues
                // (-Dgpuos.fusion.productEpilogues=false), recorded per batch (-Dgpuos.bert.capture=false), captured
                // again: one JVM
                boolean was = BertEncoder.capture, epiloguesWas = dev.gpuos.tensor.gpu.ProductFusionSwitch.setEpilogues(true);
                try {
                    for (int mode = 0; mode < 4; mode++) {
                        boolean captured = mode != 2, epilogues = mode != 1;
                        BertEncoder.capture = captured;
                        dev.gpuos.tensor.gpu.ProductFusionSwitch.setEpilogues(epilogues);
                        e.dropCaptures();   // each mode plans its captures with its own switches
                        float[][] emb = null;
                        for (int w = 0; w < 3; w++) emb = e.embedIds(ids);
                        double[] ms = new double[30];
                        int compiled = compiledCount(gpu);
                        GpuBackend.Stats before = gpu instanceof GpuBackend g ? g.stats() : null;
                        for (int r = 0; r < ms.length; r++) {
                            long t0 = System.nanoTime();
                            emb = e.embedIds(ids);
                            ms[r] = (System.nanoTime() - t0) / 1e6;
                        }
                        String work = before == null ? "" : String.format(Locale.ROOT, "; %.1f submissions and %.0f tasks a batch, %d compiled in the 30",
                                (((GpuBackend) gpu).stats().submissions() - before.submissions()) / 30.0,
                                (((GpuBackend) gpu).stats().tasks() - before.tasks()) / 30.0, compiledCount(gpu) - compiled);
                        Arrays.sort(ms);
                        JsonArray ref = c.getAsJsonArray("embeddings");
                        double worst = 1;
                        for (int i = 0; i < ids.length; i++) worst = Math.min(worst, HfFixtureChecks.cosine(HfFixtureChecks.floats(ref.get(i)), emb[i]));
                        rows.add(String.format(Locale.ROOT, "bert %s (%s products, %s): median %.3f ms (min %.3f, max %.3f, 30 runs); worst cosine vs HF f32 %.9f%s; %s",
                                spec, compute, captured ? (epilogues ? "captured" : "captured, product epilogues off") : "recorded",
                                ms[15], ms[0], ms[29], worst, work, e.mode()));
                    }
                } finally {
                    BertEncoder.capture = was;
                    dev.gpuos.tensor.gpu.ProductFusionSwitch.setEpilogues(epiloguesWas);
                }
            }
        }
    }
}
