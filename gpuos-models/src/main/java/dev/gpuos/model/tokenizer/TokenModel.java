package dev.gpuos.model.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The {@code model} of tokenizer.json: turns one pre-tokenized word into token ids. */
sealed interface TokenModel {
    void tokenize(String word, List<Integer> ids);

    Map<String, Integer> vocab();

    /**
     * WordPiece: greedy longest-match-first over code points, continuation pieces prefixed ("##"); a word with any
     * piece not in the vocabulary, or longer than maxInputChars, becomes a single unknown token.
     */
    record WordPiece(Map<String, Integer> vocab, String unkToken, int unkId, String prefix, int maxInputChars) implements TokenModel {
        @Override
        public void tokenize(String word, List<Integer> ids) {
            int[] cps = word.codePoints().toArray();
            if (cps.length > maxInputChars) {
                ids.add(unkId);
                return;
            }
            List<Integer> pieces = new ArrayList<>();
            int start = 0;
            while (start < cps.length) {
                int end = cps.length;
                Integer found = null;
                while (start < end) {
                    String sub = new String(cps, start, end - start);
                    if (start > 0) sub = prefix + sub;
                    Integer id = vocab.get(sub);
                    if (id != null) {
                        found = id;
                        break;
                    }
                    end--;
                }
                if (found == null) {
                    ids.add(unkId);
                    return;
                }
                pieces.add(found);
                start = end;
            }
            ids.addAll(pieces);
        }
    }

    /**
     * Byte-pair encoding: start from single characters and repeatedly merge the adjacent pair of lowest merge rank
     * (the leftmost one on a tie). With ignoreMerges (Llama 3) a word that is itself in the vocabulary is taken
     * whole, as tokenizers does.
     */
    final class Bpe implements TokenModel {
        private final Map<String, Integer> vocab;
        private final Map<String, Integer> ranks;   // "left right-separated-by-\u0000" -> rank
        private final boolean ignoreMerges;
        private final Integer unkId;
        private final boolean fuseUnk;
        // words repeat a lot in text; concurrent because one Tokenizer may serve several threads
        private final Map<String, int[]> cache = new java.util.concurrent.ConcurrentHashMap<>();

        Bpe(Map<String, Integer> vocab, List<String[]> merges, boolean ignoreMerges, Integer unkId, boolean fuseUnk) {
            this.vocab = vocab;
            this.ranks = new HashMap<>(merges.size() * 2);
            for (int i = 0; i < merges.size(); i++) {
                String[] m = merges.get(i);
                if (vocab.containsKey(m[0] + m[1])) ranks.putIfAbsent(key(m[0], m[1]), i);
            }
            this.ignoreMerges = ignoreMerges;
            this.unkId = unkId;
            this.fuseUnk = fuseUnk;
        }

        private static String key(String a, String b) { return a + '\u0000' + b; }

        @Override
        public Map<String, Integer> vocab() { return vocab; }

        @Override
        public void tokenize(String word, List<Integer> ids) {
            int[] cached = cache.get(word);
            if (cached == null) {
                cached = merge(word);
                if (cache.size() < 100_000) cache.put(word, cached);
            }
            for (int id : cached) ids.add(id);
        }

        private int[] merge(String word) {
            Integer whole = ignoreMerges ? vocab.get(word) : null;
            if (whole != null) return new int[]{whole};
            List<String> symbols = new ArrayList<>();
            List<Integer> out = new ArrayList<>();
            boolean lastUnk = false;
            for (int i = 0; i < word.length(); ) {
                int c = word.codePointAt(i);
                String s = new String(Character.toChars(c));
                i += s.length();
                if (vocab.containsKey(s)) {
                    symbols.add(s);
                    lastUnk = false;
                } else if (unkId != null) {
                    // tokenizers keeps an unknown character as an unknown symbol (fused with a previous one)
                    if (!(fuseUnk && lastUnk)) symbols.add(null);
                    lastUnk = true;
                }
            }
            while (symbols.size() > 1) {
                int best = -1, bestRank = Integer.MAX_VALUE;
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    String a = symbols.get(i), b = symbols.get(i + 1);
                    if (a == null || b == null) continue;
                    Integer r = ranks.get(key(a, b));
                    if (r != null && r < bestRank) {
                        bestRank = r;
                        best = i;
                    }
                }
                if (best < 0) break;
                String merged = symbols.get(best) + symbols.get(best + 1);
                symbols.set(best, merged);
                symbols.remove(best + 1);
            }
            for (String s : symbols) out.add(s == null ? unkId : vocab.get(s));
            return out.stream().mapToInt(Integer::intValue).toArray();
        }
    }
}
