package dev.gpuos.model.tokenizer;

/**
 * The character classes Hugging Face tokenizers (Rust) uses, spelled out where Java's own predicates differ:
 * Rust's {@code char::is_whitespace} is the Unicode White_Space property (Java's {@code isWhitespace} excludes the
 * no-break spaces and includes U+001C..U+001F), and the "other" and punctuation classes are general categories.
 */
final class UnicodeClasses {
    private UnicodeClasses() {}

    /** Unicode White_Space, as Rust's char::is_whitespace. */
    static boolean isWhiteSpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    /** General category C* other than the format characters' cousins: Cc, Cf, Cn, Co, Cs (Rust is_other). */
    static boolean isOther(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE, Character.SURROGATE -> true;
            default -> false;
        };
    }

    /** General category P* (Pc, Pd, Pe, Pf, Pi, Po, Ps). */
    static boolean isPunctuation(int c) {
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.END_PUNCTUATION,
                 Character.FINAL_QUOTE_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION,
                 Character.START_PUNCTUATION -> true;
            default -> false;
        };
    }

    static boolean isAsciiPunctuation(int c) {
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    }

    /** BERT's punctuation: ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~) or category P*. */
    static boolean isBertPunctuation(int c) {
        return isAsciiPunctuation(c) || isPunctuation(c);
    }

    /** The CJK ideograph blocks that BERT surrounds with spaces (tokenizers' is_chinese_char). */
    static boolean isChineseChar(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

    static boolean isNonSpacingMark(int c) {
        return Character.getType(c) == Character.NON_SPACING_MARK;
    }
}
