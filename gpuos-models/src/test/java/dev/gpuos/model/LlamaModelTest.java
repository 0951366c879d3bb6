package dev.gpuos.model;

import com.google.gson.JsonObject;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Self-consistency and bad input of the Llama decoder on random tiny folders (the HF comparison is in HfFixtureTest). */
class LlamaModelTest {
    @TempDir
    Path dir;

    @Test
    void cachedDecodeMatchesFullPrefill() throws IOException {
        for (boolean tie : new boolean[]{true, false}) {
            Path folder = TinyModels.writeLlama(dir.resolve("m" + tie), TinyModels.llamaConfig(tie), "F32", 7);
            int[] ids = {256, 10, 200, 33, 71, 5, 99, 150, 12, 40};
            try (LlamaModel m = LlamaModel.load(folder, CpuBackend.eager(), 32, LoadProgress.NONE)) {
                int v = TinyModels.VOCAB;
                float[] all = m.forwardAll(ids);
                assertEquals(ids.length * v, all.length);
                m.reset();
                // the first 4 as a prefill, then one token at a time through the cache
                float[] pre = m.forwardAll(java.util.Arrays.copyOf(ids, 4));
                assertClose(java.util.Arrays.copyOfRange(all, 0, 4 * v), pre, 1e-5, "prefill of 4");
                for (int i = 4; i < ids.length; i++) {
                    float[] step = m.forwardAll(new int[]{ids[i]});
                    assertClose(java.util.Arrays.copyOfRange(all, i * v, (i + 1) * v), step, 1e-5, "cached step " + i);
                }
                assertEquals(ids.length, m.position());
                // the fixed-shape step (captured on the GPU) after a prefill of 4: same logits as the full prefill
                m.reset();
                m.forwardAll(java.util.Arrays.copyOf(ids, 4));
                for (int i = 4; i < ids.length; i++) {
                    assertClose(java.util.Arrays.copyOfRange(all, i * v, (i + 1) * v), m.fixedStepLogits(ids[i]), 1e-5, "fixed step " + i);
                }
                // after a reset the stale rows beyond the position must not leak into attention
                m.reset();
                m.forwardAll(java.util.Arrays.copyOf(ids, 2));
                assertClose(java.util.Arrays.copyOfRange(all, 2 * v, 3 * v), m.fixedStepLogits(ids[2]), 1e-5, "fixed step after reset");
            }
        }
    }

    @Test
    void stackedWeightsFromOneSliceOfTheFileOrStackedOnTheHostAreTheSame() throws IOException {
        int[] ids = {256, 10, 200, 33};
        for (String dtype : new String[]{"BF16", "F32"}) {
            float[][] logits = new float[2][];
            for (int i = 0; i < 2; i++) {
                boolean scattered = i == 1;
                Path folder = TinyModels.writeLlama(dir.resolve(dtype + scattered), TinyModels.llamaConfig(false), dtype, 3, scattered);
                var loaded = new java.util.ArrayList<String>();
                try (LlamaModel m = LlamaModel.load(folder, CpuBackend.eager(), 8, (done, total, name) -> loaded.add(name))) {
                    logits[i] = m.forwardAll(ids);
                    assertEquals(3 + 9 * TinyModels.LAYERS, loaded.size(), dtype + ": every weight reported once: " + loaded);
                }
            }
            assertArrayEquals(logits[0], logits[1], dtype + ": q/k/v and gate/up adjacent (one slice) vs scattered (stacked on the host)");
        }
    }

    @Test
    void deviceBytesCountTheWeightsALoadReservesAsTheComputeDtype() throws IOException {
        Path folder = TinyModels.writeLlama(dir.resolve("r"), TinyModels.llamaConfig(false), "BF16", 3);
        long h = TinyModels.HIDDEN, kv = TinyModels.KV_HEADS * (h / TinyModels.HEADS), i = TinyModels.INTER;
        // elements of every matrix: embedding, untied head, per layer q, k, v, o, gate, up, down
        List<Long> matrices = new java.util.ArrayList<>(List.of(TinyModels.VOCAB * h, TinyModels.VOCAB * h));
        for (int l = 0; l < TinyModels.LAYERS; l++) matrices.addAll(List.of(h * h, kv * h, kv * h, h * h, i * h, i * h, h * i));
        long norms = 2L * TinyModels.LAYERS + 1;
        try (ModelWeights w = ModelWeights.open(folder)) {
            for (DType t : new DType[]{DType.BF16, DType.F32}) {
                long size = t.byteSize(), big = 0;
                for (long n : matrices) big += (n * size + 255) / 256 * 256;
                long normBytes = norms * ((h * size + 255) / 256 * 256);
                assertEquals(big + normBytes, w.deviceBytes(t, 1), t.toString());
                // the norms (h elements each) fall below a bound of h + 1 elements; every matrix is larger
                assertEquals(big, w.deviceBytes(t, (h + 1) * size), t.toString());
            }
            assertEquals(0, w.deviceBytes(DType.BF16, Long.MAX_VALUE));
        }
    }

