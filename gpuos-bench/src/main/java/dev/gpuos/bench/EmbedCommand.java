package dev.gpuos.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.gpuos.model.BertEncoder;
import dev.gpuos.model.ModelFormatException;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code gpuos embed --model DIR [--json FILE] [--backend gpu|cpu] TEXT...}: sentence embeddings of each TEXT
 * from a BERT model folder (all-MiniLM-L6-v2 style: mean pooling, L2-normalised), as one padded batch.
 */
final class EmbedCommand implements CliCommand {
    private final PrintStream out;
    private final PrintStream err;

    EmbedCommand(PrintStream out) {
        this(out, System.err);
    }

    EmbedCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public String name() { return "embed"; }

    @Override
    public String summary() {
        return "sentence embeddings from a BERT model folder: --model DIR [--json FILE] [--backend gpu|cpu] TEXT...";
    }

    @Override
    public String usage() {
        return """
                --model DIR           a BERT model folder: config.json, model.safetensors, tokenizer.json (required)
                TEXT...               the texts, embedded as one padded batch (at least one)
                --json FILE           write {"model", "dimension", "embeddings": [{"text", "embedding"}]} to FILE
                                      instead of printing one vector per line
                --backend gpu|cpu     the backend (default: gpu when present, else cpu with a note)
                --bf16                products (linear layers, attention) in bf16 on tensor cores, f32 elsewhere
                                      (default f32: embeddings as sentence-transformers' to 5 digits)
                --repeat N            time N runs of the batch after the first (default 1): median, min, max
                -h, --help            this text""";
    }

    @Override
    public int run(List<String> args) throws Exception {
        Path model = null, json = null;
        String backend = null;
        int repeat = 1;
        boolean bf16 = false;
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--bf16")) {
                bf16 = true;
            } else if (List.of("--model", "--json", "--backend", "--repeat").contains(a)) {
                if (i + 1 >= args.size()) throw new CliUsageException(a + " needs a value");
                String v = args.get(++i);
                switch (a) {
                    case "--model" -> model = Path.of(v);
                    case "--json" -> json = Path.of(v);
                    case "--repeat" -> {
                        try {
                            repeat = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            repeat = 0;
                        }
                        if (repeat < 1) throw new CliUsageException("--repeat needs a whole number >= 1, got " + v);
                    }
                    default -> backend = GenerateCommand.backendChoice(v);
                }
            } else if (a.startsWith("--")) {
                throw new CliUsageException("unknown option " + a + " (known: --model DIR, --json FILE, --backend gpu|cpu, --repeat N, --bf16)");
            } else {
                texts.add(a);
            }
        }
        if (model == null) throw new CliUsageException("--model DIR is required");
        if (texts.isEmpty()) throw new CliUsageException("give at least one TEXT to embed");
        try (ModelBackend b = ModelBackend.choose(backend, err)) {
            long t0 = System.nanoTime();
            BertEncoder encoder;
            ModelBackend.ProgressBar bar = new ModelBackend.ProgressBar(err);
            try {
                encoder = BertEncoder.load(model, b.backend(), bf16 ? dev.gpuos.tensor.DType.BF16 : dev.gpuos.tensor.DType.F32, bar);
            } catch (ModelFormatException e) {
                bar.end();
                err.println("embed: " + e.getMessage());
                return 1;
            }
            bar.end();
            try (encoder) {
                double loadMs = (System.nanoTime() - t0) / 1e6;
                try {
                    encoder.embed(texts);   // first run compiles the operators; the timed run below is the steady state
                } catch (IllegalArgumentException e) {
                    err.println("embed: " + e.getMessage());
                    return 1;
                }
                float[][] vectors = null;
                double[] ms = new double[repeat];
                for (int r = 0; r < repeat; r++) {
                    long t1 = System.nanoTime();
                    vectors = encoder.embed(texts);
                    ms[r] = (System.nanoTime() - t1) / 1e6;
                }
                java.util.Arrays.sort(ms);
                if (json != null) {
                    JsonObject root = new JsonObject();
                    root.addProperty("model", model.toString());
                    root.addProperty("dimension", vectors[0].length);
                    JsonArray items = new JsonArray();
                    for (int i = 0; i < texts.size(); i++) {
                        JsonObject item = new JsonObject();
                        item.addProperty("text", texts.get(i));
                        JsonArray v = new JsonArray();
                        for (float f : vectors[i]) v.add(f);
                        item.add("embedding", v);
                        items.add(item);
                    }
                    root.add("embeddings", items);
                    Files.writeString(json, new GsonBuilder().create().toJson(root), StandardCharsets.UTF_8);
                    out.println("wrote " + texts.size() + " embeddings of dimension " + vectors[0].length + " to " + json);
                } else {
                    for (int i = 0; i < texts.size(); i++) {
                        StringBuilder line = new StringBuilder(texts.get(i)).append("\t[");
                        for (int j = 0; j < vectors[i].length; j++) {
                            if (j > 0) line.append(", ");
                            line.append(String.format(Locale.ROOT, "%.6f", vectors[i][j]));
                        }
                        out.println(line.append(']'));
                    }
                }
                int longest = 0;
                for (String t : texts) longest = Math.max(longest, encoder.tokenizer().encode(t).length);
                err.printf(Locale.ROOT, "%s: %d text(s) of up to %d tokens in %.3f ms (%s products; %s after a first run; load %.0f ms); %s%n",
                        b.description(), texts.size(), longest, ms[repeat / 2], encoder.computeType(),
                        repeat == 1 ? "one run" : String.format(Locale.ROOT, "median of %d, min %.3f, max %.3f,", repeat, ms[0], ms[repeat - 1]),
                        loadMs, encoder.mode());
            }
        }
        return 0;
    }
}
