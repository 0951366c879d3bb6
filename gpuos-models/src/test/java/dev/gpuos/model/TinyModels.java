package dev.gpuos.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes small random model folders (config.json, model.safetensors, tokenizer.json) for tests that need a model
 * but no reference: load errors, and self-consistency (cached decode vs. full prefill, batched vs. single).
 */
final class TinyModels {
    private TinyModels() {}

    static final int HIDDEN = 32, LAYERS = 2, HEADS = 4, KV_HEADS = 2, INTER = 48, VOCAB = 300, MAX_POS = 64;

    static float[] random(Random r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    static float[] ones(Random r, int n) {
        float[] v = random(r, n, 0.1);
        for (int i = 0; i < n; i++) v[i] += 1;
        return v;
    }

    /** A Llama folder; {@code config} may be edited by the caller before it is written. */
    static JsonObject llamaConfig(boolean tie) {
        JsonObject c = new JsonObject();
        c.addProperty("model_type", "llama");
        c.addProperty("vocab_size", VOCAB);
        c.addProperty("hidden_size", HIDDEN);
        c.addProperty("intermediate_size", INTER);
        c.addProperty("num_hidden_layers", LAYERS);
        c.addProperty("num_attention_heads", HEADS);
        c.addProperty("num_key_value_heads", KV_HEADS);
        c.addProperty("max_position_embeddings", MAX_POS);
        c.addProperty("rms_norm_eps", 1e-5);
        c.addProperty("tie_word_embeddings", tie);
        c.addProperty("bos_token_id", 256);
        c.addProperty("eos_token_id", 257);
        JsonObject rope = new JsonObject();
        rope.addProperty("rope_type", "llama3");
        rope.addProperty("rope_theta", 500000.0);
        rope.addProperty("factor", 8.0);
        rope.addProperty("low_freq_factor", 1.0);
        rope.addProperty("high_freq_factor", 4.0);
        rope.addProperty("original_max_position_embeddings", 16);
        c.add("rope_parameters", rope);
        return c;
    }

    static Path writeLlama(Path dir, JsonObject config, String dtype, long seed) throws IOException {
        return writeLlama(dir, config, dtype, seed, false);
    }

    /**
     * As {@link #writeLlama(Path, JsonObject, String, long)}; {@code scattered} stores the same values with each
     * layer's k, v before q and up before gate, so that no stacked weight's parts lie back to back in q, k, v or
     * gate, up order (the loader then stacks them on the host rather than uploading one slice of the file).
     */
    static Path writeLlama(Path dir, JsonObject config, String dtype, long seed, boolean scattered) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config.toString());
        Random r = new Random(seed);
        int h = HIDDEN, d = h / HEADS, q = HEADS * d, kv = KV_HEADS * d;
        SafetensorsWriter w = new SafetensorsWriter();
        w.add("model.embed_tokens.weight", dtype, new long[]{VOCAB, h}, random(r, VOCAB * h, 0.5));
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            w.add(p + "input_layernorm.weight", dtype, new long[]{h}, ones(r, h));
            float[] wq = random(r, q * h, 0.2), wk = random(r, kv * h, 0.2), wv = random(r, kv * h, 0.2);
            if (!scattered) w.add(p + "self_attn.q_proj.weight", dtype, new long[]{q, h}, wq);
            w.add(p + "self_attn.k_proj.weight", dtype, new long[]{kv, h}, wk);
            if (scattered) w.add(p + "self_attn.o_proj.weight", dtype, new long[]{h, q}, random(r, h * q, 0.2));
            w.add(p + "self_attn.v_proj.weight", dtype, new long[]{kv, h}, wv);
            if (scattered) w.add(p + "self_attn.q_proj.weight", dtype, new long[]{q, h}, wq);
            else w.add(p + "self_attn.o_proj.weight", dtype, new long[]{h, q}, random(r, h * q, 0.2));
            w.add(p + "post_attention_layernorm.weight", dtype, new long[]{h}, ones(r, h));
            float[] gate = random(r, INTER * h, 0.2), up = random(r, INTER * h, 0.2);
            if (!scattered) w.add(p + "mlp.gate_proj.weight", dtype, new long[]{INTER, h}, gate);
            w.add(p + "mlp.up_proj.weight", dtype, new long[]{INTER, h}, up);
            if (scattered) w.add(p + "mlp.gate_proj.weight", dtype, new long[]{INTER, h}, gate);
            w.add(p + "mlp.down_proj.weight", dtype, new long[]{h, INTER}, random(r, h * INTER, 0.2));
        }
        w.add("model.norm.weight", dtype, new long[]{h}, ones(r, h));
        if (!config.get("tie_word_embeddings").getAsBoolean()) {
            w.add("lm_head.weight", dtype, new long[]{VOCAB, h}, random(r, VOCAB * h, 0.5));
        }
        w.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("tokenizer.json"), byteLevelTokenizer(), StandardCharsets.UTF_8);
        return dir;
    }

    /** A BERT's sizes and the std of its random linear weights; {@link #TINY_BERT} is the fixtures' shape. */
    record BertShape(int vocab, int hidden, int layers, int heads, int inter, int maxPos, double linearStd) {}

    static final BertShape TINY_BERT = new BertShape(VOCAB, HIDDEN, LAYERS, HEADS, INTER, MAX_POS, 0.2);

    static JsonObject bertConfig() {
        return bertConfig(TINY_BERT);
    }

    static JsonObject bertConfig(BertShape s) {
        JsonObject c = new JsonObject();
        c.addProperty("model_type", "bert");
        c.addProperty("vocab_size", s.vocab());
        c.addProperty("hidden_size", s.hidden());
        c.addProperty("num_hidden_layers", s.layers());
        c.addProperty("num_attention_heads", s.heads());
        c.addProperty("intermediate_size", s.inter());
        c.addProperty("max_position_embeddings", s.maxPos());
        c.addProperty("type_vocab_size", 2);
        c.addProperty("layer_norm_eps", 1e-12);
        c.addProperty("hidden_act", "gelu");
        return c;
    }

    static Path writeBert(Path dir, JsonObject config, long seed) throws IOException {
        return writeBert(dir, config, seed, TINY_BERT);
    }

    /** A BertModel folder of {@code shape} with seeded random f32 weights and the tiny WordPiece tokenizer. */
    static Path writeBert(Path dir, JsonObject config, long seed, BertShape shape) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config.toString());
        Random r = new Random(seed);
        int h = shape.hidden(), inter = shape.inter(), vocab = shape.vocab(), maxPos = shape.maxPos();
        double std = shape.linearStd();
        SafetensorsWriter w = new SafetensorsWriter();
        w.add("embeddings.word_embeddings.weight", "F32", new long[]{vocab, h}, random(r, vocab * h, 0.5));
        w.add("embeddings.position_embeddings.weight", "F32", new long[]{maxPos, h}, random(r, maxPos * h, 0.5));
        w.add("embeddings.token_type_embeddings.weight", "F32", new long[]{2, h}, random(r, 2 * h, 0.5));
        w.add("embeddings.LayerNorm.weight", "F32", new long[]{h}, ones(r, h));
        w.add("embeddings.LayerNorm.bias", "F32", new long[]{h}, random(r, h, 0.05));
        for (int i = 0; i < shape.layers(); i++) {
            String p = "encoder.layer." + i + ".";
            for (String m : new String[]{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
                w.add(p + m + ".weight", "F32", new long[]{h, h}, random(r, h * h, std));
                w.add(p + m + ".bias", "F32", new long[]{h}, random(r, h, 0.05));
            }
            w.add(p + "attention.output.LayerNorm.weight", "F32", new long[]{h}, ones(r, h));
            w.add(p + "attention.output.LayerNorm.bias", "F32", new long[]{h}, random(r, h, 0.05));
            w.add(p + "intermediate.dense.weight", "F32", new long[]{inter, h}, random(r, inter * h, std));
            w.add(p + "intermediate.dense.bias", "F32", new long[]{inter}, random(r, inter, 0.05));
            w.add(p + "output.dense.weight", "F32", new long[]{h, inter}, random(r, h * inter, std));
            w.add(p + "output.dense.bias", "F32", new long[]{h}, random(r, h, 0.05));
            w.add(p + "output.LayerNorm.weight", "F32", new long[]{h}, ones(r, h));
            w.add(p + "output.LayerNorm.bias", "F32", new long[]{h}, random(r, h, 0.05));
        }
        w.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("tokenizer.json"), wordPieceTokenizer(), StandardCharsets.UTF_8);
        return dir;
    }

    /** Byte-level BPE over the 256 byte symbols (ids 0..255), a few merges, BOS 256 and EOS 257. */
    static String byteLevelTokenizer() {
        JsonObject t = new JsonObject();
        JsonArray added = new JsonArray();
        added.add(added(256, "<|begin_of_text|>"));
        added.add(added(257, "<|end_of_text|>"));
        t.add("added_tokens", added);
        t.add("normalizer", null);
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "ByteLevel");
        pre.addProperty("add_prefix_space", false);
        pre.addProperty("use_regex", true);
        t.add("pre_tokenizer", pre);
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        JsonObject vocab = new JsonObject();
        for (int b = 0; b < 256; b++) {
            vocab.addProperty(dev.gpuos.model.tokenizer.TokenizerTestAccess.byteSymbol(b), b);
        }
        String[][] merges = {{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"l", "l"}, {"o", "r"}};
        JsonArray m = new JsonArray();
        int id = 258;
        for (String[] pair : merges) {
            JsonArray p = new JsonArray();
            p.add(pair[0]);
            p.add(pair[1]);
            m.add(p);
            vocab.addProperty(pair[0] + pair[1], id++);
        }
        model.add("vocab", vocab);
        model.add("merges", m);
        t.add("model", model);
        JsonObject post = new JsonObject();
        post.addProperty("type", "TemplateProcessing");
        JsonArray single = new JsonArray();
        JsonObject bos = new JsonObject(), bosInner = new JsonObject();
        bosInner.addProperty("id", "<|begin_of_text|>");
        bosInner.addProperty("type_id", 0);
        bos.add("SpecialToken", bosInner);
        single.add(bos);
        JsonObject seq = new JsonObject(), seqInner = new JsonObject();
        seqInner.addProperty("id", "A");
        seqInner.addProperty("type_id", 0);
        seq.add("Sequence", seqInner);
        single.add(seq);
        post.add("single", single);
        post.add("pair", new JsonArray());
        t.add("post_processor", post);
        JsonObject dec = new JsonObject();
        dec.addProperty("type", "ByteLevel");
        t.add("decoder", dec);
        return t.toString();
    }

    static String wordPieceTokenizer() {
        JsonObject t = new JsonObject();
        JsonArray added = new JsonArray();
        String[] specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        for (int i = 0; i < specials.length; i++) added.add(added(i, specials[i]));
        t.add("added_tokens", added);
        JsonObject norm = new JsonObject();
        norm.addProperty("type", "BertNormalizer");
        norm.addProperty("lowercase", true);
        t.add("normalizer", norm);
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "BertPreTokenizer");
        t.add("pre_tokenizer", pre);
        JsonObject model = new JsonObject();
        model.addProperty("type", "WordPiece");
        model.addProperty("unk_token", "[UNK]");
        JsonObject vocab = new JsonObject();
        for (int i = 0; i < specials.length; i++) vocab.addProperty(specials[i], i);
        int id = specials.length;
        for (char c = 'a'; c <= 'z'; c++) {
            vocab.addProperty(String.valueOf(c), id++);
            vocab.addProperty("##" + c, id++);
        }
        for (String w : new String[]{"the", "quick", "brown", "fox", "dog", "##s", "run", "##ning", ".", ",", "!", "?"}) {
            vocab.addProperty(w, id++);
        }
        model.add("vocab", vocab);
        t.add("model", model);
        JsonObject post = new JsonObject();
        post.addProperty("type", "BertProcessing");
        JsonArray sep = new JsonArray(), cls = new JsonArray();
        sep.add("[SEP]");
        sep.add(3);
        cls.add("[CLS]");
        cls.add(2);
        post.add("sep", sep);
        post.add("cls", cls);
        t.add("post_processor", post);
        return t.toString();
    }

    private static JsonObject added(int id, String content) {
        JsonObject a = new JsonObject();
        a.addProperty("id", id);
        a.addProperty("content", content);
        a.addProperty("single_word", false);
        a.addProperty("lstrip", false);
        a.addProperty("rstrip", false);
        a.addProperty("normalized", false);
        a.addProperty("special", true);
        return a;
    }
}
