package dev.gpuos.model;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** GPUOS on the CPU backend against Hugging Face's outputs (fixtures from bench/models/make_fixtures.py). */
class HfFixtureTest {
    @Test
    void tokenizersGiveHfIds() {
        HfFixtureChecks.tokenizers();
    }

    @Test
    void bertMatchesHfAndSentenceTransformersPooling() {
        HfFixtureChecks.bert(CpuBackend.eager());
        HfFixtureChecks.bert(CpuBackend.eager(), dev.gpuos.tensor.DType.BF16);
    }

    @Test
    void llamaMatchesHfPrefillAndGreedyDecode() {
        HfFixtureChecks.llama(CpuBackend.eager());
    }
}
