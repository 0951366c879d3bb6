package dev.gpuos.model.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.gpuos.model.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tokenizer.json with a value of the wrong kind where an id or a merge belongs is an error naming the file and
 * the field, not a Gson exception without either, and not an id read as another (1.5 as 1, -1 as a token no
 * embedding row has).
 */
class TokenizerFileErrorsTest {
    @TempDir
    Path dir;

    private Path mutated(String fixture, Consumer<JsonObject> change) throws Exception {
        Path source = Path.of(TokenizerFileErrorsTest.class.getResource("/hf/" + fixture + "/tokenizer.json").toURI());
        JsonObject json = JsonParser.parseString(Files.readString(source)).getAsJsonObject();
        change.accept(json);
        Path file = dir.resolve(fixture + "-" + System.nanoTime() + ".json");
        Files.writeString(file, json.toString());
        return file;
    }

    private void assertNamed(String fixture, Consumer<JsonObject> change, String field) throws Exception {
        Path file = mutated(fixture, change);
        var e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(file), field);
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(field), e.getMessage());
    }

    private static JsonObject vocab(JsonObject json) {
        return json.getAsJsonObject("model").getAsJsonObject("vocab");
    }

    private static String someToken(JsonObject json) {
        return vocab(json).keySet().stream().filter(k -> !k.startsWith("[")).findFirst().orElseThrow();
    }

    @Test
    void vocabularyIdsMustBeWholeNonNegativeNumbers() throws Exception {
        for (String fixture : new String[]{"bert-tiny", "llama-tiny"}) {
            for (String bad : new String[]{"1.5", "-1", "\"7\"", "4294967297", "[3]"}) {
                assertNamed(fixture, j -> vocab(j).add(someToken(j), JsonParser.parseString(bad)), "model.vocab");
            }
        }
    }

    @Test
    void specialTokenIdsAndMergesOfTheWrongKindAreNamed() throws Exception {
        assertNamed("bert-tiny", j -> {
            JsonObject special = j.getAsJsonObject("post_processor").getAsJsonObject("special_tokens");
            String name = special.keySet().iterator().next();
            JsonArray ids = new JsonArray();
            ids.add(2.5);
            special.getAsJsonObject(name).add("ids", ids);
        }, "post_processor.special_tokens.");
        assertNamed("bert-tiny", j -> {
            JsonObject bp = new JsonObject();
            bp.addProperty("type", "BertProcessing");
            JsonArray cls = new JsonArray();
            cls.add("[CLS]");                     // the id is missing
            bp.add("cls", cls);
            bp.add("sep", cls);
            j.add("post_processor", bp);
        }, "post_processor.cls");
        assertNamed("llama-tiny", j -> {
            JsonArray merges = j.getAsJsonObject("model").getAsJsonArray("merges");
            JsonArray bad = new JsonArray();
            bad.add(new JsonObject());
            bad.add("x");
            merges.set(0, bad);
        }, "model.merges[0]");
        assertNamed("llama-tiny", j -> {
            JsonArray merges = j.getAsJsonObject("model").getAsJsonArray("merges");
            merges.set(1, (JsonElement) new JsonObject());
        }, "model.merges[1]");
    }

    /**
     * Found in session 19's audit: a merge naming a token the vocabulary lacks (its parts or their join) was
     * dropped without a word, so a corrupt file tokenized as some other tokenizer would; tokenizers refuses to
     * load it (MergeTokenOutOfVocabulary), and so does this loader now, naming the merge.
     */
    @Test
    void mergesOutsideTheVocabularyAreNamed() throws Exception {
        JsonArray joinMissing = new JsonArray();
        joinMissing.add("Q");
        joinMissing.add("Z");
        for (JsonElement bad : new JsonElement[]{new com.google.gson.JsonPrimitive("\u00ff\u00fe \u00fd"), joinMissing}) {
            assertNamed("llama-tiny", j -> {
                JsonArray merges = j.getAsJsonObject("model").getAsJsonArray("merges");
                vocab(j).remove("QZ");
                merges.set(2, bad);
            }, "model.merges[2]");
        }
        // Every fixture merge is in its vocabulary, as tokenizers requires: the check refuses nothing real.
        assertTrue(Tokenizer.load(mutated("llama-tiny", j -> {})) != null);
    }
}
