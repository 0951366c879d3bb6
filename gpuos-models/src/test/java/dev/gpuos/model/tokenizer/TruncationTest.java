package dev.gpuos.model.tokenizer;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tokenizer.json's "truncation" (all-MiniLM-L6-v2's sets max_length 128): the text is cut, the special tokens stay. */
class TruncationTest {
    @TempDir
    Path dir;

    private Path withTruncation(String direction, int maxLength, int stride) throws Exception {
        Path source = Path.of(TruncationTest.class.getResource("/hf/bert-tiny/tokenizer.json").toURI());
        JsonObject json = JsonParser.parseString(Files.readString(source)).getAsJsonObject();
        JsonObject t = new JsonObject();
        t.addProperty("direction", direction);
        t.addProperty("max_length", maxLength);
        t.addProperty("strategy", "LongestFirst");
        t.addProperty("stride", stride);
        json.add("truncation", t);
        Path file = dir.resolve(direction + maxLength + "-" + stride + ".json");
        Files.writeString(file, json.toString());
        return file;
    }

    @Test
    void rightAndLeftTruncationKeepTheSpecialTokens() throws Exception {
        String text = "the quick brown fox jumps over the lazy dog and the model runs";
        Tokenizer plain = Tokenizer.load(Path.of(TruncationTest.class.getResource("/hf/bert-tiny/tokenizer.json").toURI()));
        int[] full = plain.encode(text), inner = plain.encode(text, false);
        assertEquals(Integer.MAX_VALUE, plain.truncationLength());
        assertTrue(full.length > 8);

        Tokenizer right = Tokenizer.load(withTruncation("Right", 8, 0));
        int[] r = right.encode(text);
        assertEquals(8, r.length);
        assertEquals(full[0], r[0]);
        assertEquals(full[full.length - 1], r[7]);
        assertArrayEquals(Arrays.copyOf(inner, 6), Arrays.copyOfRange(r, 1, 7));
        assertArrayEquals(Arrays.copyOf(inner, 8), right.encode(text, false), "without special tokens all 8 are text");
        assertArrayEquals(full, right.encode(text, true, Integer.MAX_VALUE), "an explicit length overrides");

        Tokenizer left = Tokenizer.load(withTruncation("Left", 8, 0));
        int[] l = left.encode(text);
        assertArrayEquals(Arrays.copyOfRange(inner, inner.length - 6, inner.length), Arrays.copyOfRange(l, 1, 7));

        var e = assertThrows(dev.gpuos.model.ModelFormatException.class, () -> Tokenizer.load(withTruncation("Right", 8, 2)));
        assertTrue(e.getMessage().contains("truncation.stride"), e.getMessage());
    }
}
