package dev.gpuos.model.tokenizer;

import java.util.List;
import java.util.Locale;

/** The {@code normalizer} of tokenizer.json: rewrites the text before it is split into words. */
sealed interface Normalizer {
    String normalize(String text);

    /** BertNormalizer, step for step as tokenizers' normalizers/bert.rs: clean, pad CJK, strip accents, lowercase. */
    record Bert(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) implements Normalizer {
        @Override
        public String normalize(String text) {
            String s = text;
            if (cleanText) {
                StringBuilder b = new StringBuilder(s.length());
                s.codePoints().forEach(c -> {
                    boolean control = c != '\t' && c != '\n' && c != '\r' && UnicodeClasses.isOther(c);
                    if (c == 0 || c == 0xFFFD || control) return;
                    b.appendCodePoint(c == '\t' || c == '\n' || c == '\r' || UnicodeClasses.isWhiteSpace(c) ? ' ' : c);
                });
                s = b.toString();
            }
            if (handleChineseChars) {
                StringBuilder b = new StringBuilder(s.length());
                s.codePoints().forEach(c -> {
                    if (UnicodeClasses.isChineseChar(c)) b.append(' ').appendCodePoint(c).append(' ');
                    else b.appendCodePoint(c);
                });
                s = b.toString();
            }
            if (stripAccents) s = StripAccents.INSTANCE.normalize(s);
            if (lowercase) s = Lowercase.INSTANCE.normalize(s);
            return s;
        }
    }

    /** NFD, then drop non-spacing marks (category Mn). */
    enum StripAccents implements Normalizer {
        INSTANCE;

        @Override
        public String normalize(String text) {
            String d = java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD);
            StringBuilder b = new StringBuilder(d.length());
            d.codePoints().filter(c -> !UnicodeClasses.isNonSpacingMark(c)).forEach(b::appendCodePoint);
            return b.toString();
        }
    }

    /**
     * Rust's char::to_lowercase per code point: the full mapping (U+0130 becomes "i" + U+0307) but no context, so
     * a final capital sigma becomes σ, not ς as String.toLowerCase would make it.
     */
    enum Lowercase implements Normalizer {
        INSTANCE;

        @Override
        public String normalize(String text) {
            StringBuilder b = new StringBuilder(text.length());
            text.codePoints().forEach(c -> {
                if (c < 0x80) b.append((char) Character.toLowerCase(c));
                else b.append(new String(Character.toChars(c)).toLowerCase(Locale.ROOT));
            });
            return b.toString();
        }
    }

    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String text) { return java.text.Normalizer.normalize(text, form); }
    }

    record Sequence(List<Normalizer> steps) implements Normalizer {
        @Override
        public String normalize(String text) {
            String s = text;
            for (Normalizer n : steps) s = n.normalize(s);
            return s;
        }
    }
}
