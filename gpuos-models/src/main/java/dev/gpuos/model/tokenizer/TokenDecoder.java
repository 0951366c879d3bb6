package dev.gpuos.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The {@code decoder} of tokenizer.json: joins tokens back into text. */
sealed interface TokenDecoder {
    String decode(List<String> tokens);

    enum ByteLevelDecoder implements TokenDecoder {
        INSTANCE;

        @Override
        public String decode(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) ByteLevel.decode(t, bytes);
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }

    /** tokenizers' WordPiece decoder: "##" pieces glue to the previous token, the others get a space; cleanup. */
    record WordPiece(String prefix, boolean cleanup) implements TokenDecoder {
        @Override
        public String decode(List<String> tokens) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                if (i != 0) t = t.startsWith(prefix) ? t.substring(prefix.length()) : " " + t;
                b.append(cleanup ? cleanup(t) : t);
            }
            return b.toString();
        }

        static String cleanup(String s) {
            return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                    .replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                    .replace(" 've", "'ve").replace(" 're", "'re");
        }
    }

    /** No decoder in tokenizer.json: tokens joined by spaces (tokenizers' fallback). */
    enum Join implements TokenDecoder {
        INSTANCE;

        @Override
        public String decode(List<String> tokens) { return String.join(" ", tokens); }
    }
}
