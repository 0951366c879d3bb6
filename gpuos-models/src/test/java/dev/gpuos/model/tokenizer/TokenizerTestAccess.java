package dev.gpuos.model.tokenizer;

/** Lets tests outside this package build byte-level vocabularies. */
public final class TokenizerTestAccess {
    private TokenizerTestAccess() {}

    /** The printable character byte {@code b} stands for in a byte-level vocabulary. */
    public static String byteSymbol(int b) {
        return ByteLevel.symbolOf(b);
    }
}
