/** Hugging Face model folders on the tensor API: safetensors, tokenizer.json, BERT and Llama. */
module dev.gpuos.models {
    requires transitive dev.gpuos.core;
    requires com.google.gson;

    exports dev.gpuos.model;
    exports dev.gpuos.model.tokenizer;
}
