package dev.gpuos.model;

import dev.gpuos.model.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** What a Hugging Face model folder holds, told by its config.json. */
public final class ModelFolder {
    private ModelFolder() {}

    public enum Architecture { BERT, LLAMA }

    public static Architecture architecture(Path folder) {
        if (!Files.isDirectory(folder)) throw new ModelFormatException(folder + ": not a folder (expected a Hugging Face model folder)");
        JsonFile c = JsonFile.read(folder.resolve("config.json"));
        String type = c.string("model_type");
        return switch (type) {
            case "bert" -> Architecture.BERT;
            case "llama" -> Architecture.LLAMA;
            default -> throw c.error("model_type", "unsupported architecture '" + type + "' (supported: bert, llama)");
        };
    }

    /**
     * The weights' dtype config.json declares ("dtype" in transformers 5, "torch_dtype" before), or null when it
     * declares none.
     */
    static SafetensorsFile.StoredType declaredDType(JsonFile config) {
        String field = config.has("dtype") ? "dtype" : config.has("torch_dtype") ? "torch_dtype" : null;
        if (field == null) return null;
        String name = config.string(field);
        return switch (name) {
            case "float32" -> SafetensorsFile.StoredType.F32;
            case "bfloat16" -> SafetensorsFile.StoredType.BF16;
            case "float16" -> SafetensorsFile.StoredType.F16;
            case "float64" -> SafetensorsFile.StoredType.F64;
            default -> throw config.error(field, "unsupported dtype '" + name + "' (supported: float32, bfloat16, float16, float64)");
        };
    }

    static void requireType(JsonFile config, String expected) {
        String type = config.string("model_type");
        if (!type.equals(expected)) {
            throw config.error("model_type", "expected '" + expected + "', got '" + type + "'");
        }
    }

    /** The folder's tokenizer.json, refused when it has ids past the model's embedding table. */
    static Tokenizer tokenizer(Path folder, int vocabSize) {
        Tokenizer tokenizer = Tokenizer.load(folder.resolve("tokenizer.json"));
        if (tokenizer.vocabSize() > vocabSize) {
            throw ModelFormatException.at(folder.resolve("tokenizer.json"), "model.vocab", "has ids up to "
                    + (tokenizer.vocabSize() - 1) + " but config.json vocab_size is " + vocabSize);
        }
        return tokenizer;
    }
}
