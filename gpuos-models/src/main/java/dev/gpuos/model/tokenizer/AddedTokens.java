package dev.gpuos.model.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code added_tokens} of tokenizer.json (special tokens such as [CLS] or <|eot_id|>): they are cut out of the
 * text before normalization and pre-tokenization, the leftmost and then longest match first, as tokenizers'
 * AddedVocabulary does. Tokens marked {@code normalized} are looked for in the normalized text instead.
 */
final class AddedTokens {
    record Token(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized, boolean special) {}

    /** A piece of the input: either an added token's id, or text for the normal pipeline. */
    record Piece(String text, int tokenId) {
        boolean isToken() { return text == null; }
    }

    private final List<Token> raw = new ArrayList<>();
    private final List<Token> normalized = new ArrayList<>();
    private final List<Token> all;

    AddedTokens(List<Token> tokens) {
        this.all = List.copyOf(tokens);
        for (Token t : tokens) {
            if (t.content().isEmpty()) continue;
            (t.normalized() ? normalized : raw).add(t);
        }
    }

    List<Token> all() { return all; }

    boolean hasNormalized() { return !normalized.isEmpty(); }

    List<Piece> splitRaw(String text) { return split(text, raw); }

    List<Piece> splitNormalized(String text) { return split(text, normalized); }

    private static List<Piece> split(String text, List<Token> tokens) {
        List<Piece> out = new ArrayList<>();
        if (tokens.isEmpty()) {
            out.add(new Piece(text, -1));
            return out;
        }
        int at = 0, textStart = 0;
        while (at < text.length()) {
            Token best = null;
            for (Token t : tokens) {
                if (text.startsWith(t.content(), at) && (best == null || t.content().length() > best.content().length())
                        && (!t.singleWord() || isWordBoundary(text, at, at + t.content().length()))) {
                    best = t;
                }
            }
            if (best == null) {
                at += Character.charCount(text.codePointAt(at));
                continue;
            }
            int start = at, end = at + best.content().length();
            if (best.lstrip()) while (start > textStart && Character.isWhitespace(text.charAt(start - 1))) start--;
            if (best.rstrip()) while (end < text.length() && Character.isWhitespace(text.charAt(end))) end++;
            if (start > textStart) out.add(new Piece(text.substring(textStart, start), -1));
            out.add(new Piece(null, best.id()));
            textStart = end;
            at = end;
        }
        if (textStart < text.length()) out.add(new Piece(text.substring(textStart), -1));
        return out;
    }

    private static boolean isWordBoundary(String text, int start, int end) {
        boolean before = start == 0 || !Character.isLetterOrDigit(text.codePointBefore(start));
        boolean after = end == text.length() || !Character.isLetterOrDigit(text.codePointAt(end));
        return before && after;
    }
}
