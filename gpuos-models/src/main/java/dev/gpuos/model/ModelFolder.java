package dev.gpuos.model;

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

    static void requireType(JsonFile config, String expected) {
        String type = config.string("model_type");
        if (!type.equals(expected)) {
            throw config.error("model_type", "expected '" + expected + "', got '" + type + "'");
        }
    }
}