    @Test
    void generateIsGreedyOverTheLogits() throws IOException {
        Path folder = TinyModels.writeLlama(dir.resolve("g"), TinyModels.llamaConfig(true), "BF16", 9);
        int[] prompt = {256, 72, 101, 108};
        try (LlamaModel m = LlamaModel.load(folder, CpuBackend.eager(), 32, LoadProgress.NONE)) {
            assertEquals("BF16", m.storedType());
            var g = m.generate(prompt, 6, false, id -> { });
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + 6);
            for (int i = 0; i < 6; i++) {
                m.reset();
                float[] logits = m.forwardAll(java.util.Arrays.copyOf(seq, prompt.length + i));
                int v = TinyModels.VOCAB, base = (prompt.length + i - 1) * v, best = 0;
                for (int j = 1; j < v; j++) if (logits[base + j] > logits[base + best]) best = j;
                assertEquals(best, g.tokens()[i], "token " + i);
                seq[prompt.length + i] = best;
            }
            var e = assertThrows(IllegalArgumentException.class, () -> m.generate(new int[30], 8, false, id -> { }));
            assertTrue(e.getMessage().contains("does not fit the KV cache of 32"), e.getMessage());
        }
    }

    /**
     * Greedy decoding launches step p + 1 before it reads step p's token; stopping at an end-of-sequence token
     * leaves one step run past it, which must not change the next generation (nor one that samples in between).
     */
    @Test
    void aStepRunPastTheEndOfSequenceLeavesNoTrace() throws IOException {
        int[] prompt = {256, 72, 101, 108};
        int[] free;
        try (LlamaModel m = LlamaModel.load(TinyModels.writeLlama(dir.resolve("free"), TinyModels.llamaConfig(true), "BF16", 9),
                CpuBackend.eager(), 32, LoadProgress.NONE)) {
            free = m.generate(prompt, 10, false, id -> { }).tokens();
        }
        JsonObject cfg = TinyModels.llamaConfig(true);
        cfg.addProperty("eos_token_id", free[3]);
        try (LlamaModel m = LlamaModel.load(TinyModels.writeLlama(dir.resolve("eos"), cfg, "BF16", 9), CpuBackend.eager(), 32, LoadProgress.NONE)) {
            int stop = 0;
            while (free[stop] != free[3]) stop++;   // the first occurrence of that token ends the generation
            assertArrayEquals(java.util.Arrays.copyOf(free, stop + 1), m.generate(prompt, 10, true, id -> { }).tokens());
            assertArrayEquals(free, m.generate(prompt, 10, false, id -> { }).tokens(), "after a generation that stopped at EOS");
            m.generate(prompt, 5, false, LlamaModel.Sampling.temperature(1.0, 3), id -> { });
            assertArrayEquals(free, m.generate(prompt, 10, false, id -> { }).tokens(), "after a sampled generation");
        }
    }

    @Test
    void temperatureSamplingFollowsTheSoftmaxAndIsSeeded() throws IOException {
        LlamaModel.Sampling s = LlamaModel.Sampling.temperature(1.0, 42);
        float[] logits = {0f, (float) Math.log(2), (float) Math.log(4)};
        int[] counts = new int[3];
        int n = 70_000;
        for (int i = 0; i < n; i++) counts[s.pick(logits)]++;
        for (int i = 0; i < 3; i++) assertEquals((1 << i) / 7.0, counts[i] / (double) n, 0.01, "frequency of " + i);
        LlamaModel.Sampling hot = LlamaModel.Sampling.temperature(2.0, 1);
        int[] halved = new int[3];
        for (int i = 0; i < n; i++) halved[hot.pick(logits)]++;   // T=2: weights 1, sqrt 2, 2
        assertEquals(2 / (1 + Math.sqrt(2) + 2), halved[2] / (double) n, 0.01);
        assertThrows(IllegalArgumentException.class, () -> LlamaModel.Sampling.temperature(-1, 0));
        assertTrue(LlamaModel.Sampling.temperature(0, 5).isGreedy());

        Path folder = TinyModels.writeLlama(dir.resolve("t"), TinyModels.llamaConfig(true), "F32", 11);
        int[] prompt = {256, 72, 101, 108};
        try (LlamaModel m = LlamaModel.load(folder, CpuBackend.eager(), 32, LoadProgress.NONE)) {
            int[] a = m.generate(prompt, 10, false, LlamaModel.Sampling.temperature(1.5, 7), id -> { }).tokens();
            int[] b = m.generate(prompt, 10, false, LlamaModel.Sampling.temperature(1.5, 7), id -> { }).tokens();
            assertArrayEquals(a, b, "one seed, one sequence");
            int[] cold = m.generate(prompt, 10, false, LlamaModel.Sampling.temperature(1e-6, 3), id -> { }).tokens();
            assertArrayEquals(m.generate(prompt, 10, false, id -> { }).tokens(), cold, "a tiny temperature is greedy");
        }
    }

    @Test
    void shapeThatDisagreesWithConfigNamesFileTensorAndConfig() throws IOException {
        JsonObject cfg = TinyModels.llamaConfig(true);
        Path folder = TinyModels.writeLlama(dir.resolve("s"), cfg, "F32", 1);
        cfg.addProperty("intermediate_size", TinyModels.INTER + 1);
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        var e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(folder, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("mlp.gate_proj.weight")
                && e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void missingTensorUntiedHeadAndBadConfigAreNamed() throws IOException {
        Path tied = TinyModels.writeLlama(dir.resolve("t"), TinyModels.llamaConfig(true), "F32", 1);
        JsonObject untied = TinyModels.llamaConfig(false);
        Files.writeString(tied.resolve("config.json"), untied.toString());
        var e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(tied, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("lm_head.weight"), e.getMessage());

        JsonObject noHeads = TinyModels.llamaConfig(true);
        noHeads.remove("num_attention_heads");
        Files.writeString(tied.resolve("config.json"), noHeads.toString());
        e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(tied, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("config.json: num_attention_heads: missing"), e.getMessage());

        JsonObject gpt = TinyModels.llamaConfig(true);
        gpt.addProperty("model_type", "gpt2");
        Files.writeString(tied.resolve("config.json"), gpt.toString());
        e = assertThrows(ModelFormatException.class, () -> ModelFolder.architecture(tied));
        assertTrue(e.getMessage().contains("model_type") && e.getMessage().contains("gpt2"), e.getMessage());

        JsonObject yarn = TinyModels.llamaConfig(true);
        yarn.getAsJsonObject("rope_parameters").addProperty("rope_type", "yarn");
        Files.writeString(tied.resolve("config.json"), yarn.toString());
        e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(tied));
        assertTrue(e.getMessage().contains("rope_parameters.rope_type") && e.getMessage().contains("yarn"), e.getMessage());

        Files.delete(tied.resolve("model.safetensors"));
        Files.writeString(tied.resolve("config.json"), TinyModels.llamaConfig(true).toString());
        e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(tied, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("no model.safetensors"), e.getMessage());
        Files.delete(tied.resolve("config.json"));
        e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(tied, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("config.json: missing"), e.getMessage());
    }

    /**
     * A sharded folder (model.safetensors.index.json and its shards, as save_pretrained writes a large model) loads
     * the same weights as one file; an index naming a shard outside the folder, or not by a string, is refused.
     */
    @Test
    void shardedWeightsLoadAsOneFileAndShardsStayInTheFolder() throws IOException {
        Path single = TinyModels.writeLlama(dir.resolve("single"), TinyModels.llamaConfig(false), "F32", 5);
        Path sharded = Files.createDirectories(dir.resolve("sharded"));
        Files.copy(single.resolve("config.json"), sharded.resolve("config.json"));
        Files.copy(single.resolve("tokenizer.json"), sharded.resolve("tokenizer.json"));
        SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
        String[] names = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
        JsonObject map = new JsonObject();
        try (SafetensorsFile st = SafetensorsFile.open(single.resolve("model.safetensors"))) {
            int i = 0;
            for (var e : st.entries().values()) {
                float[] v = st.bytes(e).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED
                        .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
                shards[i % 2].add(e.name(), "F32", e.shape(), v);
                map.addProperty(e.name(), names[i % 2]);
                i++;
            }
        }
        for (int k = 0; k < 2; k++) shards[k].write(sharded.resolve(names[k]));
        JsonObject index = new JsonObject();
        index.add("weight_map", map);
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.toString());
        int[] ids = {256, 72, 101, 108, 108};
        float[] expected, actual;
        try (LlamaModel m = LlamaModel.load(single, CpuBackend.eager(), 16, LoadProgress.NONE)) {
            expected = m.forwardAll(ids);
        }
        try (LlamaModel m = LlamaModel.load(sharded, CpuBackend.eager(), 16, LoadProgress.NONE)) {
            actual = m.forwardAll(ids);
        }
        assertArrayEquals(expected, actual);

        for (String bad : new String[]{"\"../single/model.safetensors\"", "\"" + single.resolve("model.safetensors") + "\"", "7", "\"\""}) {
            JsonObject wrong = index.deepCopy();
            wrong.getAsJsonObject("weight_map").add("model.norm.weight", com.google.gson.JsonParser.parseString(bad));
            Files.writeString(sharded.resolve("model.safetensors.index.json"), wrong.toString());
            var e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(sharded, CpuBackend.eager(), 16, LoadProgress.NONE), bad);
            assertTrue(e.getMessage().contains("model.safetensors.index.json: weight_map.model.norm.weight"), e.getMessage());
        }
    }

    /** Numbers that would give NaN or garbage values further down are config errors naming the field. */
    @Test
    void configNumbersThatWouldComputeGarbageAreNamed() throws IOException {
        Path folder = TinyModels.writeLlama(dir.resolve("n"), TinyModels.llamaConfig(true), "F32", 1);
        String[][] cases = {   // {object ("" = top level), key, value as JSON, field named}
            {"", "rms_norm_eps", "-1e-5", "rms_norm_eps"},
            {"rope_parameters", "rope_theta", "0", "rope_parameters.rope_theta"},
            {"rope_parameters", "factor", "-8", "rope_parameters.factor"},
            {"rope_parameters", "high_freq_factor", "1.0", "rope_parameters.high_freq_factor"},   // = low: a division by 0
            {"", "eos_token_id", "[257, 1.5]", "eos_token_id"},
            {"", "eos_token_id", "[\"257\"]", "eos_token_id"},
        };
        for (String[] c : cases) {
            JsonObject cfg = TinyModels.llamaConfig(true);
            JsonObject at = c[0].isEmpty() ? cfg : cfg.getAsJsonObject(c[0]);
            at.add(c[1], com.google.gson.JsonParser.parseString(c[2]));
            Files.writeString(folder.resolve("config.json"), cfg.toString());
            var e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(folder), c[1] + " = " + c[2]);
            assertTrue(e.getMessage().contains("config.json: " + c[3]), e.getMessage());
        }
        JsonObject cfg = TinyModels.llamaConfig(true);
        cfg.getAsJsonObject("rope_parameters").remove("low_freq_factor");
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        var e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(folder));
        assertTrue(e.getMessage().contains("rope_parameters.low_freq_factor: missing"), e.getMessage());
    }

    @Test
    void tokenizerWithIdsPastTheEmbeddingTableIsNamed() throws IOException {
        JsonObject cfg = TinyModels.llamaConfig(true);
        Path folder = TinyModels.writeLlama(dir.resolve("v"), cfg, "F32", 1);
        cfg.addProperty("vocab_size", 3);
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        var e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(folder, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("vocab_size is 3"), e.getMessage());
    }

    @Test
    void weightsStoredOtherwiseThanConfigDeclaresAreNamed() throws IOException {
        JsonObject cfg = TinyModels.llamaConfig(true);
        cfg.addProperty("dtype", "float32");
        Path folder = TinyModels.writeLlama(dir.resolve("d"), cfg, "BF16", 1);
        var e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(folder, CpuBackend.eager(), 16, LoadProgress.NONE));
        assertTrue(e.getMessage().contains("model.embed_tokens.weight") && e.getMessage().contains("BF16")
                && e.getMessage().contains("config.json declares dtype F32"), e.getMessage());
        cfg.remove("dtype");
        cfg.addProperty("torch_dtype", "bfloat16");
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        try (LlamaModel m = LlamaModel.load(folder, CpuBackend.eager(), 16, LoadProgress.NONE)) {
            assertEquals(SafetensorsFile.StoredType.BF16, m.config().dtype());
        }
        cfg.addProperty("torch_dtype", "int8");
        Files.writeString(folder.resolve("config.json"), cfg.toString());
        e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(folder));
        assertTrue(e.getMessage().contains("config.json: torch_dtype: unsupported dtype 'int8'"), e.getMessage());
    }

    @Test
    void legacyRopeScalingFieldsReadTheSame() throws IOException {
        JsonObject v5 = TinyModels.llamaConfig(true);
        Path a = TinyModels.writeLlama(dir.resolve("a"), v5, "F32", 1);
        JsonObject v4 = TinyModels.llamaConfig(true);
        JsonObject rope = v4.remove("rope_parameters").getAsJsonObject();
        v4.add("rope_theta", rope.remove("rope_theta"));
        rope.add("type", rope.remove("rope_type"));
        v4.add("rope_scaling", rope);
        Path b = TinyModels.writeLlama(dir.resolve("b"), v4, "F32", 1);
        assertArrayEquals(LlamaConfig.read(a).inverseFrequencies(), LlamaConfig.read(b).inverseFrequencies());
        assertEquals(500000.0, LlamaConfig.read(b).ropeTheta());
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            num += (expected[i] - actual[i]) * (double) (expected[i] - actual[i]);
            den += expected[i] * (double) expected[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(rel <= tol, what + ": normwise relative error " + rel + " > " + tol);
    }
}
