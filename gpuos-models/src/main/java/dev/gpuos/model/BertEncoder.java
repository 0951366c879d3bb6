package dev.gpuos.model;

import dev.gpuos.model.tokenizer.Tokenizer;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Replay;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder (all-MiniLM-L6-v2 and bert-base shapes) on the tensor API, with sentence-transformers' mean
 * pooling and L2 normalisation. A batch is padded to its longest text; padded keys get a large negative attention
 * bias and padded positions are left out of the mean, so every text's embedding is the one it gets alone.
 *
 * <p>On the GPU backend the forward pass is captured once per batch shape (batch x padded length) and replayed:
 * the token ids and the texts' lengths are one device tensor written before each run, and the padding mask and
 * attention bias are computed from the lengths on the device, so a batch costs one upload, one replay and the
 * read of its embeddings. The {@value #SHAPES} most recently used shapes keep their captures (the least recently
 * used is closed when a new shape would exceed them); a failed capture runs the batch recorded, and
 * {@code -Dgpuos.bert.capture=false} records every batch (the A/B). Calls are serialised on the encoder.
 */
public final class BertEncoder implements AutoCloseable {
    /** wqkv/bqkv: the query, key and value projections stacked [3 hidden, hidden] / [3 hidden]: one product. */
    private record Layer(Tensor wqkv, Tensor bqkv, Tensor wo, Tensor bo,
                         Tensor norm1w, Tensor norm1b, Tensor wi, Tensor bi, Tensor wout, Tensor bout,
                         Tensor norm2w, Tensor norm2b) {}

    private final BertConfig config;
    private final Tokenizer tokenizer;
    private final Backend backend;
    private final TensorScope weights;
    private final Tensor wordEmb, posEmb, typeEmb, embNormW, embNormB;
    private final Layer[] layers;
    private final int maxTokens;
    private final boolean normalize;

