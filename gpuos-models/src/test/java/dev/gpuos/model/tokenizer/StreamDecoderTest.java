package dev.gpuos.model.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Printing generated text token by token: a character split across byte-level tokens appears once it is whole. */
class StreamDecoderTest {
    @Test
    void holdsBackAnIncompleteCharacterUntilItCompletes() throws Exception {
        Tokenizer t = Tokenizer.load(Path.of(StreamDecoderTest.class.getResource("/hf/llama-tiny/tokenizer.json").toURI()));
        String text = "café 😀 ok";
        int[] ids = t.encode(text, false);
        Tokenizer.StreamDecoder d = t.streamDecoder();
        StringBuilder printed = new StringBuilder();
        for (int id : ids) {
            String piece = d.next(id);
            assertEquals(-1, piece.indexOf('\uFFFD'), "no replacement character for " + text);
            printed.append(piece);
        }
        printed.append(d.finish());
        assertEquals(text, printed.toString());

        // a lone lead byte of a 4-byte character never completes: finish() gives it as U+FFFD
        int lead = t.tokenId(ByteLevel.symbolOf(0xF0)).orElseThrow();
        Tokenizer.StreamDecoder broken = t.streamDecoder();
        assertEquals("a", broken.next(t.encode("a", false)[0]));
        assertEquals("", broken.next(lead));
        assertEquals("\uFFFD", broken.finish());
    }
}
