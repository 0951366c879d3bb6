package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.gpuos.model.tokenizer.Tokenizer;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The checks against Hugging Face's outputs on the committed fixtures (src/test/resources/hf, made by
 * bench/models/make_fixtures.py with transformers, tokenizers and torch on the same seeded weights), run on any
 * backend: HfFixtureTest on the CPU backend (CI), GpuHfFixtureTest on the GPU backend.
 */
final class HfFixtureChecks {
    /** Normwise relative error bounds: f32 computation in a different order than torch's. */
    static final double HIDDEN_TOL = 1e-4, LOGITS_TOL = 1e-3, COSINE_MIN = 0.99999;
    /** A greedy step whose top-2 logit gap in HF is below this may legitimately pick the other token. */
    static final double TOP2_TIE = 1e-3;
    /**
     * Bound for products in bf16 (the criterion for the bf16 path): the reference is HF in f32 on the same
     * bf16 weights, and a bf16 product rounds its input activations and its output to 8 significant bits (as HF's
     * own bf16 run does, which also rounds the residual stream, norms and softmax that GPUOS keeps in f32). In
     * greedy decoding a step may then pick HF's runner-up where HF's top-2 gap is below this bound times the
     * logits' root-mean-square (the scale of the normwise bound).
     */
    static final double BF16_LOGITS_TOL = 2e-2;

    private HfFixtureChecks() {}

