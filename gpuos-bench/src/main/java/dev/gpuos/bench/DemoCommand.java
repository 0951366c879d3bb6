package dev.gpuos.bench;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;
import java.io.PrintStream;
import java.util.List;

/**
 * {@code gpuos demo}: a 2-layer MLP and one attention-decode step at batch 1, written with the eager-style
 * Tensor API. On a GPU every op runs inside the persistent worker, batched into few submissions; the demo
 * prints how many, checks the results against the CPU backend, and times a few streamed repetitions. Without
 * a GPU it says so and runs the same code on the CPU backend.
 */
final class DemoCommand implements CliCommand {
    private static final int HIDDEN = 256;
    private static final int IN = 128;
    private static final int OUT = 64;
    private static final int HEAD = 64;
    private static final int CONTEXT = 512;

    private final PrintStream out;

    DemoCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "run a small MLP and an attention step with the Tensor API (GPU if present, else CPU)";
    }

    @Override
    public int run(List<String> args) throws Exception {
        if (!args.isEmpty()) {
            throw new CliUsageException("demo takes no arguments");
        }
        float[] cpuMlp;
        float[] cpuAttention;
        try (TensorScope scope = TensorScope.open(CpuBackend.eager())) {
            cpuMlp = mlp(scope).toFloatArray();
            cpuAttention = attention(scope).toFloatArray();
        }
        if (!GpuOS.gpuAvailable()) {
            out.println("No GPU here (" + GpuOS.gpuUnavailableReason() + ").");
            out.println("Running the demo on the CPU backend instead (same API, same semantics).");
            printResult("MLP (1x" + IN + " -> " + HIDDEN + " gelu -> " + OUT + ")", cpuMlp, null);
            printResult("attention decode (q 1x" + HEAD + ", K/V " + CONTEXT + "x" + HEAD + ")", cpuAttention, null);
            return 0;
        }
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            out.println("GPU: " + os.deviceName() + "; worker " + os.stats().generation());
            GpuBackend gpu = new GpuBackend(os);
            float[] gpuMlp;
            float[] gpuAttention;
            long t0 = System.nanoTime();
            try (TensorScope scope = TensorScope.open(gpu)) {
                gpuMlp = mlp(scope).toFloatArray();
            }
            GpuBackend.Stats afterMlp = gpu.stats();
            try (TensorScope scope = TensorScope.open(gpu)) {
                gpuAttention = attention(scope).toFloatArray();
            }
            GpuBackend.Stats afterAttention = gpu.stats();
            long firstRunMillis = (System.nanoTime() - t0) / 1_000_000;
            printResult("MLP (1x" + IN + " -> " + HIDDEN + " gelu -> " + OUT + ")", gpuMlp, cpuMlp);
            out.printf("  recorded ops became %d submission(s) and %d GPU task(s)%n", afterMlp.submissions(),
                    afterMlp.tasks());
            printResult("attention decode (q 1x" + HEAD + ", K/V " + CONTEXT + "x" + HEAD + ")", gpuAttention,
                    cpuAttention);
            out.printf("  recorded ops became %d submission(s) and %d GPU task(s)%n",
                    afterAttention.submissions() - afterMlp.submissions(), afterAttention.tasks() - afterMlp.tasks());
            out.printf("first run (incl. JIT of %d operators): %d ms%n", afterAttention.operatorsCompiled(),
                    firstRunMillis);
            timeStreamed(gpu, "GPU");
            timeReplayed(gpu);
            timeStreamed(CpuBackend.eager(), "CPU");
            if ("w1".equals(System.getenv("GPUOS_PROFILE"))) {
                profileIndependentAdds(gpu);
            } else if (System.getenv("GPUOS_PROFILE") != null) {
                try (StackSampler sampler = new StackSampler(Thread.currentThread())) {
                    for (int i = 0; i < 5; i++) {
                        timeStreamed(gpu, "GPU (profiled)");
                    }
                    sampler.print(out, 40);
                }
            }
        }
        return 0;
    }

    /** 10,000 independent 1024-element adds through the tensor API (workload W1), with the stack sampler on. */
    private void profileIndependentAdds(Backend backend) {
        try (TensorScope scope = TensorScope.open(backend)) {
            Tensor[] a = new Tensor[10_000];
            Tensor[] b = new Tensor[10_000];
            for (int i = 0; i < a.length; i++) {
                a[i] = scope.randn(i, DType.F32, 1024);
                b[i] = scope.randn(i + 1_000_000L, DType.F32, 1024);
            }
            scope.sync();
            int rounds = Integer.parseInt(System.getenv().getOrDefault("GPUOS_PROFILE_ROUNDS", "3"));
            for (int round = 0; round < rounds; round++) {
                Tensor last = null;
                try (TensorScope inner = TensorScope.open(backend);
                     StackSampler sampler = round == rounds - 1 ? new StackSampler(Thread.currentThread()) : null) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < a.length; i++) {
                        last = a[i].add(b[i]);
                    }
                    long recorded = System.nanoTime();
                    inner.sync();
                    long t1 = System.nanoTime();
                    out.printf("W1 via tensor API: 10,000 adds in %.3f ms (recording %.3f ms, then sync %.3f ms)%n",
                            (t1 - t0) / 1e6, (recorded - t0) / 1e6, (t1 - recorded) / 1e6);
                    if (sampler != null) {
                        sampler.print(out, 45);
                    }
                    if (backend instanceof GpuBackend g) out.println(g.plannerProfile());
                }
            }
        }
    }

    /** The MLP forward captured once (GpuBackend.capture), then 100 runs of the replay, each after an input copy. */
    private void timeReplayed(GpuBackend gpu) {
        try (TensorScope scope = TensorScope.open(gpu)) {
            Weights w = new Weights(scope);
            Tensor x = scope.randn(1, DType.F32, 1, IN);
            Tensor next = scope.randn(2, DType.F32, 1, IN);
            scope.sync();
            Tensor[] y = new Tensor[1];
            GpuReplay forward = gpu.capture(() -> y[0] = w.forward(x));
            forward.run();
            y[0].toFloatArray(); // warm
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                x.copyFrom(next);  // a new input each run, copied in place
                forward.run();
            }
            y[0].toFloatArray();
            long t1 = System.nanoTime();
            out.printf("GPU replay: 100 MLP forwards captured once (%d tasks per run), each after an input copy, "
                    + "in %.3f ms%n", forward.taskCount(), (t1 - t0) / 1e6);
        }
    }

    /** 100 MLP forward passes recorded back to back, one sync at the end: what streaming looks like. */
    private void timeStreamed(Backend backend, String label) {
        try (TensorScope scope = TensorScope.open(backend)) {
            Weights w = new Weights(scope);
            Tensor x = scope.randn(1, DType.F32, 1, IN);
            w.forward(x).toFloatArray(); // warm
            long t0 = System.nanoTime();
            Tensor last = null;
            for (int i = 0; i < 100; i++) {
                last = w.forward(x);
            }
            long recorded = System.nanoTime();
            last.toFloatArray();
            long t1 = System.nanoTime();
            out.printf("%s: 100 streamed MLP forwards (5 ops each) in %.3f ms (recording %.3f ms, then sync %.3f ms)%n",
                    label, (t1 - t0) / 1e6, (recorded - t0) / 1e6, (t1 - recorded) / 1e6);
        }
    }

    private record Weights(Tensor w1, Tensor b1, Tensor w2, Tensor b2) {
        Weights(TensorScope scope) {
            this(scope.randn(11, DType.F32, IN, HIDDEN).mul(0.1), scope.randn(12, DType.F32, HIDDEN).mul(0.1),
                    scope.randn(13, DType.F32, HIDDEN, OUT).mul(0.1), scope.randn(14, DType.F32, OUT).mul(0.1));
        }

        Tensor forward(Tensor x) {
            return x.matmul(w1).add(b1).gelu().matmul(w2).add(b2);
        }
    }

    private static Tensor mlp(TensorScope scope) {
        return new Weights(scope).forward(scope.randn(1, DType.F32, 1, IN));
    }

    private static Tensor attention(TensorScope scope) {
        Tensor q = scope.randn(21, DType.F32, 1, HEAD);
        Tensor k = scope.randn(22, DType.F32, CONTEXT, HEAD);
        Tensor v = scope.randn(23, DType.F32, CONTEXT, HEAD);
        Tensor scores = q.matmul(k.transpose(0, 1)).div(Math.sqrt(HEAD));
        return scores.softmax(-1).matmul(v);
    }

    private void printResult(String what, float[] got, float[] reference) {
        var preview = new StringBuilder();
        for (int i = 0; i < Math.min(4, got.length); i++) {
            preview.append(i == 0 ? "" : ", ").append(String.format("%.5f", got[i]));
        }
        out.printf("%s: [%s, ...] (%d values)%n", what, preview, got.length);
        if (reference != null) {
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < got.length; i++) {
                diff += (got[i] - reference[i]) * (double) (got[i] - reference[i]);
                norm += reference[i] * (double) reference[i];
            }
            out.printf("  vs the CPU backend: relative error ||gpu - cpu|| / ||cpu|| = %.2e%n",
                    Math.sqrt(diff / Math.max(norm, 1e-300)));
        }
    }
}
