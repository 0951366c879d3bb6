package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Session 17's forms on the GPU, each against its other form on the same GPU and against the CPU backend: the
 * decode step's RoPE and cache writes in one task a layer (the query heads left in the cache's extra rows, read
 * by attention from there) vs three; BERT captured vs recorded per batch (attention per token and head, padding).
 */
@Tag("gpu")
class GpuDecodeFormsTest {
    static GpuOS os;
    static GpuBackend gpu;

    @BeforeAll
    static void start() {
        os = GpuModelTests.startOrSkip();
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void stop() {
        if (os != null) os.close();
    }

    @Test
    void decodeStepFormsAgreeOnTheGpu() {
        for (DType compute : new DType[]{DType.F32, DType.BF16}) {
            List<float[]> one = decode(gpu, true, compute), three = decode(gpu, false, compute),
                    cpu = decode(CpuBackend.eager(), true, compute);
            double worstForms = 0, worstCpu = 0;
            for (int i = 0; i < one.size() - 1; i++) {
                worstForms = Math.max(worstForms, HfFixtureChecks.normwise(three.get(i), one.get(i)));
                worstCpu = Math.max(worstCpu, HfFixtureChecks.normwise(cpu.get(i), one.get(i)));
            }
            System.out.printf(Locale.ROOT, "decode forms (%s products) on the GPU: one task vs three, worst logits error %.2e; vs the CPU backend %.2e%n",
                    compute, worstForms, worstCpu);
            // the same expressions, grouped into other fused operators (only a contraction into FMA may differ)
            assertTrue(worstForms <= 1e-5, compute + ": one task vs three tasks " + worstForms);
            assertTrue(worstCpu <= (compute == DType.F32 ? 1e-4 : 2e-2), compute + ": GPU vs CPU " + worstCpu);
            assertArrayEquals(three.getLast(), one.getLast(), compute + ": greedy tokens, one task vs three");
        }
    }

    /** Logits of decode steps up to the cache's last row and after a reset, then 8 greedy tokens (the last entry). */
    private static List<float[]> decode(Backend backend, boolean oneTask, DType compute) {
        boolean was = LlamaModel.oneTaskCacheWrite;
        LlamaModel.oneTaskCacheWrite = oneTask;
        try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture("llama-tiny-untied-bf16"), backend, 21, compute, LoadProgress.NONE)) {
            List<float[]> out = new ArrayList<>();
            int[] prompt = {5, 17, 29, 41, 53};
            m.forwardAll(prompt);
            for (int p = prompt.length, id = 7; p < m.maxSequence(); p++, id = (id * 31 + 3) % 200) out.add(m.fixedStepLogits(id));
            m.reset();
            m.forwardAll(new int[]{9, 99});
            out.add(m.fixedStepLogits(3));
            int[] g = m.generate(prompt, 8, false, id -> { }).tokens();
            float[] tokens = new float[g.length];
            for (int i = 0; i < g.length; i++) tokens[i] = g[i];
            out.add(tokens);
            return out;
        } finally {
            LlamaModel.oneTaskCacheWrite = was;
        }
    }

    @Test
    void bertCapturedAndRecordedAgreeOnTheGpu() {
        boolean was = BertEncoder.capture;
        try (BertEncoder enc = BertEncoder.load(ModelTestAccess.fixture("bert-tiny"), gpu, LoadProgress.NONE);
             BertEncoder ref = BertEncoder.load(ModelTestAccess.fixture("bert-tiny"), CpuBackend.eager(), LoadProgress.NONE)) {
            SplittableRandom rnd = new SplittableRandom(3);
            double worstForms = 0, worstCpu = 0;
            for (int[] shape : new int[][]{{1, 16}, {3, 12}, {1, 16}, {3, 12}, {32, 20}}) {
                int[][] ids = BertCapturePlanTest.batch(rnd, shape[0], shape[1]);
                BertEncoder.capture = true;
                BertEncoder.Output captured = enc.forward(ids);
                assertTrue(enc.mode().startsWith("replayed"), enc.mode());
                BertEncoder.capture = false;
                BertEncoder.Output recorded = enc.forward(ids);
                assertTrue(enc.mode().startsWith("recorded"), enc.mode());
                BertEncoder.Output cpu = ref.forward(ids);
                assertEquals(cpu.lastHiddenState().length, captured.lastHiddenState().length);
                worstForms = Math.max(worstForms, HfFixtureChecks.normwise(recorded.lastHiddenState(), captured.lastHiddenState()));
                worstCpu = Math.max(worstCpu, HfFixtureChecks.normwise(cpu.lastHiddenState(), captured.lastHiddenState()));
                for (int i = 0; i < ids.length; i++) {
                    worstCpu = Math.max(worstCpu, 1 - HfFixtureChecks.cosine(cpu.embeddings()[i], captured.embeddings()[i]));
                }
            }
            System.out.printf(Locale.ROOT, "bert on the GPU: captured vs recorded, worst hidden-state error %.2e; vs the CPU backend %.2e%n",
                    worstForms, worstCpu);
            assertTrue(worstForms <= 1e-6, "captured vs recorded " + worstForms);
            assertTrue(worstCpu <= 1e-4, "GPU vs CPU " + worstCpu);
        } finally {
            BertEncoder.capture = was;
        }
    }
}
