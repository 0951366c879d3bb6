package dev.gpuos.model;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The decode step's two forms of a layer's RoPE and cache writes (one elementwise task that also leaves the
 * query heads in the cache's extra rows, or session 16's three tasks) compute the same logits and tokens, bit for
 * bit, on the CPU backend: the same expressions in the same order, only grouped differently.
 */
class DecodeCacheWriteFormsTest {
    @Test
    void oneTaskAndThreeTaskFormsAgreeBitForBit() {
        for (DType compute : new DType[]{DType.F32, DType.BF16}) {
            List<float[]> one = run(true, compute), three = run(false, compute);
            assertEquals(one.size(), three.size());
            for (int i = 0; i < one.size(); i++) assertArrayEquals(three.get(i), one.get(i), compute + " output " + i);
        }
    }

    private static List<float[]> run(boolean oneTask, DType compute) {
        boolean was = LlamaModel.oneTaskCacheWrite;
        LlamaModel.oneTaskCacheWrite = oneTask;
        try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture("llama-tiny-untied-bf16"), CpuBackend.eager(), 21, compute, LoadProgress.NONE)) {
            List<float[]> out = new ArrayList<>();
            int[] prompt = {5, 17, 29, 41, 53};
            m.forwardAll(prompt);
            // decode steps up to the cache's last position (21: not a multiple of the group of 2 query heads)
            for (int p = prompt.length, id = 7; p < m.maxSequence(); p++, id = (id * 31 + 3) % 200) out.add(m.fixedStepLogits(id));
            m.reset();
            m.forwardAll(new int[]{9, 99});
            out.add(m.fixedStepLogits(3));   // stale rows past the position must not count
            int[] g = m.generate(prompt, 8, false, id -> { }).tokens();
            float[] tokens = new float[g.length];
            for (int i = 0; i < g.length; i++) tokens[i] = g[i];
            out.add(tokens);
            return out;
        } finally {
            LlamaModel.oneTaskCacheWrite = was;
        }
    }
}
