package dev.gpuos.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code pre_tokenizer} of tokenizer.json: splits each piece of text into smaller pieces (words). */
sealed interface PreTokenizer {
    /** GPT-2's split, which ByteLevel applies when use_regex is true. */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    List<String> split(String piece);

    default List<String> splitAll(List<String> pieces) {
        List<String> out = new ArrayList<>();
        for (String p : pieces) out.addAll(split(p));
        return out;
    }

    /** What happens to the matched parts (tokenizers' SplitDelimiterBehavior). */
    enum Behavior { REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    /**
     * Compiles a tokenizer.json regex (Oniguruma syntax) for java.util.regex. With UNICODE_CHARACTER_CLASS, \s is
     * White_Space and (?i) folds Unicode case, as in Oniguruma; the patterns in use (GPT-2, Llama 3, Qwen) need
     * nothing else that differs.
     */
    static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    /** Splits {@code s} into matched and unmatched spans and applies {@code behavior} (as tokenizers' split). */
    static List<String> splitSpans(String s, List<int[]> matches, Behavior behavior, boolean invert, List<String> out) {
        // spans: [start, end, isMatch]
        List<int[]> spans = new ArrayList<>();
        int at = 0;
        for (int[] m : matches) {
            if (m[0] > at) spans.add(new int[]{at, m[0], invert ? 1 : 0});
            spans.add(new int[]{m[0], m[1], invert ? 0 : 1});
            at = m[1];
        }
        if (at < s.length()) spans.add(new int[]{at, s.length(), invert ? 1 : 0});
        switch (behavior) {
            case REMOVED -> {
                for (int[] sp : spans) if (sp[2] == 0) out.add(s.substring(sp[0], sp[1]));
            }
            case ISOLATED -> {
                for (int[] sp : spans) out.add(s.substring(sp[0], sp[1]));
            }
            case MERGED_WITH_PREVIOUS -> {
                StringBuilder cur = new StringBuilder();
                for (int[] sp : spans) {
                    cur.append(s, sp[0], sp[1]);
                    if (sp[2] == 1) { out.add(cur.toString()); cur.setLength(0); }
                }
                if (!cur.isEmpty()) out.add(cur.toString());
            }
            case MERGED_WITH_NEXT -> {
                StringBuilder cur = new StringBuilder();
                for (int[] sp : spans) {
                    if (sp[2] == 1 && !cur.isEmpty()) { out.add(cur.toString()); cur.setLength(0); }
                    cur.append(s, sp[0], sp[1]);
                }
                if (!cur.isEmpty()) out.add(cur.toString());
            }
            case CONTIGUOUS -> {
                StringBuilder cur = new StringBuilder();
                boolean inMatch = false;
                for (int[] sp : spans) {
                    if (sp[2] == 1) {
                        if (!inMatch && !cur.isEmpty()) { out.add(cur.toString()); cur.setLength(0); }
                        cur.append(s, sp[0], sp[1]);
                        inMatch = true;
                    } else {
                        if (!cur.isEmpty()) { out.add(cur.toString()); cur.setLength(0); }
                        out.add(s.substring(sp[0], sp[1]));
                        inMatch = false;
                    }
                }
                if (!cur.isEmpty()) out.add(cur.toString());
            }
        }
        out.removeIf(String::isEmpty);
        return out;
    }

    static List<int[]> regexMatches(Pattern pattern, String s) {
        List<int[]> m = new ArrayList<>();
        Matcher matcher = pattern.matcher(s);
        while (matcher.find()) {
            if (matcher.end() > matcher.start()) m.add(new int[]{matcher.start(), matcher.end()});
        }
        return m;
    }

    /** Every code point for which {@code p} holds is a match of its own. */
    static List<int[]> charMatches(IntPredicate p, String s) {
        List<int[]> m = new ArrayList<>();
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i), n = Character.charCount(c);
            if (p.test(c)) m.add(new int[]{i, i + n});
            i += n;
        }
        return m;
    }

    /** BERT: split on whitespace (dropped), then isolate each punctuation character. */
    enum Bert implements PreTokenizer {
        INSTANCE;

        @Override
        public List<String> split(String piece) {
            List<String> words = splitSpans(piece, charMatches(UnicodeClasses::isWhiteSpace, piece), Behavior.REMOVED, false, new ArrayList<>());
            List<String> out = new ArrayList<>();
            for (String w : words) splitSpans(w, charMatches(UnicodeClasses::isBertPunctuation, w), Behavior.ISOLATED, false, out);
            return out;
        }
    }

    /** Whitespace pre-tokenizer: the matches of \w+|[^\w\s]+. */
    enum Whitespace implements PreTokenizer {
        INSTANCE;
        private static final Pattern WORDS = compile("\\w+|[^\\w\\s]+");

        @Override
        public List<String> split(String piece) {
            return splitSpans(piece, regexMatches(WORDS, piece), Behavior.REMOVED, true, new ArrayList<>());
        }
    }

    enum WhitespaceSplit implements PreTokenizer {
        INSTANCE;

        @Override
        public List<String> split(String piece) {
            return splitSpans(piece, charMatches(UnicodeClasses::isWhiteSpace, piece), Behavior.REMOVED, false, new ArrayList<>());
        }
    }

    record Split(Pattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public List<String> split(String piece) {
            return splitSpans(piece, regexMatches(pattern, piece), behavior, invert, new ArrayList<>());
        }
    }

    /**
     * ByteLevel: optionally a leading space and GPT-2's split, then each piece's UTF-8 bytes as the printable
     * characters of {@link ByteLevel} (so the model never sees an unknown character).
     */
    record ByteLevelSplit(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        private static final Pattern GPT2 = compile(GPT2_PATTERN);

        @Override
        public List<String> split(String piece) {
            String p = addPrefixSpace && !piece.startsWith(" ") ? " " + piece : piece;
            List<String> parts = useRegex ? splitSpans(p, regexMatches(GPT2, p), Behavior.ISOLATED, false, new ArrayList<>()) : List.of(p);
            List<String> out = new ArrayList<>(parts.size());
            for (String s : parts) out.add(ByteLevel.encode(s));
            return out;
        }
    }

    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override
        public List<String> split(String piece) {
            List<String> pieces = List.of(piece);
            for (PreTokenizer p : steps) pieces = p.splitAll(pieces);
            return pieces;
        }
    }
}
