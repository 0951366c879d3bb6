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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * A Llama-architecture decoder (Llama 3.x configs) on the tensor API: RMSNorm, RoPE with llama3 frequency
 * scaling, grouped-query attention over a KV cache, SwiGLU, tied or untied output embeddings; batch 1.
 *
 * <p>Weights stay in their stored dtype on the backend (BF16/F16 models: half the bytes a decode step reads) unless
 * the caller asks for f32; the products run in that compute dtype ({@code x.to(BF16).matmul(w^T)}, f32 accumulation)
 * while the residual stream, norms, RoPE, the keys and the softmax stay f32, as the activations of transformers'
 * bf16 models are bf16 only where a matmul reads or writes them. A layer's q, k and v projections are one stacked
 * weight, and so are gate and up: one product each. The KV cache is allocated once for {@code maxSequence}
 * positions ([kv_heads, cacheRows, head_dim] per layer, a few rows more than maxSequence for the decode step's
 * queries; keys f32, values in the compute dtype, which is what the value projection produced) and written in
 * place; a layer's attention is one op over it ({@link Tensor#attention}, its output in the values' dtype, which
 * the o projection reads). A prefill
 * (and {@link #forwardAll}) runs its layers with shapes of its own length and attends over the first rows of
 * the cache (captured on the GPU backend per cache set, position and length, so a prompt of a length seen before
 * is one replay); {@link #generate} then decodes with a fixed-shape step ({@code FixedStep}) that the GPU backend
 * captures once and replays per token. Query heads of one KV group are stacked into the rows of one matrix, so
 * grouped-query attention needs no copy of K or V per query head.
 */
public final class LlamaModel implements AutoCloseable {
    /** wqkv: q, k and v projections stacked [q + 2 kv, hidden]; wgu: gate and up stacked [2 inter, hidden]. */
    private record Layer(Tensor inputNorm, Tensor wqkv, Tensor wo, Tensor postNorm, Tensor wgu, Tensor down) {}

    private final LlamaConfig config;
    private final Tokenizer tokenizer;
    private final Backend backend;
    private final TensorScope weights;
    private final Tensor embed, lmHead, finalNorm;
    /** RoPE factors per position, [maxSequence, 3, 2, head_dim / 2]: see {@link #rope}. */
    private final Tensor ropeTable;
    private final DType compute;
    private final Layer[] layers;
    /**
     * Two sets of caches [set][layer]: a decode step reads set {@link #current} and writes the next one whole (its
     * rows plus the new one), so the write is one task that reads nothing it writes; prefills use set current.
     */
    private final Tensor[][] keyCache, valueCache;
    /**
     * Rows of a cache tensor: the maxSequence positions rounded up to a multiple of the query heads per KV head
     * (rep), then rep rows more, where the decode step leaves its query heads after RoPE ({@code FixedStep}); the
     * rounding lets the step view the rows as [rows / rep, rep] and broadcast the group's rep query heads over them.
     */
    private final int cacheRows;
    private int current;
    private final int maxSequence;
    private final String storedType;
    private int position;
    private FixedStep fixedStep;   // made at the first generate: on the GPU its capture is planned once

    private LlamaModel(LlamaConfig config, Tokenizer tokenizer, Backend backend, TensorScope weights, Tensor embed,
                       Tensor lmHead, Tensor finalNorm, Layer[] layers, int maxSequence, String storedType, DType compute) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.backend = backend;
        this.weights = weights;
        this.embed = embed;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.layers = layers;
        this.maxSequence = maxSequence;
        this.storedType = storedType;
        this.compute = compute;
        int d = config.headDim(), half = d / 2;
        float[] inv = config.inverseFrequencies();
        // per position: (cos, cos), (-sin, 0), (0, sin) over the two halves of a head
        float[] table = new float[maxSequence * 6 * half];
        for (int p = 0; p < maxSequence; p++) {
            for (int j = 0; j < half; j++) {
                float angle = p * inv[j];   // one f32 product, as transformers' inv_freq @ positions
                float c = (float) Math.cos(angle), s = (float) Math.sin(angle);
                int at = p * 6 * half + j;
                table[at] = c;
                table[at + half] = c;
                table[at + 2 * half] = -s;
                table[at + 5 * half] = s;
            }
        }
        this.ropeTable = weights.tensor(table, maxSequence, 3, 2, half);
        int rep = config.heads() / config.kvHeads();
        this.cacheRows = Math.ceilDiv(maxSequence, rep) * rep + rep;
        this.keyCache = new Tensor[2][layers.length];
        this.valueCache = new Tensor[2][layers.length];
        weights.sync();
    }

    /**
     * Allocates the KV caches at their first use rather than in load: zeroing them is the only task a load would
     * otherwise run, and its fill operators the only ones a load would compile (a first generate compiles anyway).
     * Zeroed because attention weighs the rows after the position by exactly 0, and 0 * NaN is not 0.
     */
    private void ensureCaches() {
        if (keyCache[0][0] != null) return;
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < layers.length; i++) {
                keyCache[c][i] = weights.zeros(DType.F32, config.kvHeads(), cacheRows, config.headDim());
                valueCache[c][i] = weights.zeros(compute, config.kvHeads(), cacheRows, config.headDim());
            }
        }
    }

    /**
     * Loads config.json, tokenizer.json and the safetensors weights of {@code folder} onto {@code backend}, with a KV
     * cache for {@code maxSequence} positions (at most max_position_embeddings). BF16 and F16 weights stay as they
     * are stored and the products run in that dtype; anything else computes in f32.
     */
    public static LlamaModel load(Path folder, Backend backend, int maxSequence, LoadProgress progress) {
        return load(folder, backend, maxSequence, null, progress);
    }

    /**
     * As {@link #load(Path, Backend, int, LoadProgress)}, with the products in {@code compute} (F32, F16 or BF16;
     * null: the stored dtype where that is F16 or BF16, else F32). F32 widens 16-bit weights at load.
     */
    public static LlamaModel load(Path folder, Backend backend, int maxSequence, DType compute, LoadProgress progress) {
        if (compute != null && compute != DType.F32 && compute != DType.F16 && compute != DType.BF16) {
            throw new IllegalArgumentException("compute dtype must be F32, F16 or BF16, got " + compute);
        }
        LlamaConfig cfg = LlamaConfig.read(folder);
        if (maxSequence < 1) throw new IllegalArgumentException("maxSequence must be >= 1, got " + maxSequence);
        int seq = Math.min(maxSequence, cfg.maxPositions());
        Tokenizer tokenizer = ModelFolder.tokenizer(folder, cfg.vocabSize());
        TensorScope scope = TensorScope.open(backend);
        try (ModelWeights w = ModelWeights.open(folder)) {
            w.onProgress(progress);
            w.expectStoredType(cfg.dtype(), folder.resolve("config.json"));
            DType main = w.mainType().dtype();
            DType dt = compute != null ? compute : main == DType.BF16 || main == DType.F16 ? main : DType.F32;
            w.reserveOn(backend, dt);
            WeightLoader l = new WeightLoader(w, scope, dt);
            long h = cfg.hiddenSize(), d = cfg.headDim(), inter = cfg.intermediateSize();
            long q = (long) cfg.heads() * d, kv = (long) cfg.kvHeads() * d;
            Tensor embed = l.load("model.embed_tokens.weight", cfg.vocabSize(), h);
            Layer[] layers = new Layer[cfg.layers()];
            for (int i = 0; i < layers.length; i++) {
                String p = "model.layers." + i + ".";
                layers[i] = new Layer(l.load(DType.F32, p + "input_layernorm.weight", h),
                        l.stacked(h, new String[]{p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                                p + "self_attn.v_proj.weight"}, new long[]{q, kv, kv}),
                        l.load(p + "self_attn.o_proj.weight", h, q),
                        l.load(DType.F32, p + "post_attention_layernorm.weight", h),
                        l.stacked(h, new String[]{p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, new long[]{inter, inter}),
                        l.load(p + "mlp.down_proj.weight", h, inter));
            }
            Tensor norm = l.load(DType.F32, "model.norm.weight", h);
            Tensor head = cfg.tieWordEmbeddings() ? embed : l.load("lm_head.weight", cfg.vocabSize(), h);
            scope.sync();   // every upload read its mapped bytes before the files close
            return new LlamaModel(cfg, tokenizer, backend, scope, embed, head, norm, layers, seq, w.mainType().name(), dt);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    public LlamaConfig config() { return config; }

    public Tokenizer tokenizer() { return tokenizer; }

    public int maxSequence() { return maxSequence; }

    /** The dtype most stored weights had. */
    public String storedType() { return storedType; }

    /** The dtype the weights live in on the backend and the products run in (norms, RoPE, softmax: f32). */
    public DType computeType() { return compute; }

    /** Positions already in the KV cache. */
    public int position() { return position; }

    /** Empties the KV cache (its stale rows are never read: attention covers only the first position() rows). */
    public void reset() { position = 0; }

    /** Runs {@code ids} at positions position()..; returns the logits of every one of them ([ids.length * vocab]). */
    public float[] forwardAll(int[] ids) {
        return prefill(ids, false, out -> out.get(0).toFloatArray());
    }

    /** Runs {@code ids} and returns the greedy next token (argmax of the last position's logits, on the backend). */
    public int nextToken(int[] ids) {
        return nextToken(ids, Sampling.GREEDY);
    }

    /** Runs {@code ids} and picks the next token from the last position's logits with {@code sampling}. */
    public int nextToken(int[] ids, Sampling sampling) {
        return prefill(ids, true, out -> sampling.isGreedy() ? (int) out.get(1).longItem() : sampling.pick(out.get(0).toFloatArray()));
    }

    /**
     * How the next token is chosen: greedy (argmax on the backend), or drawn from softmax(logits / temperature)
     * on the host with a seeded generator (no top-k or top-p filtering).
     */
    public static final class Sampling {
        public static final Sampling GREEDY = new Sampling(0, 0);

        private final double temperature;
        private final java.util.SplittableRandom random;

        private Sampling(double temperature, long seed) {
            this.temperature = temperature;
            this.random = new java.util.SplittableRandom(seed);
        }

        /** Temperature sampling; {@code temperature} 0 is greedy. Each Sampling is one seeded stream: use it on one thread. */
        public static Sampling temperature(double temperature, long seed) {
            if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
            }
            return temperature == 0 ? GREEDY : new Sampling(temperature, seed);
        }

        public boolean isGreedy() { return temperature == 0; }

        /** Draws an index with probability softmax(logits / temperature). */
        public int pick(float[] logits) {
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) max = Math.max(max, l);
            double sum = 0;
            double[] w = new double[logits.length];
            for (int i = 0; i < w.length; i++) sum += w[i] = Math.exp((logits[i] - max) / temperature);
            double u = random.nextDouble() * sum;
            for (int i = 0; i < w.length; i++) {
                u -= w[i];
                if (u < 0) return i;
            }
            return w.length - 1;   // u within rounding of sum
        }
    }

    /** Result of {@link #generate}: the new tokens and where the time went. */
    public record Generation(int[] tokens, int promptTokens, double prefillSeconds, double decodeSeconds) {
        /** Decode speed: tokens after the first (which the prefill produced) per second of decoding. */
        public double decodeTokensPerSecond() {
            return tokens.length > 1 ? (tokens.length - 1) / decodeSeconds : Double.NaN;
        }
    }

    /**
     * Greedy decoding from {@code prompt} (the cache is reset first): up to {@code maxNewTokens} tokens, stopping
     * after an end-of-sequence token when {@code stopAtEos}; {@code onToken} sees each token as it is produced.
     */
    public Generation generate(int[] prompt, int maxNewTokens, boolean stopAtEos, IntConsumer onToken) {
        return generate(prompt, maxNewTokens, stopAtEos, Sampling.GREEDY, onToken);
    }

    /** As {@link #generate(int[], int, boolean, IntConsumer)}, choosing each token with {@code sampling}. */
    public Generation generate(int[] prompt, int maxNewTokens, boolean stopAtEos, Sampling sampling, IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (prompt.length + maxNewTokens > maxSequence) {
            throw new IllegalArgumentException("a prompt of " + prompt.length + " tokens plus " + maxNewTokens
                    + " new tokens does not fit the KV cache of " + maxSequence + " positions"
                    + (maxSequence == config.maxPositions() ? " (max_position_embeddings in config.json)" : ""));
        }
        reset();
        if (fixedStep == null) fixedStep = new FixedStep();   // captured here: neither prefill nor decode time
        List<Integer> out = new ArrayList<>();
        long t0 = System.nanoTime();
        int next = nextToken(prompt, sampling);
        long t1 = System.nanoTime();
        if (sampling.isGreedy()) {
            // Each step writes its argmax into the next step's token on the device, so step p + 1 is launched
            // before step p's token is read: the host's read-back overlaps the next step instead of idling the GPU.
            List<Tensor> inFlight = null;
            while (true) {
                out.add(next);
                onToken.accept(next);
                if (out.size() >= maxNewTokens || (stopAtEos && isEos(next))) break;
                List<Tensor> step = inFlight != null ? inFlight : fixedStep.launch(next, position);
                // a step launched past an end-of-sequence token is never read; its cache row is overwritten later
                inFlight = out.size() + 1 < maxNewTokens ? fixedStep.launchNext(position + 1) : null;
                next = (int) step.get(1).longItem();
                position++;
            }
        } else {
            while (true) {
                out.add(next);
                onToken.accept(next);
                if (out.size() >= maxNewTokens || (stopAtEos && isEos(next))) break;
                next = fixedStep.next(next, position, sampling);
                position++;
            }
        }
        long t2 = System.nanoTime();
        return new Generation(out.stream().mapToInt(Integer::intValue).toArray(), prompt.length, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    /** How prefills run: captured per cache set, position and length (GPU backend), or recorded and why. */
    public String prefillMode() {
        if (!(backend instanceof GpuBackend) && !captureOnEveryBackend) return "recorded (" + backend.name() + " backend)";
        if (prefillCaptureFailure != null) return "recorded (capture failed: " + prefillCaptureFailure + ")";
        return capturedPrefill ? "captured per cache set, position and length, replayed" : "recorded (-Dgpuos.llama.prefillCapture=false)";
    }

    /** How the decode step runs, e.g. "captured once (..), replayed per token"; null before the first generate. */
    public String decodeMode() {
        return fixedStep == null ? null : fixedStep.mode;
    }

    /** The fixed-shape decode step's logits for {@code id} at position(), which it then advances (tests). */
    float[] fixedStepLogits(int id) {
        if (fixedStep == null) fixedStep = new FixedStep();
        float[] logits = fixedStep.logits(id, position);
        position++;
        return logits;
    }

    /** Records the fixed-shape decode step once, as a capture would, and returns [logits, argmax] (tests count its tasks). */
    List<Tensor> recordDecodeStep() {
        if (fixedStep == null) fixedStep = new FixedStep();
        return fixedStep.program(current);
    }

    /**
     * Records the prefill program of {@code t} tokens at position 0 (the last position's logits and argmax) on
     * {@code ids} [t] and the causal {@code bias} made by the caller, as a capture would (tests plan its tasks);
     * the first call also makes the caches.
     */
    List<Tensor> recordPrefill(Tensor ids, Tensor bias, int t) {
        ensureCaches();
        return forward(current, 0, t, ids, bias, true);
    }

    /** The causal bias of {@code t} tokens at position 0 (tests). */
    static Tensor causalBias(TensorScope scope, int t) {
        return causalBias(scope, 0, t);
    }

    /**
     * For DecodeBreakdownBench: launches the decode step for {@code id} at position {@code p} without reading it
     * (generate must have run once, so the step exists); null outputs mean none was launched.
     */
    List<Tensor> launchDecodeStep(int id, int p) {
        if (fixedStep == null) fixedStep = new FixedStep();
        return fixedStep.launch(id, p);
    }

    /** For DecodeBreakdownBench: the step at {@code p} on the token the step before wrote on the device. */
    List<Tensor> launchNextDecodeStep(int p) {
        return fixedStep.launchNext(p);
    }

    /** For DecodeBreakdownBench: the captured step reading cache set 0, or null when it is not replayed. */
    GpuReplay decodeReplay() {
        return fixedStep == null ? null : fixedStep.replay[0];
    }

    public boolean isEos(int token) {
        for (int e : config.eosTokenIds()) if (e == token) return true;
        return false;
    }

    /**
     * x @ weight^T in the weight's dtype (the HF Linear layout read with k-stride 1: matmul's skinny path for a
     * decode step); the result stays in that dtype (f32 accumulation inside the product).
     */
    private static Tensor linear(Tensor x, Tensor weight) {
        return x.to(weight.dtype()).matmul(weight.transpose(0, 1));
    }

    /**
     * transformers' RoPE, x*cos + rotate_half(x)*sin, on heads viewed as [.., 2, d/2] (their two halves), with
     * {@code r} the factor rows [t, 3, 2, d/2] of the positions (see the constructor): out = x * (cos, cos)
     * + x_hi * (-sin, 0) + x_lo * (0, sin), x_lo and x_hi broadcast over the halves. One elementwise expression
     * (no cat of the rotated halves), exact where a factor is 0, and computed in f32 whatever x's dtype.
     */
    private static Tensor rope(Tensor x, Tensor r) {
        long t = r.size(0), half = r.size(3);
        Tensor c = r.select(1, 0).view(t, 1, 2, half), sa = r.select(1, 1).view(t, 1, 2, half),
                sb = r.select(1, 2).view(t, 1, 2, half);
        return x.mul(c).add(x.narrow(2, 1, 1).mul(sa)).add(x.narrow(2, 0, 1).mul(sb));
    }

    /**
     * Runs {@code ids} at positions position().. (the cache then holds position() + ids.length rows) and returns
     * {@code read} of [logits] ({@code lastOnly}: [logits of the last position [1, vocab], their argmax]).
     *
     * <p>On the GPU backend the prefill is captured (one submission, planned once) and replayed, keyed by cache set,
     * position and length; recorded eagerly, its ops were cut into submissions by the recording's 1 ms time bound
     * at points that depend on the host's timing, and each new cut could plan a fused operator never planned
     * before: an NVRTC compile and a generation swap inside a timed prefill (the H100's 613-715 ms prefills of 32
     * tokens in GPU run models-4-1, after warm-up; found on the simulated device, where later prefills still
     * compiled operators). {@code -Dgpuos.llama.prefillCapture=false} records it eagerly again (the A/B).
     */
    private <T> T prefill(int[] ids, boolean lastOnly, Function<List<Tensor>, T> read) {
        int t = ids.length, p = position;
        if (t == 0) throw new IllegalArgumentException("no tokens to run");
        if (p + t > maxSequence) {
            throw new IllegalArgumentException("position " + (p + t) + " is past the KV cache of " + maxSequence + " positions");
        }
        for (int id : ids) checkToken(id);
        ensureCaches();
        long[] idx = new long[t];
        for (int i = 0; i < t; i++) idx[i] = ids[i];
        long key = ((long) current << 62) | ((long) p << 31) | ((long) t << 1) | (lastOnly ? 1 : 0);
        Prefill c = null;
        if ((backend instanceof GpuBackend || captureOnEveryBackend) && capturedPrefill) {
            c = prefills.remove(key);
            if (c != null) keptPrefillBytes -= c.bytes;
            if (c == null && prefillCaptureFailure == null) {
                try {
                    c = new Prefill(current, p, t, lastOnly);
                } catch (RuntimeException e) {
                    prefillCaptureFailure = e.toString();   // the same program runs recorded, now and from now on
                }
            }
        }
        if (c != null) {
            T out;
            try {
                out = c.run(idx, read);
            } catch (RuntimeException | Error e) {
                c.close();
                throw e;
            }
            position = p + t;
            keep(key, c);
            return out;
        }
        try (TensorScope step = TensorScope.open(backend)) {
            T out = read.apply(forward(current, p, t, step.tensor(idx, t), causalBias(step, p, t), lastOnly));
            position = p + t;
            return out;
        }
    }

    /**
     * Tests: prefills captured on every backend (a CPU capture calls the program again at every run), so that the
     * captured prefill's bookkeeping (inputs, keys, positions, kept captures) is checked against the recorded one
     * where values are exact.
     */
    static volatile boolean captureOnEveryBackend;

    /** The first failure to capture a prefill (it then ran recorded), or null. */
    private String prefillCaptureFailure;

    /**
     * Whether prefills are captured on the GPU backend ({@code gpuos.llama.prefillCapture}, default true); the
     * benches set it to time both ways in one JVM.
     */
    static volatile boolean capturedPrefill = !"false".equals(System.getProperty("gpuos.llama.prefillCapture"));

    /**
     * Whether the decode step does a layer's RoPE (q's and k's) and both cache writes in one elementwise task
     * ({@code gpuos.llama.oneTaskCacheWrite}, default true; session 17) or in session 16's three; read when the
     * step is made (the first generate, or after {@link #dropDecodeStep}). For the A/B in one JVM; delete the loser.
     */
    static volatile boolean oneTaskCacheWrite = !"false".equals(System.getProperty("gpuos.llama.oneTaskCacheWrite"));

    /** Closes the decode step (benches: the next generate makes and captures it again, with the switches as set then). */
    void dropDecodeStep() {
        if (fixedStep != null) fixedStep.close();
        fixedStep = null;
    }

    /**
     * Captured prefills are kept for the next prefill of their key while their intermediates together (estimated:
     * a token's products and f32 rows per layer, about 4 MB a token for Llama-3.2-1B) take at most this many
     * bytes, the least recently used given back first: three 32-token prompts of Llama-3.2-1B. A prompt whose
     * capture alone is larger (over about 128 tokens there) is captured, run and closed (its next prefill plans
     * again, into the same operators); an eager prefill held as much until it ended.
     */
    static final long KEEP_PREFILL_BYTES = 512L << 20;

    /**
     * At most this many captured prefills are kept, however small: a caller feeding one token at a time at ever new
     * positions (nextToken without generate) makes a capture per position that is never run again.
     */
    static final int KEEP_PREFILLS = 16;

    /** Captured prefills by key, least recently used first; their estimated bytes together in {@link #keptPrefillBytes}. */
    private final LinkedHashMap<Long, Prefill> prefills = new LinkedHashMap<>(8, 0.75f, true);
    private long keptPrefillBytes;

    /** Keeps {@code c} under {@code key}, giving back the least recently used captures past {@link #KEEP_PREFILL_BYTES}. */
    private void keep(long key, Prefill c) {
        if (c.bytes > KEEP_PREFILL_BYTES) {
            c.close();
            return;
        }
        prefills.put(key, c);
        keptPrefillBytes += c.bytes;
        for (var it = prefills.entrySet().iterator(); (keptPrefillBytes > KEEP_PREFILL_BYTES || prefills.size() > KEEP_PREFILLS) && it.hasNext(); ) {
            Prefill old = it.next().getValue();
            it.remove();
            keptPrefillBytes -= old.bytes;
            old.close();
        }
    }

    /** The causal bias [t, p + t] of t tokens at position p (token i sees cache rows 0 .. p + i); null for one token. */
    private static Tensor causalBias(TensorScope scope, int p, int t) {
        if (t == 1) return null;
        int s = p + t;
        float[] m = new float[t * s];
        for (int i = 0; i < t; i++) for (int j = p + i + 1; j < s; j++) m[i * s + j] = -1e30f;
        return scope.tensor(m, t, s);
    }

    /** One prefill shape (cache set, position, length) captured on the GPU backend; its ids are written before each run. */
    private final class Prefill implements AutoCloseable {
        final TensorScope scope;
        final Tensor ids;
        final Replay replay;
        /** Estimated bytes of the capture's intermediates (see {@link #KEEP_PREFILL_BYTES}). */
        final long bytes;

        Prefill(int set, int p, int t, boolean lastOnly) {
            scope = TensorScope.open(backend);
            try {
                ids = scope.zeros(DType.I64, t);
                Tensor bias = causalBias(scope, p, t);
                scope.sync();
                replay = backend.captureReturning(() -> forward(set, p, t, ids, bias, lastOnly));
                // A CPU capture (tests: captureOnEveryBackend) makes its outputs at its first run, in the innermost
                // scope: this one, not run()'s. Its zero ids write cache rows p.. that the real run rewrites next.
                if (!(backend instanceof GpuBackend)) replay.run();
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
            long perToken = (long) config.layers() * (4L * config.hiddenSize() * 12 + 2L * config.intermediateSize() * 8
                    + (long) (config.heads() + 2 * config.kvHeads()) * config.headDim() * 8);
            bytes = t * perToken;
        }

        <T> T run(long[] idx, Function<List<Tensor>, T> read) {
            try (TensorScope inputs = TensorScope.open(backend)) {
                ids.copyFrom(inputs.tensor(idx, idx.length));
                replay.run();
                return read.apply(replay.outputs());   // reading syncs: the upload was consumed
            }
        }

        @Override
        public void close() {
            replay.close();
            scope.close();
        }
    }

    /**
     * The prefill's program: {@code t} tokens ({@code ids}, I64 [t]) at position {@code p} over cache set
     * {@code set}, with the causal {@code bias} (null for one token); returns [logits] or, {@code lastOnly},
     * [the last position's logits [1, vocab], their argmax].
     */
    private List<Tensor> forward(int set, int p, int t, Tensor ids, Tensor bias, boolean lastOnly) {
        int s = p + t;
        Tensor x = layerStack(embed.embedding(ids).to(DType.F32), t, ropeTable.narrow(0, p, t), bias,
                (i, qk, r, v) -> {
                    Tensor kc = keyCache[set][i], vc = valueCache[set][i];
                    int nh = config.heads(), kvh = config.kvHeads(), d = config.headDim();
                    // q's and k's heads are adjacent in a qkv row: their RoPE is one elementwise task
                    Tensor rot = rope(qk, r);
                    kc.narrow(1, p, t).copyFrom(rot.narrow(1, nh, kvh).reshape(t, kvh, d).transpose(0, 1));
                    vc.narrow(1, p, t).copyFrom(v);
                    return new Tensor[]{grouped(rot.narrow(1, 0, nh), t), kc.narrow(1, 0, s), vc.narrow(1, 0, s)};
                });
        if (lastOnly) x = x.narrow(0, t - 1, 1);
        Tensor logits = linear(x.rmsNorm(new long[]{config.hiddenSize()}, finalNorm, config.rmsNormEps()), lmHead);
        return lastOnly ? List.of(logits, logits.argmax()) : List.of(logits);
    }

    private void checkToken(int id) {
        if (id < 0 || id >= config.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + config.vocabSize());
    }

    /**
     * Applies RoPE to a layer's new queries and keys (before RoPE, the query heads then the key heads of each token,
     * [t, heads + kv_heads, 2, d/2], with their RoPE factor rows {@code r}) and writes the keys and values
     * ([kv_heads, t, d]) into its cache;
     * returns the queries token-major and grouped by KV head ([t, kv_heads, heads / kv_heads, 1, d], f32) and the
     * keys and values to attend over.
     */
    @FunctionalInterface
    private interface CacheUpdate {
        Tensor[] write(int layer, Tensor queriesAndKeys, Tensor r, Tensor values);
    }

    /** Queries after RoPE [t, heads, 2, d/2] as {@link #attendGrouped}'s [t, kv_heads, heads / kv_heads, 1, d]. */
    private Tensor grouped(Tensor q, int t) {
        int nh = config.heads(), kvh = config.kvHeads(), d = config.headDim();
        return q.reshape(t, kvh, nh / kvh, 1, d);
    }

    /**
     * Grouped-query attention of the queries q [heads, t, d] (f32) over a cache's keys [kvHeads, S, d] (f32) and
     * values (the compute dtype, the result's), plus {@code bias} (null for none; broadcast from [t, S] or [S]): one attention op (one task on the
     * GPU, where scores, softmax and @ values were three), q viewed as [kvHeads, group, t, d] over the group's
     * keys and values expanded (no copy); returns [t, heads * d]. Package-private for DecodeBreakdownBench, which
     * times it alone.
     */
    static Tensor attend(Tensor q, Tensor keys, Tensor values, Tensor bias) {
        long nh = q.size(0), t = q.size(1), d = q.size(2), kvh = keys.size(0);
        return attendGrouped(q.transpose(0, 1).reshape(t, kvh, nh / kvh, 1, d), keys, values, bias);
    }

    /**
     * {@link #attend} of queries token-major and grouped by KV head, [t, kv_heads, heads / kv_heads, 1, d]: every
     * (token, query head) is a batch of one query row over its KV head's keys and values, broadcast over the
     * tokens and the group, so the output [t, kv_heads, group, 1, d] is already the [t, heads * d] the o projection
     * reads (head-major, [heads, t, d], it took a copy task on each layer's chain for t > 1); each row is computed
     * as before (attention runs a tile per query row either way).
     */
    static Tensor attendGrouped(Tensor q, Tensor keys, Tensor values, Tensor bias) {
        long t = q.size(0), kvh = q.size(1), rep = q.size(2), d = q.size(4), s = keys.size(1), nh = kvh * rep;
        long[] batch = {t, kvh, rep, s, d};
        Tensor b = bias != null && bias.rank() == 2 ? bias.view(t, 1, 1, 1, s) : bias;
        Tensor out = q.attention(keys.unsqueeze(0).unsqueeze(2).expand(batch), values.unsqueeze(0).unsqueeze(2).expand(batch),
                b, 1.0 / Math.sqrt(d));
        return out.view(t, nh * d);
    }

    /**
     * The decoder layers over {@code t} new tokens x [t, hidden] (f32): {@code r} are their RoPE factor rows
     * [t, 3, 2, d/2], {@code bias} (null for none) is added to the scores of every query head, broadcast from
     * [t, S] or [S]. Per layer: norm, one qkv product, RoPE of q and k with the cache writes ({@link CacheUpdate}:
     * one elementwise task in the decode step), attention (one op: {@link #attendGrouped}), o, residual + norm, one
     * gate/up product, SwiGLU, down.
     */
    private Tensor layerStack(Tensor x, int t, Tensor r, Tensor bias, CacheUpdate cache) {
        int nh = config.heads(), kvh = config.kvHeads(), d = config.headDim(), half = d / 2;
        long inter = config.intermediateSize();
        long[] hidden = {config.hiddenSize()};
        for (int i = 0; i < layers.length; i++) {
            Layer l = layers[i];
            Tensor h = x.rmsNorm(hidden, l.inputNorm(), config.rmsNormEps());
            Tensor qkv = linear(h, l.wqkv());   // [t, (nh + 2 kvh) * d]
            // RoPE of q and k in the cache update
            Tensor qk = qkv.narrow(1, 0, (long) (nh + kvh) * d).view(t, nh + kvh, 2, half);
            Tensor v = qkv.narrow(1, (long) (nh + kvh) * d, (long) kvh * d).view(t, kvh, d).transpose(0, 1);
            Tensor[] qkvAfter = cache.write(i, qk, r, v);
            x = x.add(linear(attendGrouped(qkvAfter[0], qkvAfter[1], qkvAfter[2], bias), l.wo()));
            Tensor h2 = x.rmsNorm(hidden, l.postNorm(), config.rmsNormEps());
            Tensor gu = linear(h2, l.wgu());
            Tensor act = gu.narrow(1, 0, inter).to(DType.F32).silu().mul(gu.narrow(1, inter, inter));
            x = x.add(linear(act, l.down()));
        }
        return x;
    }

    /**
     * One decode step whose shapes do not depend on the position, so that the GPU backend captures it once and
     * replays it for every token. The token and the position are one-element device tensors; the step picks its
     * RoPE row with index_select, writes the cache set it does not read with {@code where(row == position, new,
     * old)} over the whole cache (no position on the host), attends over the whole cache with a bias of -1e30 on
     * the rows after the position (their weights are then exactly zero), and ends by writing its argmax into the
     * token and position + 1 into the position: greedy decoding uploads nothing per token, only reads the argmax.
     * Two captures, one per cache set (replay c reads set c and writes the other). The cost is that every step
     * streams the whole cache (maxSequence rows), which is why the command line sizes the cache to prompt + new
     * tokens. On the CPU backend the same program runs eagerly.
     */
    private final class FixedStep implements AutoCloseable {
        private final TensorScope scope;
        private final Tensor token, pos, rows;
        /** True on the cache's last rep rows, where a step leaves its query heads after RoPE. */
        private final Tensor queryRows;
        private final GpuReplay[] replay = new GpuReplay[2];
        /** Where a step that is not replayed leaves [logits, argmax], per cache set (a launched step's, until read). */
        private final Tensor[][] eagerOut = new Tensor[2][];
        private final String mode;
        /** What token and pos hold on the device now, -1 where unknown (then the next step uploads it). */
        private long deviceToken = -1, devicePos = -1;

        FixedStep() {
            ensureCaches();
            scope = TensorScope.open(backend);
            String how;
            try {
                token = scope.zeros(DType.I64, 1);
                pos = scope.zeros(DType.I64, 1);
                rows = scope.arange(cacheRows);
                queryRows = rows.ge((long) (cacheRows - config.heads() / config.kvHeads()));
                for (int c = 0; c < 2; c++) eagerOut[c] = new Tensor[]{scope.zeros(compute, 1, config.vocabSize()), scope.zeros(DType.I64)};
                scope.sync();
                if (backend instanceof GpuBackend gpu) {
                    try {
                        for (int c = 0; c < 2; c++) {
                            int set = c;
                            replay[c] = gpu.captureReturning(() -> program(set));
                        }
                        how = "captured once (" + replay[0].nodeCount() + " ops, " + replay[0].taskCount()
                                + " tasks; one capture per cache set), replayed per token";
                    } catch (RuntimeException e) {
                        // the same program still runs, recorded anew per token; say so rather than fail the decode
                        for (int c = 0; c < 2; c++) {
                            if (replay[c] != null) replay[c].close();
                            replay[c] = null;
                        }
                        how = "recorded per token (capture failed: " + e.getMessage() + ")";
                    }
                } else {
                    how = "recorded per token (" + backend.name() + " backend)";
                }
            } catch (RuntimeException e) {
                scope.close();
                throw e;
            }
            mode = how;
        }

        /** [logits [1, vocab], argmax] of the token at the position, reading cache set {@code c}. */
        private List<Tensor> program(int c) {
            // 0 on the position's cache row: read by every layer's cache write, so computed before pos moves on
            Tensor hit = rows.sub(pos);
            boolean oneTask = oneTaskCacheWrite;
            Tensor row = oneTask ? null : rows.eq(pos);
            int kvh = config.kvHeads(), half = config.headDim() / 2, rep = config.heads() / kvh, blocks = cacheRows / rep;
            // the cache's rows as [blocks, rep]: a KV head's rep query heads [kvh, 1, rep, ..] broadcast over them
            long[] full = {kvh, blocks, rep, 2, half};
            Tensor bias = rows.gt(pos).to(DType.F32).mul(-1e30).narrow(0, 0, maxSequence);
            Tensor r = ropeTable.indexSelect(0, pos);   // before the embedding, which then fuses into the first norm
            pos.copyFrom(pos.add(1L));   // here, off the chain of dependent tasks, once the reads above have run
            Tensor x = layerStack(embed.embedding(token).to(DType.F32), 1, r, bias,
                    (i, qk, rr, v) -> {
                        Tensor kc = keyCache[1 - c][i], vc = valueCache[1 - c][i];
                        Tensor q = qk.narrow(1, 0, config.heads()), k = qk.narrow(1, config.heads(), kvh);
                        if (!oneTask) return threeTaskCacheWrite(c, i, q, k, rr, v, row);
                        // One elementwise task of the cache's shape [kvh, blocks, rep, 2, d/2] does the layer's
                        // RoPE and cache writes: the new key's RoPE lands on the position's row, the query heads'
                        // RoPE on the last rep rows (queryRows), which the attention then reads as its queries, and
                        // the value on the position's row of the value cache; every other row is copied from the
                        // set the step reads. The row choice is a member the where's read (sel), which is what
                        // lets the task grow past 4 operands into an operand table (only data-connected members
                        // share one).
                        Tensor sel = hit.view(1, blocks, rep, 1, 1).expand(full).eq(0L);
                        Tensor c0 = rr.select(1, 0).view(1, 1, 1, 2, half), c1 = rr.select(1, 1).view(1, 1, 1, 2, half),
                                c2 = rr.select(1, 2).view(1, 1, 1, 2, half);
                        Tensor k5 = k.view(kvh, 1, 1, 2, half), q5 = q.view(kvh, 1, rep, 2, half);
                        Tensor rotK = k5.expand(full).mul(c0).add(k5.narrow(3, 1, 1).expand(full).mul(c1))
                                .add(k5.narrow(3, 0, 1).expand(full).mul(c2));
                        Tensor rotQ = q5.expand(full).mul(c0).add(q5.narrow(3, 1, 1).expand(full).mul(c1))
                                .add(q5.narrow(3, 0, 1).expand(full).mul(c2));
                        Tensor keys = Tensor.where(sel, rotK, keyCache[c][i].view(full));
                        kc.view(full).copyFrom(Tensor.where(queryRows.view(1, blocks, rep, 1, 1), rotQ, keys));
                        vc.view(full).copyFrom(Tensor.where(sel, v.reshape(kvh, 1, 1, 2, half).expand(full), valueCache[c][i].view(full)));
                        Tensor queries = kc.narrow(1, cacheRows - rep, rep).unsqueeze(0).unsqueeze(3);   // [1, kvh, rep, 1, d]
                        return new Tensor[]{queries, kc.narrow(1, 0, maxSequence), vc.narrow(1, 0, maxSequence)};
                    });
            Tensor logits = linear(x.rmsNorm(new long[]{config.hiddenSize()}, finalNorm, config.rmsNormEps()), lmHead);
            Tensor next = logits.argmax();
            token.copyFrom(next);
            return List.of(logits, next);
        }

        /**
         * Session 16's form of a layer's RoPE and cache writes (-Dgpuos.llama.oneTaskCacheWrite=false, for the A/B):
         * q's RoPE, the key's RoPE with its cache write, the value's cache write, three elementwise tasks.
         */
        private Tensor[] threeTaskCacheWrite(int c, int i, Tensor q, Tensor k, Tensor rr, Tensor v, Tensor row) {
            int kvh = config.kvHeads(), d = config.headDim(), half = d / 2;
            Tensor kc = keyCache[1 - c][i], vc = valueCache[1 - c][i];
            Tensor queries = grouped(rope(q, rr), 1);
            long[] full = {kvh, cacheRows, 2, half};
            Tensor k4 = k.view(kvh, 1, 2, half);
            Tensor rot = k4.expand(full).mul(rr.select(1, 0).view(1, 1, 2, half))
                    .add(k4.narrow(2, 1, 1).expand(full).mul(rr.select(1, 1).view(1, 1, 2, half)))
                    .add(k4.narrow(2, 0, 1).expand(full).mul(rr.select(1, 2).view(1, 1, 2, half)));
            kc.view(full).copyFrom(Tensor.where(row.view(1, cacheRows, 1, 1), rot, keyCache[c][i].view(full)));
            vc.copyFrom(Tensor.where(row.view(1, cacheRows, 1), v, valueCache[c][i]));
            return new Tensor[]{queries, kc.narrow(1, 0, maxSequence), vc.narrow(1, 0, maxSequence)};
        }

        /**
         * Launches the step for {@code id} at position {@code p} (the cache then holds p + 1 rows); its outputs
         * [logits, argmax], to read later. A replayed step returns without waiting.
         */
        List<Tensor> launch(int id, int p) {
            checkToken(id);
            if (p >= maxSequence) throw new IllegalArgumentException("position " + p + " is past the KV cache of " + maxSequence + " positions");
            // a released upload is reused only after every task that could read it completed: no wait needed here
            try (TensorScope inputs = TensorScope.open(backend)) {
                if (deviceToken != id) token.copyFrom(inputs.tensor(new long[]{id}, 1));
                if (devicePos != p) pos.copyFrom(inputs.tensor(new long[]{p}, 1));
                return run(p);
            }
        }

        /** Launches the step at {@code p} on the token the previous step wrote into the device's token (its argmax). */
        List<Tensor> launchNext(int p) {
            if (devicePos != p) throw new IllegalStateException("the device's position is " + devicePos + ", not " + p);
            if (p >= maxSequence) throw new IllegalArgumentException("position " + p + " is past the KV cache of " + maxSequence + " positions");
            return run(p);
        }

        /**
         * One step on the device's token and position: replayed, or (no capture) run as recorded ops whose results
         * are copied into {@link #eagerOut} of the cache set, so that they outlive the step's scope as a replay's
         * outputs do (a launched step's outputs are read before the step after next, of the same set, runs).
         */
        private List<Tensor> run(int p) {
            deviceToken = -1;   // the step writes its argmax there
            devicePos = -1;
            List<Tensor> out;
            GpuReplay r = replay[current];
            if (r != null) {
                r.run();
                out = r.outputs();
            } else {
                Tensor[] o = eagerOut[current];
                try (TensorScope step = TensorScope.open(backend)) {
                    List<Tensor> got = program(current);
                    o[0].copyFrom(got.get(0));
                    o[1].copyFrom(got.get(1));
                }
                out = List.of(o);
            }
            current ^= 1;
            devicePos = p + 1;
            return out;
        }

        /** Runs {@code id} at position {@code p} and reads the outputs with {@code read}. */
        private <T> T next(int id, int p, java.util.function.Function<List<Tensor>, T> read) {
            return read.apply(launch(id, p));
        }

        int next(int id, int p, Sampling sampling) {
            if (!sampling.isGreedy()) return next(id, p, out -> sampling.pick(out.get(0).toFloatArray()));
            int chosen = next(id, p, out -> (int) out.get(1).longItem());
            deviceToken = chosen;   // the step wrote it into the token: the next step's input is already there
            return chosen;
        }

        float[] logits(int id, int p) {
            return next(id, p, out -> out.get(0).toFloatArray());
        }

        @Override
        public void close() {
            for (GpuReplay r : replay) if (r != null) r.close();   // gives the task templates back
            scope.close();
        }
    }

    @Override
    public void close() {
        if (fixedStep != null) fixedStep.close();
        for (Prefill c : prefills.values()) c.close();
        prefills.clear();
        keptPrefillBytes = 0;
        weights.close();
    }
}
