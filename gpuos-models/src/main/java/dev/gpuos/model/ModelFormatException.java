package dev.gpuos.model;

import java.nio.file.Path;

/**
 * A model folder that cannot be used: a missing or truncated file, a field that is absent or has the wrong
 * type, an unsupported architecture or dtype, a tensor whose shape disagrees with the config. The message names
 * the file and the field, so the user can fix the input without reading our code.
 */
public class ModelFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "{file}: {field}: {problem}". */
    public static ModelFormatException at(Path file, String field, String problem) {
        return new ModelFormatException(file + ": " + field + ": " + problem);
    }
}
