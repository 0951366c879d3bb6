package dev.gpuos.model;

import java.nio.file.Path;

/**
 * The parts of a Llama config.json the decoder needs ({@code dtype}: what the weights must be stored as, or null
 * when config.json does not say). RoPE parameters come from transformers 5's
 * {@code rope_parameters} or the older {@code rope_theta} + {@code rope_scaling}; scaling types default and llama3.
 */
public record LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                          int headDim, int maxPositions, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          boolean tieWordEmbeddings, int bosTokenId, int[] eosTokenIds, SafetensorsFile.StoredType dtype) {

    /** Llama 3's frequency-dependent RoPE scaling (rope_type "llama3"); null means unscaled ("default"). */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

    public static LlamaConfig read(Path folder) {
        JsonFile c = JsonFile.read(folder.resolve("config.json"));
        ModelFolder.requireType(c, "llama");
        int hidden = c.integer("hidden_size", 1), heads = c.integer("num_attention_heads", 1);
        int kvHeads = c.integer("num_key_value_heads", 1, heads);
        if (heads % kvHeads != 0) throw c.error("num_key_value_heads", kvHeads + " does not divide num_attention_heads " + heads);
        int headDim = c.integer("head_dim", 1, hidden / heads);
        if (headDim % 2 != 0) throw c.error("head_dim", "RoPE needs an even head_dim, got " + headDim);
        String act = c.string("hidden_act", "silu");
        if (!act.equals("silu")) throw c.error("hidden_act", "unsupported activation '" + act + "' (Llama uses silu)");
        if (c.bool("attention_bias", false)) throw c.error("attention_bias", "attention biases are not supported");
        if (c.bool("mlp_bias", false)) throw c.error("mlp_bias", "MLP biases are not supported");
        double theta;
        RopeScaling scaling;
        if (c.has("rope_parameters")) {
            JsonFile rp = c.object("rope_parameters");
            theta = rp.finite("rope_theta", c.finite("rope_theta", 10000.0, 0, false), 0, false);
            scaling = ropeScaling(rp);
        } else {
            theta = c.finite("rope_theta", 10000.0, 0, false);
            scaling = c.has("rope_scaling") ? ropeScaling(c.object("rope_scaling")) : null;
        }
        int[] eos;
        if (!c.has("eos_token_id")) {
            eos = new int[0];
        } else if (c.get("eos_token_id").isJsonArray()) {
            var arr = c.array("eos_token_id");
            eos = new int[arr.size()];
            for (int i = 0; i < eos.length; i++) eos[i] = c.integerAt("eos_token_id", i, 0);
        } else {
            eos = new int[]{c.integer("eos_token_id", 0)};
        }
        return new LlamaConfig(c.integer("vocab_size", 1), hidden, c.integer("intermediate_size", 1),
                c.integer("num_hidden_layers", 1), heads, kvHeads, headDim, c.integer("max_position_embeddings", 1, 2048),
                c.finite("rms_norm_eps", 1e-6, 0, true), theta, scaling, c.bool("tie_word_embeddings", false),
                c.integer("bos_token_id", 0, -1), eos, ModelFolder.declaredDType(c));
    }

    private static RopeScaling ropeScaling(JsonFile r) {
        String type = r.has("rope_type") ? r.string("rope_type") : r.string("type", "default");
        return switch (type) {
            case "default" -> null;
            case "llama3" -> {
                for (String key : new String[]{"factor", "low_freq_factor", "high_freq_factor"}) r.get(key);   // required
                var s = new RopeScaling(r.finite("factor", 0, 0, false), r.finite("low_freq_factor", 0, 0, false),
                        r.finite("high_freq_factor", 0, 0, false), r.integer("original_max_position_embeddings", 1));
                // transformers divides by (high - low) for the band between them
                if (!(s.highFreqFactor() > s.lowFreqFactor())) {
                    throw r.error("high_freq_factor", s.highFreqFactor() + " must exceed low_freq_factor " + s.lowFreqFactor());
                }
                yield s;
            }
            default -> throw r.error("rope_type", "unsupported RoPE scaling '" + type + "' (supported: default, llama3)");
        };
    }

    /**
     * The rotary inverse frequencies, as transformers computes them (in f32): base^(-2i/d), then for llama3 divided
     * by the factor for wavelengths above original/low_freq_factor, interpolated between the two bands.
     */
    public float[] inverseFrequencies() {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / headDim;
            inv[i] = 1.0f / (float) Math.pow(ropeTheta, exponent);
        }
        if (ropeScaling == null) return inv;
        RopeScaling s = ropeScaling;
        double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor(), highWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            float f = inv[i];
            double wavelen = 2 * Math.PI / f;
            float scaled = wavelen > lowWavelen ? (float) (f / s.factor()) : f;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                float smooth = (float) ((s.originalMaxPositions() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor()));
                scaled = (1 - smooth) * scaled / (float) s.factor() + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }
}
