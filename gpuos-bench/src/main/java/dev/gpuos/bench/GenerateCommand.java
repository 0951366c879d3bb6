package dev.gpuos.bench;

import dev.gpuos.model.LlamaConfig;
import dev.gpuos.model.LlamaModel;
import dev.gpuos.model.ModelFormatException;
import dev.gpuos.model.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code gpuos generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T [--seed N]] [--ignore-eos]
 * [--backend gpu|cpu]}: decoding with a Llama-architecture model folder (greedy unless a temperature is given),
 * printing the text as it is produced and then the speed.
 */
final class GenerateCommand implements CliCommand {
    private final PrintStream out;
    private final PrintStream err;

    GenerateCommand(PrintStream out) {
        this(out, System.err);
    }

    GenerateCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public String name() { return "generate"; }

    @Override
    public String summary() {
        return "text generation from a Llama model folder (greedy, or --temperature T --seed N): --model DIR --prompt TEXT [--max-tokens N] [--ignore-eos] [--backend gpu|cpu]";
    }

    @Override
    public String usage() {
        return """
                --model DIR           a Llama model folder: config.json, model.safetensors, tokenizer.json (required)
                --prompt TEXT         the prompt; the tokenizer adds its special tokens (required)
                --max-tokens N        new tokens at most (default 64)
                --temperature T       sample from softmax(logits / T) (default 0: greedy)
                --seed N              the sampling seed (default 0)
                --ignore-eos          do not stop at an end-of-sequence token
                --f32                 compute in f32 (16-bit weights widened at load; default: bf16/f16 weights
                                      stay as stored and the products run in that dtype)
                --warmup              generate once silently first (operators compiled, decode step captured),
                                      so the timings printed are the steady state
                --backend gpu|cpu     the backend (default: gpu when present, else cpu with a note)
                -h, --help            this text""";
    }

    static String backendChoice(String v) {
        if (!v.equals("gpu") && !v.equals("cpu")) throw new CliUsageException("--backend needs 'gpu' or 'cpu', got " + v);
        return v;
    }

    @Override
    public int run(List<String> args) throws Exception {
        Path model = null;
        String prompt = null, backend = null;
        int maxTokens = 64;
        double temperature = 0;
        long seed = 0;
        boolean ignoreEos = false, f32 = false, warmup = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--ignore-eos") || a.equals("--f32") || a.equals("--warmup")) {
                if (a.equals("--ignore-eos")) ignoreEos = true;
                else if (a.equals("--f32")) f32 = true;
                else warmup = true;
                continue;
            }
            if (!List.of("--model", "--prompt", "--max-tokens", "--backend", "--temperature", "--seed").contains(a) || i + 1 >= args.size()) {
                throw new CliUsageException("unknown option or missing value: " + a + " (known: --model DIR, --prompt TEXT,"
                        + " --max-tokens N, --temperature T, --seed N, --ignore-eos, --f32, --warmup, --backend gpu|cpu)");
            }
            String v = args.get(++i);
            switch (a) {
                case "--model" -> model = Path.of(v);
                case "--prompt" -> prompt = v;
                case "--backend" -> backend = backendChoice(v);
                case "--temperature" -> {
                    try {
                        temperature = Double.parseDouble(v);
                    } catch (NumberFormatException e) {
                        temperature = -1;
                    }
                    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                        throw new CliUsageException("--temperature needs a number >= 0 (0: greedy), got " + v);
                    }
                }
                case "--seed" -> {
                    try {
                        seed = Long.parseLong(v);
                    } catch (NumberFormatException e) {
                        throw new CliUsageException("--seed needs a whole number, got " + v);
                    }
                }
                default -> {
                    try {
                        maxTokens = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        maxTokens = 0;
                    }
                    if (maxTokens < 1) throw new CliUsageException("--max-tokens needs a positive number, got " + v);
                }
            }
        }
        if (model == null) throw new CliUsageException("--model DIR is required");
        if (prompt == null) throw new CliUsageException("--prompt TEXT is required");
        try (ModelBackend b = ModelBackend.choose(backend, err)) {
            long t0 = System.nanoTime();
            LlamaModel llama;
            ModelBackend.ProgressBar bar = new ModelBackend.ProgressBar(err);
            try {
                // the decode step attends over the whole cache, so size it to this prompt and --max-tokens
                LlamaConfig cfg = LlamaConfig.read(model);   // config.json first: its errors say more than the tokenizer's
                int promptTokens = Tokenizer.load(model.resolve("tokenizer.json")).encode(prompt).length;
                long need = (long) promptTokens + maxTokens;   // an int sum wraps at --max-tokens near 2^31
                if (need > cfg.maxPositions()) {   // say so before loading gigabytes of weights
                    err.println("generate: the prompt has " + promptTokens + " tokens; with --max-tokens " + maxTokens
                            + " that is " + need + " positions, more than the model's max_position_embeddings " + cfg.maxPositions());
                    return 1;
                }
                llama = LlamaModel.load(model, b.backend(), (int) ((need + 63) / 64 * 64),
                        f32 ? dev.gpuos.tensor.DType.F32 : null, bar);
            } catch (ModelFormatException e) {
                bar.end();
                err.println("generate: " + e.getMessage());
                return 1;
            }
            bar.end();
            try (llama) {
                double loadMs = (System.nanoTime() - t0) / 1e6;
                Tokenizer tok = llama.tokenizer();
                int[] ids = tok.encode(prompt);
                if (ids.length + maxTokens > llama.maxSequence()) {
                    err.println("generate: the prompt has " + ids.length + " tokens; with --max-tokens " + maxTokens
                            + " it does not fit the KV cache of " + llama.maxSequence() + " positions");
                    return 1;
                }
                err.printf(Locale.ROOT, "%s: %s weights (products in %s), %d prompt tokens, loaded in %.0f ms%n",
                        b.description(), llama.storedType(), llama.computeType(), ids.length, loadMs);
                if (warmup) {
                    long w0 = System.nanoTime();
                    llama.generate(ids, maxTokens, !ignoreEos, LlamaModel.Sampling.temperature(temperature, seed), id -> { });
                    err.printf(Locale.ROOT, "warm-up generation: %.0f ms%n", (System.nanoTime() - w0) / 1e6);
                }
                out.print(prompt);
                out.flush();
                Tokenizer.StreamDecoder text = tok.streamDecoder();
                LlamaModel.Generation g = llama.generate(ids, maxTokens, !ignoreEos, LlamaModel.Sampling.temperature(temperature, seed), id -> {
                    out.print(text.next(id));
                    out.flush();
                });
                out.println(text.finish());
                err.printf(Locale.ROOT, "%d tokens: prefill %.1f ms (%d tokens), decode %.2f tok/s (%.2f ms/token); decode step %s%n",
                        g.tokens().length, g.prefillSeconds() * 1e3, ids.length, g.decodeTokensPerSecond(),
                        1e3 / g.decodeTokensPerSecond(), llama.decodeMode());
            }
        }
        return 0;
    }
}
