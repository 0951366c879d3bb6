package dev.gpuos.model;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * GPU-machine check (bench/models/gpu_check.sh): greedy tokens of the full-size random Llama on the GPU backend
 * from HF's prompt ids, against HF's bf16 greedy tokens and top-2 gaps (hf_timing.json of make_fixtures.py --full).
 * A report, not a test: at full size random weights give near-ties that bf16 rounding in a different order may
 * flip, so it prints where the two first differ and HF's gap there.
 *
 * <p>usage: FullSizeGreedy MODEL_DIR hf_timing.json
 */
public final class FullSizeGreedy {
    private FullSizeGreedy() {}

    public static void main(String[] args) throws Exception {
        Path folder = Path.of(args[0]);
        JsonObject t = JsonParser.parseString(Files.readString(Path.of(args[1]))).getAsJsonObject();
        int[] prompt = HfFixtureChecks.ints(t.get("llama_prompt_ids"));
        int[] hf = HfFixtureChecks.ints(t.get("llama_greedy_first16"));
        float[] gaps = t.has("llama_greedy_first16_top2_gap") ? HfFixtureChecks.floats(t.get("llama_greedy_first16_top2_gap")) : null;
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            GpuBackend gpu = new GpuBackend(os);
            try (LlamaModel m = LlamaModel.load(folder, gpu, prompt.length + hf.length, LoadProgress.NONE)) {
                int[] got = m.generate(prompt, hf.length, false, id -> { }).tokens();
                int first = -1;
                for (int i = 0; i < hf.length && first < 0; i++) if (hf[i] != got[i]) first = i;
                System.out.printf(Locale.ROOT, "full-size greedy vs HF bf16 (%s products): %s%n", m.computeType(),
                        first < 0 ? hf.length + "/" + hf.length + " tokens identical"
                                : "identical up to token " + first + (gaps != null ? String.format(Locale.ROOT,
                                " (HF top-2 gap there %.4f; HF gaps %s)", gaps[first], Arrays.toString(gaps)) : "")
                                + "; HF " + Arrays.toString(hf) + ", GPUOS " + Arrays.toString(got));
            }
        }
    }
}
