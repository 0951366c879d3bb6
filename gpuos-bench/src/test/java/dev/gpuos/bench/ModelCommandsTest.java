package dev.gpuos.bench;

import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * embed and generate end to end on the CPU backend, on the tiny Hugging Face folders committed as gpuos-models
 * test fixtures (Maven runs this module's tests with the module folder as working directory).
 */
class ModelCommandsTest {
    static final Path FIXTURES = Path.of("..", "gpuos-models", "src", "test", "resources", "hf");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream(), errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    @Test
    void generatePrintsTextThenSpeed() throws Exception {
        int status = new GenerateCommand(out, err).run(List.of("--model", FIXTURES.resolve("llama-tiny").toString(),
                "--prompt", "The quick brown fox", "--max-tokens", "8", "--ignore-eos", "--backend", "cpu"));
        String text = outBytes.toString(StandardCharsets.UTF_8), log = errBytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, log);
        assertTrue(text.startsWith("The quick brown fox") && text.length() > "The quick brown fox".length(), text);
        assertTrue(log.contains("8 tokens") && log.contains("tok/s"), log);
    }

    /** More positions than the model has is an error before any weight loads, also where an int sum would wrap. */
    @Test
    void generateBeyondTheModelsPositionsIsRefusedUpFront() throws Exception {
        for (String n : new String[]{"100000", String.valueOf(Integer.MAX_VALUE)}) {
            errBytes.reset();
            int status = new GenerateCommand(out, err).run(List.of("--model", FIXTURES.resolve("llama-tiny").toString(),
                    "--prompt", "The quick brown fox", "--max-tokens", n, "--backend", "cpu"));
            String log = errBytes.toString(StandardCharsets.UTF_8);
            assertEquals(1, status, log);
            assertTrue(log.contains("max_position_embeddings") && !log.contains("loaded in"), log);
        }
    }

    @Test
    void embedWritesJsonOfUnitVectors() throws Exception {
        Path json = dir.resolve("e.json");
        int status = new EmbedCommand(out, err).run(List.of("--model", FIXTURES.resolve("bert-tiny").toString(),
                "--json", json.toString(), "--backend", "cpu", "hello world", "café"));
        assertEquals(0, status, errBytes.toString(StandardCharsets.UTF_8));
        var root = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
        assertEquals(64, root.get("dimension").getAsInt());
        var items = root.getAsJsonArray("embeddings");
        assertEquals(2, items.size());
        double n = 0;
        for (var v : items.get(1).getAsJsonObject().getAsJsonArray("embedding")) n += v.getAsDouble() * v.getAsDouble();
        assertEquals(1.0, n, 1e-4);
    }

    @Test
    void progressInALogIsOneLinePerQuarter() {
        var bar = new ModelBackend.ProgressBar(err, false);
        for (long done = 0; done <= 1000; done += 10) bar.uploaded(done, 1000, "w");
        bar.end();
        String log = errBytes.toString(StandardCharsets.UTF_8);
        assertEquals(5, log.lines().count(), log);
        assertTrue(!log.contains("\r") && log.lines().toList().getLast().contains("100%"), log);
    }

    @Test
    void badFolderIsAOneLineErrorNamingTheFile() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"}");
        int status = new GenerateCommand(out, err).run(List.of("--model", dir.toString(), "--prompt", "x", "--backend", "cpu"));
        assertEquals(1, status);
        String log = errBytes.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("config.json") && log.contains("hidden_size: missing"), log);
        assertThrows(CliUsageException.class, () -> new EmbedCommand(out, err).run(List.of("--model", dir.toString())));
        assertThrows(CliUsageException.class, () -> new GenerateCommand(out, err).run(List.of("--prompt", "x")));
    }
}
