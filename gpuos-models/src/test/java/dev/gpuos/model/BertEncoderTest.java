package dev.gpuos.model;

import com.google.gson.JsonObject;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Padding and pooling invariants of the BERT encoder on a random tiny folder (HF comparison: HfFixtureTest). */
class BertEncoderTest {
    @TempDir
    Path dir;

    @Test
    void batchedWithPaddingEqualsOneByOneAndIsUnitLength() throws IOException {
        Path folder = TinyModels.writeBert(dir.resolve("b"), TinyModels.bertConfig(), 3);
        List<String> texts = List.of("the quick brown fox", "dogs!", "running the fox, the dog, the quick brown fox.");
        try (BertEncoder enc = BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE)) {
            float[][] batched = enc.embed(texts);
            for (int i = 0; i < texts.size(); i++) {
                float[] single = enc.embed(List.of(texts.get(i)))[0];
                LlamaModelTest.assertClose(single, batched[i], 1e-5, "text " + i);
                double n = 0;
                for (float f : single) n += f * f;
                assertEquals(1.0, Math.sqrt(n), 1e-5);
            }
            var ids = enc.tokenizer().encode("the quick brown fox");
            assertEquals(2, ids[0]);
            assertEquals(3, ids[ids.length - 1]);
        }
    }

    @Test
    void modulesWithoutNormalizeGiveTheRawMean() throws IOException {
        Path folder = TinyModels.writeBert(dir.resolve("n"), TinyModels.bertConfig(), 5);
        float[] normalized;
        try (BertEncoder enc = BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE)) {
            assertTrue(enc.normalizes());
            normalized = enc.embed(List.of("the quick brown fox"))[0];
        }
        Files.writeString(folder.resolve("modules.json"), "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
                + " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
        try (BertEncoder enc = BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE)) {
            assertTrue(!enc.normalizes());
            float[] raw = enc.embed(List.of("the quick brown fox"))[0];
            double n = 0;
            for (float f : raw) n += f * f;
            for (int i = 0; i < raw.length; i++) assertEquals(normalized[i], raw[i] / Math.sqrt(n), 1e-5);
        }
    }

    @Test
    void wrongPoolingOrActivationIsNamed() throws IOException {
        Path folder = TinyModels.writeBert(dir.resolve("p"), TinyModels.bertConfig(), 3);
        Files.createDirectories(folder.resolve("1_Pooling"));
        Files.writeString(folder.resolve("1_Pooling/config.json"), "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}");
        var e = assertThrows(ModelFormatException.class, () -> BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE));
        assertTrue(e.getMessage().contains("1_Pooling") && e.getMessage().contains("pooling_mode_mean_tokens"), e.getMessage());
        Files.delete(folder.resolve("1_Pooling/config.json"));
        JsonObject cfg = TinyModels.bertConfig();
        cfg.addProperty("hidden_act", "swish");
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        e = assertThrows(ModelFormatException.class, () -> BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE));
        assertTrue(e.getMessage().contains("hidden_act") && e.getMessage().contains("swish"), e.getMessage());
    }

    @Test
    void longTextsAreTruncatedLikeSentenceTransformers() throws IOException {
        Path folder = TinyModels.writeBert(dir.resolve("l"), TinyModels.bertConfig(), 3);
        Files.writeString(folder.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 12, \"do_lower_case\": false}");
        try (BertEncoder enc = BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE)) {
            assertEquals(12, enc.maxTokens());
            int[] full = enc.tokenizer().encode("fox ".repeat(80)), cut = enc.tokenizer().encode("fox ".repeat(80), true, 12);
            assertEquals(12, cut.length);
            assertEquals(3, cut[11], "[SEP] stays last");
            assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(full, 11)), java.util.Arrays.toString(java.util.Arrays.copyOf(cut, 11)));
            float[] embedded = enc.embed(List.of("fox ".repeat(80)))[0];
            LlamaModelTest.assertClose(enc.forward(new int[][]{cut}).embeddings()[0], embedded, 1e-6, "truncated");
            var e = assertThrows(IllegalArgumentException.class, () -> enc.forward(new int[][]{full}));
            assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
        }
        Files.writeString(folder.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 1000}");
        var e = assertThrows(ModelFormatException.class, () -> BertEncoder.load(folder, CpuBackend.eager(), LoadProgress.NONE));
        assertTrue(e.getMessage().contains("sentence_bert_config.json: max_seq_length"), e.getMessage());
    }
}
