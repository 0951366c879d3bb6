package dev.gpuos.model;

import java.nio.file.Path;

/** The parts of a BERT config.json the encoder needs (all-MiniLM-L6-v2 and bert-base shapes). */
public record BertConfig(int vocabSize, int hiddenSize, int layers, int heads, int intermediateSize, int maxPositions,
                         int typeVocabSize, double layerNormEps, String hiddenAct, SafetensorsFile.StoredType dtype) {

    public int headDim() { return hiddenSize / heads; }

    public static BertConfig read(Path folder) {
        JsonFile c = JsonFile.read(folder.resolve("config.json"));
        ModelFolder.requireType(c, "bert");
        BertConfig cfg = new BertConfig(c.integer("vocab_size", 1), c.integer("hidden_size", 1), c.integer("num_hidden_layers", 1),
                c.integer("num_attention_heads", 1), c.integer("intermediate_size", 1), c.integer("max_position_embeddings", 1),
                c.integer("type_vocab_size", 1, 2), c.finite("layer_norm_eps", 1e-12, 0, true), c.string("hidden_act", "gelu"),
                ModelFolder.declaredDType(c));
        if (cfg.hiddenSize % cfg.heads != 0) {
            throw c.error("num_attention_heads", cfg.heads + " does not divide hidden_size " + cfg.hiddenSize);
        }
        if (!cfg.hiddenAct.equals("gelu") && !cfg.hiddenAct.equals("gelu_new") && !cfg.hiddenAct.equals("gelu_pytorch_tanh")
                && !cfg.hiddenAct.equals("relu")) {
            throw c.error("hidden_act", "unsupported activation '" + cfg.hiddenAct + "' (supported: gelu, gelu_new, gelu_pytorch_tanh, relu)");
        }
        String pe = c.string("position_embedding_type", "absolute");
        if (!pe.equals("absolute")) throw c.error("position_embedding_type", "unsupported '" + pe + "' (only absolute)");
        return cfg;
    }
}