    static Path root() {
        try {
            var url = HfFixtureChecks.class.getResource("/hf/versions.json");
            if (url == null) throw new IllegalStateException("test resources lack hf/versions.json (run bench/models/make_fixtures.py)");
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonObject json(String name) {
        try {
            return JsonParser.parseString(Files.readString(root().resolve(name), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).getAsInt();
        return out;
    }

    static float[] floats(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).getAsFloat();
        return out;
    }

    static double normwise(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "length");
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = (double) expected[i] - actual[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }

    /** Every string of tokenizer_cases.json gets HF's ids from both tokenizers, with and without special tokens. */
    static void tokenizers() {
        JsonObject cases = json("tokenizer_cases.json");
        JsonArray strings = cases.getAsJsonArray("strings");
        Tokenizer wp = Tokenizer.load(root().resolve("bert-tiny"));
        Tokenizer bpe = Tokenizer.load(root().resolve("llama-tiny"));
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (int i = 0; i < strings.size(); i++) {
            String s = strings.get(i).getAsString();
            checked += compare(failures, "wordpiece", s, ints(cases.getAsJsonArray("wordpiece").get(i)), wp.encode(s));
            checked += compare(failures, "wordpiece (no special)", s, ints(cases.getAsJsonArray("wordpiece_no_special").get(i)), wp.encode(s, false));
            checked += compare(failures, "bpe", s, ints(cases.getAsJsonArray("bpe").get(i)), bpe.encode(s));
            checked += compare(failures, "bpe (no special)", s, ints(cases.getAsJsonArray("bpe_no_special").get(i)), bpe.encode(s, false));
            int[] ids = ints(cases.getAsJsonArray("bpe").get(i));
            String decoded = bpe.decode(ids, false), expected = cases.getAsJsonArray("bpe_decoded").get(i).getAsString();
            if (!decoded.equals(expected)) failures.add("bpe decode of " + quote(s) + ": HF " + quote(expected) + ", GPUOS " + quote(decoded));
            checked++;
        }
        System.out.printf(Locale.ROOT, "tokenizers: %d strings, %d comparisons, %d mismatches%n", strings.size(), checked, failures.size());
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + checked + " tokenizer comparisons differ from HF tokenizers; first ones:\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(12, failures.size()))));
        }
    }

    private static int compare(List<String> failures, String what, String s, int[] expected, int[] actual) {
        if (!Arrays.equals(expected, actual)) {
            failures.add(what + " of " + quote(s) + ": HF " + Arrays.toString(expected) + ", GPUOS " + Arrays.toString(actual));
        }
        return 1;
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.append('"').toString();
    }

    /**
     * BERT with bf16 products (opt-in): bounds of a 16-bit product chain, hidden states within 2e-2 normwise (the
     * issue's bf16 bound for logits) and embeddings within cosine 0.9995.
     */
    static final double BF16_HIDDEN_TOL = 2e-2, BF16_COSINE_MIN = 0.9995;

    /** BERT: last_hidden_state (real positions) within 1e-4 normwise, embeddings cosine >= 0.99999, batch 1 and padded. */
    static void bert(Backend backend) {
        bert(backend, DType.F32);
    }

    static void bert(Backend backend, DType compute) {
        JsonObject ref = json("bert_reference.json");
        double hiddenTol = compute == DType.F32 ? HIDDEN_TOL : BF16_HIDDEN_TOL, cosineMin = compute == DType.F32 ? COSINE_MIN : BF16_COSINE_MIN;
        try (BertEncoder enc = BertEncoder.load(root().resolve(ref.get("model").getAsString()), backend, compute, LoadProgress.NONE)) {
            double worstHidden = 0, worstCos = 1;
            // twice, the second time in reverse order: on the GPU the second pass replays the captures of the
            // first, now and then with another batch's data in the same shape
            List<JsonElement> cases = new ArrayList<>();
            ref.getAsJsonArray("cases").forEach(cases::add);
            List<JsonElement> twice = new ArrayList<>(cases);
            twice.addAll(cases.reversed());
            for (JsonElement c : twice) {
                JsonObject k = c.getAsJsonObject();
                JsonArray sentences = k.getAsJsonArray("sentences");
                JsonArray idsJson = k.getAsJsonArray("input_ids"), maskJson = k.getAsJsonArray("attention_mask");
                int b = idsJson.size();
                int[][] ids = new int[b][];
                for (int i = 0; i < b; i++) {
                    int[] mask = ints(maskJson.get(i)), padded = ints(idsJson.get(i));
                    int len = 0;
                    for (int m : mask) len += m;
                    ids[i] = Arrays.copyOf(padded, len);
                    int[] ours = enc.tokenizer().encode(sentences.get(i).getAsString());
                    assertTrue(Arrays.equals(ids[i], ours), "token ids of " + sentences.get(i) + ": HF " + Arrays.toString(ids[i]) + ", GPUOS " + Arrays.toString(ours));
                }
                BertEncoder.Output out = enc.forward(ids);
                if (backend instanceof dev.gpuos.tensor.gpu.GpuBackend) {
                    assertTrue(enc.mode().startsWith("replayed"), "the GPU forward pass was not replayed: " + enc.mode());
                }
                int[] shape = ints(k.get("shape"));
                assertEquals(out.length(), shape[1], "padded length");
                float[] hf = floats(k.get("last_hidden_state")), emb = floats(k.get("embeddings"));
                int h = out.hidden();
                for (int i = 0; i < b; i++) {
                    int len = ids[i].length;
                    float[] e = Arrays.copyOfRange(hf, i * shape[1] * h, (i * shape[1] + len) * h);
                    float[] a = Arrays.copyOfRange(out.lastHiddenState(), i * out.length() * h, (i * out.length() + len) * h);
                    double err = normwise(e, a);
                    worstHidden = Math.max(worstHidden, err);
                    assertTrue(err <= hiddenTol, compute + " last_hidden_state of " + sentences.get(i) + " (batch " + b + "): normwise error " + err);
                    double cos = cosine(Arrays.copyOfRange(emb, i * h, (i + 1) * h), out.embeddings()[i]);
                    worstCos = Math.min(worstCos, cos);
                    assertTrue(cos >= cosineMin, compute + " embedding of " + sentences.get(i) + " (batch " + b + "): cosine " + cos);
                }
            }
            System.out.printf(Locale.ROOT, "bert (%s products) on %s: %d cases (twice), worst hidden-state normwise error %.3g, worst embedding cosine %.9f; %s%n",
                    compute, backend.name(), cases.size(), worstHidden, worstCos, enc.mode());
        }
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    /**
     * Llama: rotary frequencies, prefill logits within 1e-3 normwise, 32 greedy tokens as HF's (up to near-ties);
     * a bf16 folder is checked twice, computing in f32 (widened at load: the bounds above) and in bf16 (the
     * default: {@link #BF16_LOGITS_TOL}).
     */
    static void llama(Backend backend) {
        JsonObject ref = json("llama_reference.json");
        for (JsonElement ve : ref.getAsJsonArray("variants")) {
            JsonObject v = ve.getAsJsonObject();
            String dir = v.get("dir").getAsString();
            double invErr = normwise(floats(v.get("inv_freq")), LlamaConfig.read(root().resolve(dir)).inverseFrequencies());
            assertTrue(invErr <= 1e-6, dir + ": rotary inverse frequencies differ from HF's: normwise " + invErr);
            llama(backend, v, dir, DType.F32);
            DType stored;
            try (ModelWeights w = ModelWeights.open(root().resolve(dir))) {
                stored = w.mainType().dtype();
            }
            if (stored == DType.BF16 || stored == DType.F16) llama(backend, v, dir, stored);
        }
    }

    private static void llama(Backend backend, JsonObject v, String dir, DType compute) {
        boolean f32 = compute == DType.F32;
        double tol = f32 ? LOGITS_TOL : BF16_LOGITS_TOL;
        String what = dir + " (" + compute + " products)";
        try (LlamaModel m = LlamaModel.load(root().resolve(dir), backend, 128, compute, LoadProgress.NONE)) {
            assertEquals(v.get("tie_word_embeddings").getAsBoolean(), m.config().tieWordEmbeddings(), dir + ": tie_word_embeddings");
            int[] prompt = ints(v.get("prompt_ids"));
            assertTrue(Arrays.equals(prompt, m.tokenizer().encode(v.get("prompt").getAsString())), dir + ": prompt ids");
            int vocab = v.get("vocab").getAsInt();
            float[] logits = m.forwardAll(prompt);
            double err;
            float[] last = v.has("prefill_logits")
                    ? Arrays.copyOfRange(floats(v.get("prefill_logits")), (prompt.length - 1) * vocab, prompt.length * vocab)
                    : floats(v.get("prefill_logits_last"));
            if (v.has("prefill_logits")) {
                err = normwise(floats(v.get("prefill_logits")), logits);
            } else {
                err = normwise(last, Arrays.copyOfRange(logits, (prompt.length - 1) * vocab, prompt.length * vocab));
            }
            assertTrue(err <= tol, what + ": prefill logits normwise error " + err + " > " + tol);
            double rms = 0;
            for (float x : last) rms += (double) x * x;
            rms = Math.sqrt(rms / last.length);
            double tie = f32 ? TOP2_TIE : BF16_LOGITS_TOL * rms;
            int[] expected = ints(v.get("greedy_tokens"));
            float[] gaps = floats(v.get("top2_gap"));
            int[] got = m.generate(prompt, expected.length, false, id -> { }).tokens();
            if (backend instanceof dev.gpuos.tensor.gpu.GpuBackend) {
                assertTrue(m.decodeMode().startsWith("captured once"), dir + ": the GPU decode step was not replayed: " + m.decodeMode());
            }
            int firstDiff = -1;
            for (int i = 0; i < expected.length && firstDiff < 0; i++) if (expected[i] != got[i]) firstDiff = i;
            int nearTies = 0;
            for (float g : gaps) if (g < tie) nearTies++;
            if (firstDiff >= 0) {
                assertTrue(gaps[firstDiff] < tie, what + ": greedy token " + firstDiff + " differs (HF " + expected[firstDiff]
                        + ", GPUOS " + got[firstDiff] + ") although HF's top-2 gap there is " + gaps[firstDiff]);
            }
            System.out.printf(Locale.ROOT, "llama %s on %s: prefill logits normwise error %.3g; greedy %s (%d HF near-ties < %.2g); decode step %s%n",
                    what, backend.name(), err, firstDiff < 0 ? expected.length + "/" + expected.length + " tokens identical"
                            : "identical up to token " + firstDiff + " (a near-tie, gap " + gaps[firstDiff] + ")", nearTies, tie,
                    m.decodeMode());
        }
    }
}
