package dev.gpuos.bench;

/**
 * The user typed arguments a command does not accept. Kept apart from {@link IllegalArgumentException}
 * so that a bug deep inside a command still shows its stack trace instead of a one-line usage hint.
 */
public final class CliUsageException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CliUsageException(String message) {
        super(message);
    }
}
