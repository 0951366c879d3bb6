package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.GpuBackend;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * BERT at batch 32 x 128 tokens (all-MiniLM-L6-v2's shape: hidden 384, 6 layers, 12 heads, FFN 1536) with bf16
 * products on the GPU backend: median of 30 embeddings of one batch of seeded random ids after 3 warm-ups (the
 * forward pass captured once, then replayed). Run it twice in one GPU call, with -Dgpuos.matmul.tensorCores=false
 * (M_MMA) and =true (M_MMA_ASYNC), the first with {@code --save FILE}, the second with {@code --compare FILE}: the
 * second prints the worst cosine between the two runs' embeddings (the same products in another order: bf16
 * rounding apart, no more). The model folder is written by the first run that finds none (random weights, seeded;
 * no Python needed). Not a test.
 * usage: BertTensorCoreBench DIR [--save FILE | --compare FILE]
 */
public final class BertTensorCoreBench {
    private BertTensorCoreBench() {}

    /** MiniLM's shape: f32 weights (linear std 0.05, embeddings 0.5), the tiny WordPiece tokenizer. */
    static final TinyModels.BertShape MINI_LM = new TinyModels.BertShape(30522, 384, 6, 12, 1536, 512, 0.05);
    static final int BATCH = 32, TOKENS = 128;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String option = args.length > 2 ? args[1] : "";
        Path file = args.length > 2 ? Path.of(args[2]) : null;
        if (!Files.exists(dir.resolve("model.safetensors"))) TinyModels.writeBert(dir, TinyModels.bertConfig(MINI_LM), 5, MINI_LM);
        int[][] ids = new int[BATCH][TOKENS];
        Random r = new Random(11);
        for (int[] row : ids) {
            for (int t = 0; t < TOKENS; t++) row[t] = t == 0 ? 2 : t == TOKENS - 1 ? 3 : 5 + r.nextInt(MINI_LM.vocab() - 5);
        }
        String sw = System.getProperty("gpuos.matmul.tensorCores", "(unset: false)");
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults());
             BertEncoder e = BertEncoder.load(dir, new GpuBackend(os), DType.BF16, LoadProgress.NONE)) {
            float[][] emb = null;
            for (int w = 0; w < 3; w++) emb = e.embedIds(ids);
            double[] ms = new double[30];
            for (int i = 0; i < ms.length; i++) {
                long t0 = System.nanoTime();
                emb = e.embedIds(ids);
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            String cmp = "";
            if (option.equals("--save")) save(file, emb);
            if (option.equals("--compare") && !Files.exists(file)) cmp = "; no " + file.getFileName() + " to compare with";
            if (option.equals("--compare") && Files.exists(file)) {
                float[][] other = read(file);
                double worst = 1;
                for (int i = 0; i < emb.length; i++) worst = Math.min(worst, HfFixtureChecks.cosine(other[i], emb[i]));
                cmp = String.format(Locale.ROOT, "; worst cosine vs %s: %.9f", file.getFileName(), worst);
            }
            System.out.printf(Locale.ROOT, "ROW: bert %dx%d bf16 products, gpuos.matmul.tensorCores=%s, %d KB shared memory a "
                    + "worker block: median %.3f ms (min %.3f, max %.3f, 30 runs)%s; %s%n", BATCH, TOKENS, sw,
                    os.sharedMemoryBytes() / 1024, ms[15], ms[0], ms[29], cmp, e.mode());
        }
    }

    private static void save(Path file, float[][] emb) throws IOException {
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            out.writeInt(emb.length);
            out.writeInt(emb[0].length);
            for (float[] row : emb) for (float v : row) out.writeFloat(v);
        }
    }

    private static float[][] read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            float[][] emb = new float[in.readInt()][in.readInt()];
            for (float[] row : emb) for (int i = 0; i < row.length; i++) row[i] = in.readFloat();
            return emb;
        }
    }
}
