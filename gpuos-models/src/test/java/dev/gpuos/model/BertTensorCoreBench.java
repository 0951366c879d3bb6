package dev.gpuos.model;

import com.google.gson.JsonObject;
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

    static final int HIDDEN = 384, LAYERS = 6, HEADS = 12, INTER = 1536, VOCAB = 30522, MAX_POS = 512;
    static final int BATCH = 32, TOKENS = 128;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String option = args.length > 2 ? args[1] : "";
        Path file = args.length > 2 ? Path.of(args[2]) : null;
        if (!Files.exists(dir.resolve("model.safetensors"))) write(dir);
        int[][] ids = new int[BATCH][TOKENS];
        Random r = new Random(11);
        for (int[] row : ids) {
            for (int t = 0; t < TOKENS; t++) row[t] = t == 0 ? 2 : t == TOKENS - 1 ? 3 : 5 + r.nextInt(VOCAB - 5);
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

    /** A random MiniLM-shaped BertModel folder: f32 weights (linear std 0.05, embeddings 0.5), the tiny WordPiece tokenizer. */
    static void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        JsonObject c = new JsonObject();
        c.addProperty("model_type", "bert");
        c.addProperty("vocab_size", VOCAB);
        c.addProperty("hidden_size", HIDDEN);
        c.addProperty("num_hidden_layers", LAYERS);
        c.addProperty("num_attention_heads", HEADS);
        c.addProperty("intermediate_size", INTER);
        c.addProperty("max_position_embeddings", MAX_POS);
        c.addProperty("type_vocab_size", 2);
        c.addProperty("layer_norm_eps", 1e-12);
        c.addProperty("hidden_act", "gelu");
        Files.writeString(dir.resolve("config.json"), c.toString());
        Random r = new Random(5);
        int h = HIDDEN;
        SafetensorsWriter w = new SafetensorsWriter();
        w.add("embeddings.word_embeddings.weight", "F32", new long[]{VOCAB, h}, TinyModels.random(r, VOCAB * h, 0.5));
        w.add("embeddings.position_embeddings.weight", "F32", new long[]{MAX_POS, h}, TinyModels.random(r, MAX_POS * h, 0.5));
        w.add("embeddings.token_type_embeddings.weight", "F32", new long[]{2, h}, TinyModels.random(r, 2 * h, 0.5));
        w.add("embeddings.LayerNorm.weight", "F32", new long[]{h}, TinyModels.ones(r, h));
        w.add("embeddings.LayerNorm.bias", "F32", new long[]{h}, TinyModels.random(r, h, 0.05));
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            for (String m : new String[]{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
                w.add(p + m + ".weight", "F32", new long[]{h, h}, TinyModels.random(r, h * h, 0.05));
                w.add(p + m + ".bias", "F32", new long[]{h}, TinyModels.random(r, h, 0.05));
            }
            w.add(p + "attention.output.LayerNorm.weight", "F32", new long[]{h}, TinyModels.ones(r, h));
            w.add(p + "attention.output.LayerNorm.bias", "F32", new long[]{h}, TinyModels.random(r, h, 0.05));
            w.add(p + "intermediate.dense.weight", "F32", new long[]{INTER, h}, TinyModels.random(r, INTER * h, 0.05));
            w.add(p + "intermediate.dense.bias", "F32", new long[]{INTER}, TinyModels.random(r, INTER, 0.05));
            w.add(p + "output.dense.weight", "F32", new long[]{h, INTER}, TinyModels.random(r, h * INTER, 0.05));
            w.add(p + "output.dense.bias", "F32", new long[]{h}, TinyModels.random(r, h, 0.05));
            w.add(p + "output.LayerNorm.weight", "F32", new long[]{h}, TinyModels.ones(r, h));
            w.add(p + "output.LayerNorm.bias", "F32", new long[]{h}, TinyModels.random(r, h, 0.05));
        }
        w.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("tokenizer.json"), TinyModels.wordPieceTokenizer());
    }
}