    /** Batch shapes whose captured forward pass is kept. */
    static final int SHAPES = 8;
    private final LinkedHashMap<Long, Captured> captures = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Captured> eldest) {
            if (size() <= SHAPES) return false;
            eldest.getValue().close();
            return true;
        }
    };
    private String mode = "not run yet";

    private BertEncoder(BertConfig config, Tokenizer tokenizer, Backend backend, TensorScope weights, Tensor wordEmb,
                        Tensor posEmb, Tensor typeEmb, Tensor embNormW, Tensor embNormB, Layer[] layers, int maxTokens,
                        boolean normalize) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.backend = backend;
        this.weights = weights;
        this.wordEmb = wordEmb;
        this.posEmb = posEmb;
        this.typeEmb = typeEmb;
        this.embNormW = embNormW;
        this.embNormB = embNormB;
        this.layers = layers;
        this.maxTokens = maxTokens;
        this.normalize = normalize;
    }

    /** Loads config.json, tokenizer.json and the safetensors weights of {@code folder} onto {@code backend}; f32 computation. */
    public static BertEncoder load(Path folder, Backend backend, LoadProgress progress) {
        return load(folder, backend, DType.F32, progress);
    }

    /**
     * As {@link #load(Path, Backend, LoadProgress)}, with the products (the linear layers and attention's two) in
     * {@code compute}: F32, or BF16/F16 for tensor cores (weights converted at load; biases, embeddings, layer norms,
     * softmax and the residual stream stay f32). 16-bit products round their inputs to 8 or 11 significant bits,
     * so embeddings differ from f32 ones in the third or fourth digit.
     */
    public static BertEncoder load(Path folder, Backend backend, DType compute, LoadProgress progress) {
        if (compute != DType.F32 && compute != DType.F16 && compute != DType.BF16) {
            throw new IllegalArgumentException("compute dtype must be F32, F16 or BF16, got " + compute);
        }
        BertConfig cfg = BertConfig.read(folder);
        checkPooling(folder);
        boolean normalize = normalizes(folder);
        int maxTokens = maxSeqLength(folder, cfg);
        Tokenizer tokenizer = ModelFolder.tokenizer(folder, cfg.vocabSize());
        TensorScope scope = TensorScope.open(backend);
        try (ModelWeights w = ModelWeights.open(folder)) {
            w.onProgress(progress);
            w.expectStoredType(cfg.dtype(), folder.resolve("config.json"));
            w.reserveOn(backend, compute);
            WeightLoader l = new WeightLoader(w, scope, compute);
            DType f32 = DType.F32;
            // sentence-transformers saves a bare BertModel; BertFor* checkpoints prefix it with "bert."
            String root = w.contains("embeddings.word_embeddings.weight") ? "" : "bert.";
            long h = cfg.hiddenSize(), inter = cfg.intermediateSize();
            Tensor word = l.load(f32, root + "embeddings.word_embeddings.weight", cfg.vocabSize(), h);
            Tensor pos = l.load(f32, root + "embeddings.position_embeddings.weight", cfg.maxPositions(), h);
            Tensor type = l.load(f32, root + "embeddings.token_type_embeddings.weight", cfg.typeVocabSize(), h);
            Tensor nw = l.load(f32, root + "embeddings.LayerNorm.weight", h), nb = l.load(f32, root + "embeddings.LayerNorm.bias", h);
            Layer[] layers = new Layer[cfg.layers()];
            for (int i = 0; i < layers.length; i++) {
                String p = root + "encoder.layer." + i + ".";
                String[] qkv = {"query", "key", "value"};
                layers[i] = new Layer(
                        l.stacked(h, java.util.Arrays.stream(qkv).map(n -> p + "attention.self." + n + ".weight").toArray(String[]::new), new long[]{h, h, h}),
                        l.stacked(f32, 0, java.util.Arrays.stream(qkv).map(n -> p + "attention.self." + n + ".bias").toArray(String[]::new), new long[]{h, h, h}),
                        l.load(p + "attention.output.dense.weight", h, h), l.load(f32, p + "attention.output.dense.bias", h),
                        l.load(f32, p + "attention.output.LayerNorm.weight", h), l.load(f32, p + "attention.output.LayerNorm.bias", h),
                        l.load(p + "intermediate.dense.weight", inter, h), l.load(f32, p + "intermediate.dense.bias", inter),
                        l.load(p + "output.dense.weight", h, inter), l.load(f32, p + "output.dense.bias", h),
                        l.load(f32, p + "output.LayerNorm.weight", h), l.load(f32, p + "output.LayerNorm.bias", h));
            }
            scope.sync();
            return new BertEncoder(cfg, tokenizer, backend, scope, word, pos, type, nw, nb, layers, maxTokens, normalize);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    /**
     * sentence-transformers' modules.json lists a Normalize module when the model's embeddings are L2-normalised
     * (all-MiniLM-L6-v2 does); a folder without modules.json is normalised too.
     */
    private static boolean normalizes(Path folder) {
        Path modules = folder.resolve("modules.json");
        if (!modules.toFile().isFile()) return true;
        try {
            var root = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(modules));
            if (!root.isJsonArray()) throw new ModelFormatException(modules + ": expected an array of modules");
            for (var m : root.getAsJsonArray()) {
                if (m.isJsonObject() && m.getAsJsonObject().has("type") && m.getAsJsonObject().get("type").getAsString().endsWith(".Normalize")) {
                    return true;
                }
            }
            return false;
        } catch (java.io.IOException | com.google.gson.JsonParseException | IllegalStateException | UnsupportedOperationException e) {
            throw new ModelFormatException(modules + ": cannot be read: " + e.getMessage(), e);
        }
    }

    /** sentence-transformers' 1_Pooling/config.json, when present, must ask for mean pooling (what this encoder does). */
    private static void checkPooling(Path folder) {
        Path pooling = folder.resolve("1_Pooling").resolve("config.json");
        if (!pooling.toFile().isFile()) return;
        JsonFile p = JsonFile.read(pooling);
        if (!p.bool("pooling_mode_mean_tokens", true)) {
            throw p.error("pooling_mode_mean_tokens", "only mean pooling is supported");
        }
        for (String other : new String[]{"pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
            if (p.bool(other, false)) throw p.error(other, "only mean pooling is supported");
        }
    }

    /**
     * Longest input in tokens: sentence-transformers' max_seq_length (sentence_bert_config.json; 256 for
     * all-MiniLM-L6-v2), else max_position_embeddings. Longer texts are truncated, as sentence-transformers does.
     */
    private static int maxSeqLength(Path folder, BertConfig cfg) {
        Path st = folder.resolve("sentence_bert_config.json");
        if (!st.toFile().isFile()) return cfg.maxPositions();
        JsonFile f = JsonFile.read(st);
        int max = f.integer("max_seq_length", 3, cfg.maxPositions());
        if (max > cfg.maxPositions()) {
            throw f.error("max_seq_length", max + " is more than max_position_embeddings " + cfg.maxPositions() + " in config.json");
        }
        return max;
    }

    /** The longest input in tokens (special tokens included); {@link #embed} truncates longer texts. */
    public int maxTokens() { return maxTokens; }

    public BertConfig config() { return config; }

    public Tokenizer tokenizer() { return tokenizer; }

    /** Whether embeddings are L2-normalised (modules.json has a Normalize module, or there is no modules.json). */
    public boolean normalizes() { return normalize; }

    /** Hidden states and sentence embeddings of one batch. */
    public record Output(int batch, int length, int hidden, float[] lastHiddenState, float[][] embeddings) {}

    /**
     * Sentence embeddings (mean pooling + L2 normalisation) of {@code texts}, run as one padded batch; texts longer
     * than {@link #maxTokens} are truncated.
     */
    public float[][] embed(List<String> texts) {
        int[][] ids = new int[texts.size()][];
        for (int i = 0; i < ids.length; i++) ids[i] = tokenizer.encode(texts.get(i), true, maxTokens);
        return run(ids, false).embeddings();
    }

    /** Runs token ids (with their special tokens) as one batch, padded to the longest. */
    public Output forward(int[][] ids) {
        return run(ids, true);
    }

    /** Sentence embeddings of token ids (with their special tokens), run as one padded batch. */
    public float[][] embedIds(int[][] ids) {
        return run(ids, false).embeddings();
    }

    /** How the last batch ran, e.g. "replayed (captured for 1 x 16: 54 ops, 40 tasks)". */
    public synchronized String mode() { return mode; }

    /** {@link #forward}, reading the hidden states only where {@code hidden} (else lastHiddenState is null). */
    private synchronized Output run(int[][] ids, boolean hidden) {
        int b = ids.length;
        if (b == 0) throw new IllegalArgumentException("no texts to embed");
        int t = 0;
        for (int[] row : ids) t = Math.max(t, row.length);
        if (t > config.maxPositions()) {
            throw new IllegalArgumentException("a text of " + t + " tokens is longer than max_position_embeddings "
                    + config.maxPositions() + " in config.json");
        }
        // the ids [b, t] (padding: id 0), then each text's length
        long[] input = new long[b * t + b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < ids[i].length; j++) {
                int id = ids[i][j];
                if (id < 0 || id >= config.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + config.vocabSize());
                input[i * t + j] = id;
            }
            input[b * t + i] = ids[i].length;
        }
        if ((backend instanceof GpuBackend || captureOnEveryBackend) && capture) {
            long key = (long) b << 32 | t;
            Captured c = captures.get(key);
            if (c == null) {
                try {
                    c = new Captured(b, t);
                    captures.put(key, c);
                } catch (RuntimeException e) {
                    // the same program still runs, recorded for this batch; say so rather than fail it
                    mode = "recorded per batch (capture of " + b + " x " + t + " failed: " + e.getMessage() + ")";
                    return eager(input, b, t, hidden);
                }
            }
            mode = c.replay instanceof GpuReplay r
                    ? "replayed (captured for " + b + " x " + t + ": " + r.nodeCount() + " ops, " + r.taskCount() + " tasks)"
                    : "replayed (captured for " + b + " x " + t + " on the " + backend.name() + " backend)";
            try {
                return c.run(input, hidden);
            } catch (RuntimeException | Error e) {
                // a replay that failed part way is not trusted again: the next batch of this shape captures anew
                captures.remove(key);
                c.close();
                throw e;
            }
        }
        mode = backend instanceof GpuBackend ? "recorded per batch (-Dgpuos.bert.capture=false)"
                : "recorded per batch (" + backend.name() + " backend)";
        return eager(input, b, t, hidden);
    }

    /**
     * Whether the forward pass is captured per batch shape on the GPU backend ({@code gpuos.bert.capture}, default
     * true). Recorded instead, each op pays the host's recording and the recording's time bound cuts the pass
     * into submissions wherever the host happens to be, so a batch may plan (and compile) fused operators no batch
     * planned before (the Llama prefill's story, session 16). The switch is the A/B; benches flip it in one JVM.
     */
    static volatile boolean capture = !"false".equals(System.getProperty("gpuos.bert.capture"));

    /**
     * Tests: captured on every backend (a CPU capture calls the program again at every run), so the capture's
     * bookkeeping (inputs written before each run, kept captures per shape, evictions) is checked against the
     * recorded pass where values are exact.
     */
    static volatile boolean captureOnEveryBackend;

    /** Batch shapes whose capture is kept now, least recently used first (tests). */
    synchronized List<Long> capturedShapes() {
        return List.copyOf(captures.keySet());
    }

    private Output eager(long[] input, int b, int t, boolean hidden) {
        try (TensorScope step = TensorScope.open(backend)) {
            return read(program(step.tensor(input, input.length), step.arange(t), b, t), b, t, hidden);
        }
    }

    private Output read(List<Tensor> out, int b, int t, boolean hidden) {
        int h = config.hiddenSize();
        float[] pooled = out.get(1).toFloatArray();
        float[] states = hidden ? out.get(0).toFloatArray() : null;
        float[][] emb = new float[b][h];
        for (int i = 0; i < b; i++) System.arraycopy(pooled, i * h, emb[i], 0, h);
        return new Output(b, t, h, states, emb);
    }

    /** Records the forward pass of a b x t batch once, as a capture would (tests count its tasks): [hidden states, pooled]. */
    List<Tensor> recordForward(TensorScope scope, int b, int t) {
        return program(scope.zeros(DType.I64, (long) b * t + b), scope.arange(t), b, t);
    }

    /** The forward pass over {@code input} (ids [b, t], then the b lengths) with {@code positions} = 0..t-1: [hidden states, pooled]. */
    private List<Tensor> program(Tensor input, Tensor positions, int b, int t) {
        int h = config.hiddenSize(), nh = config.heads(), dh = config.headDim();
        long[] norm = {h};
        double eps = config.layerNormEps(), scale = 1.0 / Math.sqrt(dh);
        Tensor idx = input.narrow(0, 0, (long) b * t).view(b, t), lengths = input.narrow(0, (long) b * t, b).view(b, 1);
        Tensor keep = positions.view(1, t).lt(lengths).to(DType.F32);   // [b, t]: 1 on a text's tokens, 0 on padding
        // 0, or -1e30 on padded keys, in the products' dtype (the attention op's for its query, keys and bias),
        // cast before the view so that the cast is a member of the mask's task
        Tensor scoreBias = keep.sub(1.0).mul(1e30).to(computeType()).view(b, 1, 1, 1, t);
        Tensor x = wordEmb.embedding(idx)
                .add(posEmb.narrow(0, 0, t)).add(typeEmb.narrow(0, 0, 1))
                .layerNorm(norm, embNormW, embNormB, eps);
        for (Layer l : layers) {
            // [b, t, 3h]; attention's products run in the compute dtype too (the cast joins the bias add)
            Tensor qkv = linear(x, l.wqkv(), l.bqkv()).to(l.wqkv().dtype());
            // Every (text, token, head) is a batch of one query row over its text's keys of that head, the keys
            // and values broadcast over the tokens: the output [b, t, heads, 1, dh] is then already the [b, t, h]
            // the o projection reads (as [b, heads, t, dh] it took a copy task on the layer's chain), and each row
            // is computed as before (attention runs a tile per query row either way).
            Tensor q = qkv.narrow(2, 0, h).view(b, t, nh, 1, dh);
            Tensor k = keysOverTokens(qkv.narrow(2, h, h), b, t, nh, dh);
            Tensor v = keysOverTokens(qkv.narrow(2, 2L * h, h), b, t, nh, dh);
            // scores, scale, key bias, softmax and @ values: one attention op (one task on the GPU)
            Tensor ctx = q.attention(k, v, scoreBias, scale).view(b, t, h);
            Tensor a = linear(ctx, l.wo(), l.bo()).add(x).layerNorm(norm, l.norm1w(), l.norm1b(), eps);
            Tensor inner = activation(linear(a, l.wi(), l.bi()));
            x = linear(inner, l.wout(), l.bout()).add(a).layerNorm(norm, l.norm2w(), l.norm2b(), eps);
        }
        Tensor mask = keep.view(b, t, 1);
        Tensor sum = x.mul(mask).sum(new int[]{1}, false);   // [b, h]
        Tensor pooled;
        if (normalize) {
            // the mean's direction is the sum's: sum / ||sum|| = rms_norm(sum) / sqrt(h), one fused task (an
            // all-zero sum stays zero, as sentence-transformers' clamped norm leaves it)
            pooled = sum.rmsNorm(new long[]{h}, null, 1e-30).mul(1.0 / Math.sqrt(h));
        } else {
            pooled = sum.div(mask.sum(new int[]{1}, false).clampMin(1e-9));
        }
        return List.of(x, pooled);
    }

    /** The forward pass of one batch shape, captured; its input is written before each replay. */
    private final class Captured implements AutoCloseable {
        final TensorScope scope;
        final Tensor input;
        final Replay replay;
        final int b, t;

        Captured(int b, int t) {
            this.b = b;
            this.t = t;
            scope = TensorScope.open(backend);
            try {
                input = scope.zeros(DType.I64, (long) b * t + b);
                Tensor positions = scope.arange(t);
                scope.sync();
                replay = backend.captureReturning(() -> program(input, positions, b, t));
                // A CPU capture (tests: captureOnEveryBackend) makes its outputs at its first run, in the innermost
                // scope: this one, not run()'s (the zero ids are every text's full length of token 0).
                if (!(backend instanceof GpuBackend)) replay.run();
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        Output run(long[] data, boolean hidden) {
            try (TensorScope inputs = TensorScope.open(backend)) {
                input.copyFrom(inputs.tensor(data, data.length));
                replay.run();
                return read(replay.outputs(), b, t, hidden);   // reading syncs: the upload was consumed
            }
        }

        @Override
        public void close() {
            replay.close();
            scope.close();
        }
    }

    private Tensor activation(Tensor x) {
        return switch (config.hiddenAct()) {
            case "gelu" -> x.gelu();
            case "gelu_new", "gelu_pytorch_tanh" -> x.geluTanh();
            case "relu" -> x.relu();
            default -> throw new IllegalStateException("activation " + config.hiddenAct() + " passed the config check");
        };
    }

    /** x @ weight^T + bias: the product in the weight's dtype, the sum in f32 (the bias's dtype). */
    private static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return x.to(weight.dtype()).matmul(weight.transpose(0, 1)).add(bias);
    }

    /** The dtype of the products (F32, or BF16/F16 when loaded so). */
    public DType computeType() { return layers.length > 0 ? layers[0].wqkv().dtype() : DType.F32; }

    /** Keys or values [b, t, heads*dh] as [b, t (broadcast: every query token), heads, t, dh], a view. */
    private static Tensor keysOverTokens(Tensor x, int b, int t, int nh, int dh) {
        return x.view(b, t, nh, dh).permute(0, 2, 1, 3).unsqueeze(1).expand(b, t, nh, t, dh);
    }

    /** Gives back every kept capture, so the next batch of each shape is planned again (a bench's A/B of a planner switch). */
    synchronized void dropCaptures() {
        for (Captured c : captures.values()) c.close();
        captures.clear();
    }

    @Override
    public synchronized void close() {
        for (Captured c : captures.values()) c.close();
        captures.clear();
        weights.close();
    }
}
