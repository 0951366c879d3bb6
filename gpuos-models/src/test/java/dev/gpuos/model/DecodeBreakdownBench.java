package dev.gpuos.model;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.cuda.Driver;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.TransferTimes;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.GpuReplay;
import dev.gpuos.tensor.gpu.ProductFusionSwitch;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * Where a Llama-3.2-1B-shaped bf16 decode step spends its time (issue 14), on the GPU machine: the parts of the
 * replayed step in isolation, each as a replayed capture of the same shapes and dtypes (random weights), and the
 * whole step of the model in LLAMA_DIR replayed back to back; then where a load's time goes.
 * <ul>
 *   <li>each product family (q/k/v stacked, o, gate/up stacked, down, lm_head): "1/run", one product per replay run
 *   in rotation over 16 weights (what a run costs end to end); "16 chained", the 16 layers' products as a chain of
 *   dependent tasks in one capture (each reads the one before: what the step does); "16 indep.", the same 16
 *   products without dependences (the worker overlaps them: the streaming rate). GB/s of weight read against
 *   the HBM copy rate.</li>
 *   <li>attention of one query (32 heads, 8 KV heads, d 64) over caches of a few lengths, the cache write (where
 *   over the whole cache), residual + RMSNorm, SwiGLU, argmax: per layer and as 16-layer chains.</li>
 *   <li>a trivial replay (one elementwise task) and a 16-task dependent chain of residual + norm: the fixed cost
 *   of a run and of a dependent hand-off, to read the rest against.</li>
 *   <li>the whole step ({@link LlamaModel#launchNextDecodeStep}: step p + 1 launched before step p's argmax is
 *   read, as generate does) with its task names and tile counts; then an estimate per token: the chained family
 *   times times their count per step, and what is left.</li>
 *   <li>load: reading the mapped safetensors from the page cache on 1 and 8 threads, one 512 MB upload through
 *   the backend, and LlamaModel.load itself.</li>
 * </ul>
 * usage: DecodeBreakdownBench LLAMA_DIR [maxSequence, default 160] [hbm copy bytes/s, default 2.9e12] [parts, default
 * fixed,products,attention,small,load,step; "firstload" alone in a fresh JVM: see {@link #firstLoad}; "alloc": see
 * {@link #rawAllocations}] [sim: on the simulated device, to try the bench's code on a small folder]
 */
public final class DecodeBreakdownBench {
    /** The shapes of the model in LLAMA_DIR (Llama-3.2-1B: 16 layers, hidden 2048, 8192, 128256, 32 heads, 8 KV, d 64). */
    private static int LAYERS;
    private static long HIDDEN, INTER, VOCAB, HEADS, KV, D;
    private static double hbm = 2.9e12;

    private DecodeBreakdownBench() {}

    /** A measured part: its time per run, bytes it streams per run, its share of a token. */
    private record Row(String name, int tasks, double usPerRun, long bytes, double perToken, String note) {
        String format() {
            double gbs = bytes / (usPerRun * 1e-6) / 1e9;
            return String.format(Locale.ROOT, "%-44s %6d %10.1f %9s %6s %10s  %s", name, tasks, usPerRun,
                    bytes > 0 ? String.format(Locale.ROOT, "%.0f", gbs) : "-",
                    bytes > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * gbs * 1e9 / hbm) : "-",
                    perToken > 0 ? String.format(Locale.ROOT, "%.3f", perToken * usPerRun / 1e3) : "",
                    note);
        }
    }

    private static final List<Row> ROWS = new ArrayList<>();
    /** Whether a LlamaModel.load ran in this JVM before (the step's load line says which it was). */
    private static boolean firstLoadDone;
    private static final List<String> LINES = new ArrayList<>();

    private static void add(Row r) {
        ROWS.add(r);
        System.out.println("  " + r.format());
        System.out.flush();
    }

    private static void line(String s) {
        LINES.add(s);
        System.out.println("  " + s);
        System.out.flush();
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int maxSeq = args.length > 1 ? Integer.parseInt(args[1]) : 160;
        if (args.length > 2) hbm = Double.parseDouble(args[2]);
        List<String> parts = List.of((args.length > 3 ? args[3] : "fixed,products,attention,small,load,step").split(","));
        if (args.length > 4 && args[4].equals("sim")) {   // the bench's own code on the simulated device (no timings worth reading)
            try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), dev.gpuos.SimulatedWorkerDevice.sink(2))) {
                run(os, dir, maxSeq, parts);
            }
            return;
        }
        if (parts.contains("alloc")) part("alloc", () -> rawAllocations(dir, "no worker running (before GpuOS starts)", true));
        try (GpuOS os = GpuOS.start(GpuOSOptions.defaults())) {
            if (parts.contains("alloc")) part("alloc", () -> rawAllocations(dir, "the worker running", false));
            run(os, dir, maxSeq, parts);
        }
    }

    /** The folder's config, its sizes also set as the bench's shape (LAYERS, HIDDEN, ...). */
    private static LlamaConfig readShape(Path dir) {
        LlamaConfig c = LlamaConfig.read(dir);
        LAYERS = c.layers();
        HIDDEN = c.hiddenSize();
        INTER = c.intermediateSize();
        VOCAB = c.vocabSize();
        HEADS = c.heads();
        KV = c.kvHeads();
        D = c.headDim();
        return c;
    }

    /** The bench on {@code os} (the GPU's, or a simulated device's to try the bench's own code on a small folder). */
    static void run(GpuOS os, Path dir, int maxSeq, List<String> parts) {
        readShape(dir);
        String header = String.format(Locale.ROOT, "%-44s %6s %10s %9s %6s %10s  %s", "part", "tasks", "us/run",
                "GB/s", "%copy", "ms/token", "note");
        System.out.println(header);
        GpuBackend gpu = new GpuBackend(os);
        // most telling first: a run cut short by its time limit keeps what it printed
        if (parts.contains("firstload")) part("first load", () -> firstLoad(gpu, dir));
        if (parts.contains("fixed")) part("fixed costs", () -> fixed(gpu));
        if (parts.contains("step")) part("whole step", () -> wholeStep(gpu, dir, maxSeq, ""));
        if (parts.contains("fusionab")) part("fusion A/B", () -> fusionAB(gpu, dir, maxSeq));
        if (parts.contains("products")) part("products", () -> products(gpu));
        if (parts.contains("load")) part("load", () -> load(gpu, dir));
        if (parts.contains("small")) part("small ops", () -> smallOps(gpu, maxSeq));
        if (parts.contains("attention")) part("attention", () -> attention(gpu, maxSeq));
        if (parts.contains("step")) line(sumOfParts(maxSeq));
        System.out.println("== decode breakdown (H100 copy rate taken as " + hbm / 1e12 + " TB/s; ms/token = us/run x runs per token)");
        System.out.println("  " + header);
        ROWS.forEach(r -> System.out.println("  " + r.format()));
        LINES.forEach(l -> System.out.println("  " + l));
    }

    private interface Part {
        void run() throws Exception;
    }

    private static void part(String name, Part p) {
        try {
            p.run();
        } catch (Exception | AssertionError e) {
            line(name + " FAILED: " + e);
            e.printStackTrace();
        }
    }

    /** Seconds per run of the replays, run in rotation after a warm-up; as many runs as fit about 0.25 s. */
    static double seconds(GpuBackend gpu, List<GpuReplay> replays) {
        for (GpuReplay r : replays) r.run();
        gpu.sync();
        long t0 = System.nanoTime();
        for (GpuReplay r : replays) r.run();
        gpu.sync();
        double first = (System.nanoTime() - t0) / 1e9 / replays.size();
        int runs = (int) Math.max(2L * replays.size(), Math.min(3000, (long) (0.25 / first)));
        t0 = System.nanoTime();
        for (int i = 0; i < runs; i++) replays.get(i % replays.size()).run();
        gpu.sync();
        return (System.nanoTime() - t0) / 1e9 / runs;
    }

    private static GpuReplay capture(GpuBackend gpu, Supplier<Tensor> program) {
        return gpu.captureReturning(() -> List.of(program.get()));
    }

    private static void timed(GpuBackend gpu, String name, long bytes, double perToken, String note, List<GpuReplay> rs) {
        double s = seconds(gpu, rs);
        add(new Row(name, rs.getFirst().taskCount(), s * 1e6, bytes, perToken, note));
        for (GpuReplay r : rs) r.close();
    }

    private static void fixed(GpuBackend gpu) {
        try (TensorScope s = TensorScope.open(gpu)) {
            Tensor x = s.randn(1, DType.F32, 1, HIDDEN), w = s.randn(2, DType.F32, HIDDEN);
            s.sync();
            timed(gpu, "one elementwise task (a run's fixed cost)", 0, 0, "", List.of(capture(gpu, () -> x.add(1.0))));
            timed(gpu, LAYERS + " x (residual + rms_norm), dependent", 0, 0, "per-link cost = (this - fixed)/" + (LAYERS - 1),
                    List.of(capture(gpu, () -> {
                        Tensor y = x;
                        for (int i = 0; i < LAYERS; i++) y = y.add(x).rmsNorm(new long[]{HIDDEN}, w, 1e-5);
                        return y;
                    })));
        }
    }

    /** x[1, k] @ W^T, W [m, k] bf16: one per run in rotation over 16 weights, 16 chained, 16 independent. */
    private static void products(GpuBackend gpu) {
        Object[][] families = {{"q/k/v stacked", (HEADS + 2 * KV) * D, HIDDEN, LAYERS}, {"o", HIDDEN, HEADS * D, LAYERS},
                {"gate/up stacked", 2 * INTER, HIDDEN, LAYERS}, {"down", HIDDEN, INTER, LAYERS}, {"lm_head", VOCAB, HIDDEN, 1}};
        for (Object[] f : families) {
            String name = (String) f[0];
            long m = (long) f[1], k = (long) f[2];
            int perToken = (int) f[3];
            int copies = perToken == 1 ? 2 : LAYERS;
            long wBytes = m * k * 2;
            try (TensorScope s = TensorScope.open(gpu)) {
                Tensor[] w = new Tensor[copies];
                for (int i = 0; i < copies; i++) w[i] = s.randn(100 + i, DType.BF16, m, k).mul(0.02);
                Tensor x = s.randn(7, DType.BF16, 1, k);
                s.sync();
                String shape = "[" + m + "," + k + "]";
                List<GpuReplay> one = new ArrayList<>();
                for (int i = 0; i < copies; i++) {
                    int c = i;
                    one.add(capture(gpu, () -> x.matmul(w[c].transpose(0, 1))));
                }
                timed(gpu, name + " " + shape + " 1/run", wBytes, perToken, "rotating over " + copies + " weights", one);
                if (m >= k) {
                    timed(gpu, name + " " + shape + " " + copies + " chained", wBytes * copies, perToken / (double) copies,
                            "x(i+1) = (x(i) @ W(i)^T)[:, :k]", List.of(capture(gpu, () -> {
                                Tensor y = x;
                                for (int i = 0; i < copies; i++) y = y.matmul(w[i].transpose(0, 1)).narrow(1, 0, k);
                                return y;
                            })));
                }
                timed(gpu, name + " " + shape + " " + copies + " indep.", wBytes * copies, perToken / (double) copies,
                        "no dependences", List.of(gpu.captureReturning(() -> {
                            List<Tensor> ys = new ArrayList<>();
                            for (int i = 0; i < copies; i++) ys.add(x.matmul(w[i].transpose(0, 1)));
                            return ys;
                        })));
            }
        }
    }

    private static void attention(GpuBackend gpu, int maxSeq) {
        for (long seq : new long[]{maxSeq, 1024, 4096}) {
            try (TensorScope s = TensorScope.open(gpu)) {
                Tensor[] kc = new Tensor[LAYERS], vc = new Tensor[LAYERS];
                for (int i = 0; i < LAYERS; i++) {
                    kc[i] = s.randn(300 + i, DType.F32, KV, seq, D);
                    vc[i] = s.randn(400 + i, DType.BF16, KV, seq, D);
                }
                Tensor q = s.randn(5, DType.F32, HEADS, 1, D);
                // rows past the middle masked, as at a position half way through the cache
                Tensor bias = s.arange(seq).gt(seq / 2).to(DType.F32).mul(-1e30);
                s.sync();
                long bytes = KV * seq * D * (4 + 2);
                double per = seq == maxSeq ? LAYERS : 0;
                timed(gpu, "attention S=" + seq + " 1 layer", bytes, 0, "one attention op",
                        List.of(capture(gpu, () -> LlamaModel.attend(q, kc[0], vc[0], bias))));
                timed(gpu, "attention S=" + seq + " " + LAYERS + " chained", bytes * LAYERS, per / LAYERS, "q(i+1) = out(i)",
                        List.of(capture(gpu, () -> {
                            Tensor y = q;
                            for (int i = 0; i < LAYERS; i++) y = LlamaModel.attend(y.to(DType.F32).view(HEADS, 1, D), kc[i], vc[i], bias);
                            return y;
                        })));
            }
        }
    }

    private static void smallOps(GpuBackend gpu, int maxSeq) {
        try (TensorScope s = TensorScope.open(gpu)) {
            Tensor[] kOld = new Tensor[LAYERS], vOld = new Tensor[LAYERS], kNew = new Tensor[LAYERS], vNew = new Tensor[LAYERS];
            for (int i = 0; i < LAYERS; i++) {
                kOld[i] = s.randn(500 + i, DType.F32, KV, maxSeq, D);
                vOld[i] = s.randn(600 + i, DType.BF16, KV, maxSeq, D);
                kNew[i] = s.zeros(DType.F32, KV, maxSeq, D);
                vNew[i] = s.zeros(DType.BF16, KV, maxSeq, D);
            }
            Tensor k = s.randn(7, DType.F32, KV, 1, D), v = s.randn(8, DType.BF16, KV, 1, D);
            Tensor row = s.arange(maxSeq).eq(maxSeq / 2).view(1, maxSeq, 1);
            Tensor x = s.randn(9, DType.F32, 1, HIDDEN), r = s.randn(10, DType.F32, 1, HIDDEN), w = s.randn(11, DType.F32, HIDDEN);
            Tensor gu = s.randn(12, DType.BF16, 1, 2 * INTER);
            Tensor logits = s.randn(13, DType.BF16, 1, VOCAB);
            s.sync();
            long cacheBytes = KV * maxSeq * D * (4 + 2) * 2L;   // read old, write new, keys and values
            timed(gpu, "cache write S=" + maxSeq + " x" + LAYERS + " indep.", cacheBytes * LAYERS, 1, "where(row == pos, new, old)",
                    List.of(gpu.captureReturning(() -> {
                        for (int i = 0; i < LAYERS; i++) {
                            kNew[i].copyFrom(Tensor.where(row, k, kOld[i]));
                            vNew[i].copyFrom(Tensor.where(row, v, vOld[i]));
                        }
                        return List.of(kNew[0]);
                    })));
            timed(gpu, "residual + rms_norm + bf16 cast 1/run", 0, 2 * LAYERS + 1, "",
                    List.of(capture(gpu, () -> x.add(r).rmsNorm(new long[]{HIDDEN}, w, 1e-5).to(DType.BF16))));
            timed(gpu, "SwiGLU [1," + 2 * INTER + "] bf16 1/run", 0, LAYERS, "",
                    List.of(capture(gpu, () -> gu.narrow(1, 0, INTER).to(DType.F32).silu().mul(gu.narrow(1, INTER, INTER)).to(DType.BF16))));
            timed(gpu, "argmax [1," + VOCAB + "] bf16 1/run", VOCAB * 2, 1, "", List.of(capture(gpu, logits::argmax)));
            // reduce.cu's argmax keeps loads in flight: its answer against the host's (first index of the maximum)
            for (long seed = 20; seed < 23; seed++) {
                Tensor l = s.randn(seed, DType.BF16, 1, VOCAB);
                long device = l.argmax().longItem();
                float[] vals = l.toFloatArray();
                int host = 0;
                for (int i = 1; i < vals.length; i++) if (vals[i] > vals[host]) host = i;
                line("argmax check, seed " + seed + ": device " + device + ", host " + host + (device == host ? " (same)" : " DIFFERENT"));
            }
        }
    }

    private static void load(GpuBackend gpu, Path dir) throws Exception {
        Path file = dir.resolve("model.safetensors");
        // each measurement maps the file anew, as a load does: its page faults are part of the price
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            for (int threads : new int[]{1, 8}) {
              try (Arena arena = Arena.ofShared()) {
                MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                long chunk = 64L << 20;
                long t0 = System.nanoTime();
                try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
                    List<Future<?>> done = new ArrayList<>();
                    long slice = Math.ceilDiv(size, threads);
                    for (int t = 0; t < threads; t++) {
                        long from = t * slice, to = Math.min(size, from + slice);
                        done.add(pool.submit(() -> {
                            MemorySegment buf = arena.allocate(chunk, 4096);
                            for (long off = from; off < to; off += chunk) {
                                MemorySegment.copy(map, off, buf, 0, Math.min(chunk, to - off));
                            }
                        }));
                    }
                    for (Future<?> f : done) f.get();
                }
                double sec = (System.nanoTime() - t0) / 1e9;
                line(String.format(Locale.ROOT, "load: page cache -> host buffer, %d thread(s): %.2f GB in %.0f ms (%.1f GB/s)",
                        threads, size / 1e9, sec * 1e3, size / 1e9 / sec));
              }
            }
            // an odd size, so the last chunk is partial; the uploaded bytes are compared around the chunk borders
            long bytes = Math.min(size & ~1L, 512L << 20) - 2 * 12345;
            for (boolean pipelined : bytes < (1L << 20) ? new boolean[0] : new boolean[]{false, true, false, true}) {
                DeviceRuntime.pipelinedCopies = pipelined;
                try (Arena arena = Arena.ofShared(); TensorScope s = TensorScope.open(gpu)) {
                    MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                    long t0 = System.nanoTime();
                    Tensor t = s.tensor(map.asSlice(0, bytes), DType.BF16, bytes / 2);
                    s.sync();
                    double sec = (System.nanoTime() - t0) / 1e9;
                    long bad = 0;
                    for (long at : new long[]{0, (16L << 20) - 4096, (32L << 20) - 4096, (4L << 20) - 4096, bytes - 8192}) {
                        long from = Math.max(0, Math.min(at, bytes - 8192)) / 2;
                        float[] got = t.narrow(0, from, 4096).toFloatArray();
                        for (int i = 0; i < got.length; i++) {
                            short raw = map.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2 * (from + i));
                            float want = Float.intBitsToFloat(raw << 16);
                            if (!(Float.compare(want, got[i]) == 0 || Float.isNaN(want) && Float.isNaN(got[i]))) bad++;
                        }
                    }
                    line(String.format(Locale.ROOT, "load: one %.0f MB upload through the backend (mapped file -> pinned staging -> device), %s: %.0f ms (%.1f GB/s); %d of 20480 sampled elements differ from the file",
                            bytes / 1e6, pipelined ? "pipelined copy" : "serial 4 MB copy", sec * 1e3, bytes / 1e9 / sec, bad));
                }
            }
        }
        for (boolean pipelined : new boolean[]{false, true}) {
            DeviceRuntime.pipelinedCopies = pipelined;
            long t0 = System.nanoTime();
            long[] lastAt = {t0};
            double[] maxGapMs = {0};
            String[] maxGapName = {""};
            TransferTimes.Snapshot legs0 = TransferTimes.now();
            try (LlamaModel m = LlamaModel.load(dir, gpu, 160, (done, total, name) -> {
                long now = System.nanoTime();
                if ((now - lastAt[0]) / 1e6 > maxGapMs[0]) {
                    maxGapMs[0] = (now - lastAt[0]) / 1e6;
                    maxGapName[0] = name;
                }
                lastAt[0] = now;
            })) {
                firstLoadDone = true;
                double sec = (System.nanoTime() - t0) / 1e9;
                long size = dir.resolve("model.safetensors").toFile().length();
                line(String.format(Locale.ROOT, "load: LlamaModel.load, %s: %.2f GB in %.0f ms (%.1f GB/s); longest gap between two weights' progress calls %.0f ms (ending at %s); %s",
                        pipelined ? "pipelined copy" : "serial 4 MB copy", size / 1e9, sec * 1e3, size / 1e9 / sec, maxGapMs[0], maxGapName[0],
                        TransferTimes.now().minus(legs0)));
            }
        }
        DeviceRuntime.pipelinedCopies = !"false".equals(System.getProperty("gpuos.copy.pipelined"));
    }

    /**
     * cuMemAlloc of a bf16 Llama's blocks (the sizes {@link #modelBlockSizes} lists), one call each, straight
     * through the driver: models-3-1 measured 1,049 ms for the arena's fresh blocks of 2.47 GB while the worker ran
     * (2.4 GB/s), and models-4-1's first load was no faster with them taken in one call with the worker parked.
     * Before GpuOS starts (the primary context): the blocks, freed, the blocks again, freed, the same bytes in one
     * call, freed: a first pass slower than the second is a cost of memory new to this process (or freed by the
     * process before: the driver scrubs it), not of calls or of a running kernel. With the worker running
     * (GpuOS's context, current on this thread after start; never freed: cuMemFree would wait for the worker):
     * the blocks once.
     */
    private static void rawAllocations(Path dir, String when, boolean ownContext) {
        LlamaConfig c = readShape(dir);
        int device = 0;
        if (ownContext) {
            Driver.init();
            device = Driver.device(0);
            Driver.ctxSetCurrent(Driver.primaryCtxRetain(device));
        }
        List<Long> sizes = modelBlockSizes(c);
        long total = sizes.stream().mapToLong(Long::longValue).sum();
        long[] free0 = Driver.memGetInfo();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "alloc, %s (%.1f of %.1f GB free):", when, free0[0] / 1e9, free0[1] / 1e9));
        int passes = ownContext ? 3 : 1;
        for (int pass = 0; pass < passes; pass++) {
            List<Long> ptrs = new ArrayList<>();
            long t0 = System.nanoTime();
            if (pass < 2) {
                for (long b : sizes) ptrs.add(Driver.memAlloc(b));
            } else {
                ptrs.add(Driver.memAlloc(total));
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            sb.append(String.format(Locale.ROOT, " pass %d: cuMemAlloc of %s (%.2f GB) %.0f ms (%.1f GB/s);", pass + 1,
                    pass < 2 ? sizes.size() + " blocks" : "the same bytes in one call", total / 1e9, ms, total / 1e6 / ms));
            if (ownContext) for (long p : ptrs) Driver.memFree(p);
        }
        line(sb.toString());
        if (ownContext) Driver.primaryCtxRelease(device);
    }

    /** The device blocks a bf16 load allocates: embedding, per layer two f32 norms, q/k/v, o, gate/up and down, the final norm, an untied head. */
    private static List<Long> modelBlockSizes(LlamaConfig c) {
        List<Long> sizes = new ArrayList<>(List.of(VOCAB * HIDDEN * 2, HIDDEN * 4));
        if (!c.tieWordEmbeddings()) sizes.add(VOCAB * HIDDEN * 2);
        for (int i = 0; i < LAYERS; i++) {
            sizes.addAll(List.of(HIDDEN * 4, (HEADS + 2 * KV) * D * HIDDEN * 2, HIDDEN * HEADS * D * 2, HIDDEN * 4,
                    2 * INTER * HIDDEN * 2, HIDDEN * INTER * 2));
        }
        return sizes;
    }

    /**
     * The first load in a fresh JVM ("firstload" alone), leg by leg ({@link TransferTimes}): session 14 measured
     * 1,388 ms (1.8 GB/s) against 237 ms for later loads, 1,049 ms of it the arena's fresh cuMemAllocs, one per
     * weight; models-4-1's 1,461 ms with the large weights reserved in one allocation (worker parked) first. Here:
     * the reservation alone (its cuMemAlloc and the park around it), then the load (its own allocations, the host's
     * copies into pinned staging, the waits for the DMA, pinning, and the rest: headers, mapping, Java), then a
     * second load into the memory the first one used, then one DMA of the same bytes from one pinned buffer into
     * a fresh allocation and again into the same one (first touch of device memory against memory written before).
     */
    private static void firstLoad(GpuBackend gpu, Path dir) {
        long size = dir.resolve("model.safetensors").toFile().length();
        TransferTimes.Snapshot s0 = TransferTimes.now();
        long r0 = System.nanoTime();
        long reserved;
        try (ModelWeights w = ModelWeights.open(dir)) {
            reserved = w.deviceBytes(DType.BF16, dev.gpuos.GpuOS.RESERVED_MIN_BYTES);
            w.reserveOn(gpu, DType.BF16);
        }
        double reserveMs = (System.nanoTime() - r0) / 1e6;
        line(String.format(Locale.ROOT, "first load: reserve %.2f GB: %.0f ms; %s", reserved / 1e9, reserveMs, TransferTimes.now().minus(s0)));
        for (int i = 0; i < 2; i++) {
            TransferTimes.Snapshot before = TransferTimes.now();
            long l0 = System.nanoTime();
            try (LlamaModel m = LlamaModel.load(dir, gpu, 160, LoadProgress.NONE)) {
                firstLoadDone = true;
                double ms = (System.nanoTime() - l0) / 1e6;
                TransferTimes.Snapshot legs = TransferTimes.now().minus(before);
                double rest = ms - (legs.allocNanos() + legs.hostCopyNanos() + legs.dmaWaitNanos() + legs.pinNanos()) / 1e6;
                line(String.format(Locale.ROOT, "first load: LlamaModel.load number %d in this JVM (%s copy): %.0f ms (%.1f GB/s)%s; %s; the rest %.0f ms; arena %s",
                        i + 1, DeviceRuntime.pipelinedCopies ? "pipelined" : "serial 4 MB", ms, size / 1e6 / ms,
                        i == 0 ? String.format(Locale.ROOT, ", %.0f ms with the reservation", ms + reserveMs) : "",
                        legs, rest, gpu.os().memory().stats()));
            }
        }
        if (gpu.os().deviceName().startsWith("simulated")) {
            line("first load: DMA alone not run (" + gpu.os().deviceName() + ")");
            return;
        }
        // DMA alone: one pinned 16 MB buffer copied over a fresh allocation of the weights' size, twice
        long bytes = Math.min(size, 4L << 30);
        long chunk = 16L << 20;
        MemorySegment pinned = Driver.memHostAlloc(chunk, Driver.CU_MEMHOSTALLOC_PORTABLE);
        long stream = Driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING);
        long t0 = System.nanoTime();
        long dst = Driver.memAlloc(bytes);
        double allocMs = (System.nanoTime() - t0) / 1e6;
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "first load: DMA alone, cuMemAlloc of %.2f GB with the worker running %.0f ms;", bytes / 1e9, allocMs));
        for (int pass = 0; pass < 2; pass++) {
            t0 = System.nanoTime();
            for (long off = 0; off < bytes; off += chunk) {
                Driver.memcpyHtoDAsync(dst + off, pinned, Math.min(chunk, bytes - off), stream);
            }
            Driver.streamSynchronize(stream);
            double ms = (System.nanoTime() - t0) / 1e6;
            sb.append(String.format(Locale.ROOT, " %s: %.0f ms (%.1f GB/s);", pass == 0 ? "into the fresh allocation" : "again", ms, bytes / 1e6 / ms));
        }
        line(sb.toString());   // never freed: cuMemFree would wait for the worker; the process ends soon
    }

    /**
     * The whole step, generate and the prefill A/B with the product fusions on, then off ({@link ProductFusionSwitch}),
     * in this JVM (the first load's legs come with the first), then one line per way: tasks a step, whole step ms,
     * generate tok/s. Session 15 (models-4-1) could not set its 3.73 ms/token against session 14's 3.30 ms: another
     * bench, another call.
     */
    private static void fusionAB(GpuBackend gpu, Path dir, int maxSeq) {
        boolean was = ProductFusionSwitch.set(true);
        List<String> summary = new ArrayList<>();
        try {
            for (boolean on : new boolean[]{true, false}) {
                ProductFusionSwitch.set(on);
                summary.add(wholeStep(gpu, dir, maxSeq, " [fusion " + (on ? "on" : "off") + "]"));
            }
        } finally {
            ProductFusionSwitch.set(was);
        }
        summary.forEach(DecodeBreakdownBench::line);
    }

    /** The whole step of the model in {@code dir} (rows named with {@code tag}); returns a one-line summary. */
    private static String wholeStep(GpuBackend gpu, Path dir, int maxSeq, String tag) {
        GpuBackend.Stats before = gpu.stats();
        int compiledBefore = gpu.operatorsCompiled().size();
        TransferTimes.Snapshot legs0 = TransferTimes.now();
        long l0 = System.nanoTime();
        try (LlamaModel m = LlamaModel.load(dir, gpu, maxSeq, LoadProgress.NONE)) {
            double loadMs = (System.nanoTime() - l0) / 1e6;
            GpuBackend.Stats after = gpu.stats();
            List<String> compiled = gpu.operatorsCompiled();
            line("load" + tag + ": the load's legs: " + TransferTimes.now().minus(legs0));
            boolean firstLoadDone = DecodeBreakdownBench.firstLoadDone;
            DecodeBreakdownBench.firstLoadDone = true;
            line(String.format(Locale.ROOT, "load%s: LlamaModel.load (%s in this JVM), %s copy: %.0f ms (%.1f GB/s); %d submissions, %d tasks, %d direct + %d staged uploads, compiled %s",
                    tag, firstLoadDone ? "not the first" : "the first", DeviceRuntime.pipelinedCopies ? "pipelined" : "serial 4 MB", loadMs, dir.resolve("model.safetensors").toFile().length() / 1e6 / loadMs, after.submissions() - before.submissions(),
                    after.tasks() - before.tasks(), after.directUploads() - before.directUploads(), after.stagedUploads() - before.stagedUploads(),
                    compiled.subList(compiledBefore, compiled.size())));
            int[] prompt = new int[32];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (int) ((1000 + 37L * i) % VOCAB);
            m.launchDecodeStep(prompt[0], 0);   // captures the step and compiles its operators
            gpu.sync();
            GpuReplay replay = m.decodeReplay();
            if (replay == null) {
                line("whole step" + tag + ": not replayed (" + m.decodeMode() + ")");
                return "whole step" + tag + ": not replayed";
            }
            StringBuilder summary = new StringBuilder(String.format(Locale.ROOT, "step summary%s: %d tasks a step (%d ops); whole step",
                    tag, replay.taskCount(), replay.nodeCount()));
            Map<String, int[]> byName = new TreeMap<>();
            for (GpuReplay.Task t : replay.tasks()) {
                int[] c = byName.computeIfAbsent(t.name(), n -> new int[3]);
                c[0]++;
                c[1] = Math.max(c[1], t.ntiles());
                c[2] = c[2] == 0 ? t.ntiles() : Math.min(c[2], t.ntiles());
            }
            StringBuilder sb = new StringBuilder("step tasks by operator (count, tiles min-max):");
            byName.forEach((n, c) -> sb.append(String.format(Locale.ROOT, " %s x%d (%d-%d);", n, c[0], c[2], c[1])));
            line(sb.toString());
            // Step p + 1 is launched, then step p's token read, as generate does. Replays run back to back without
            // any read took 183 ms a step on the H100 (models-2-1), not 4.6: ReplayFaults keeps the two captures'
            // index_select taints, which only a read of their outputs retires, so each run's notePass merges a
            // list that grows with every unread run (found on the simulated device, ReplayFaults.merged).
            for (int rep = 0; rep < 2; rep++) {
                int steps = maxSeq - 2, done = 1;
                long t0 = System.nanoTime(), deadline = t0 + 3_000_000_000L;
                List<Tensor> previous = m.launchDecodeStep(prompt[0], 0);
                for (int p = 1; p < steps && System.nanoTime() < deadline; p++, done++) {
                    List<Tensor> next = m.launchNextDecodeStep(p);
                    previous.get(1).longItem();
                    previous = next;
                }
                previous.get(1).longItem();
                double us = (System.nanoTime() - t0) / 1e3 / done;
                add(new Row("whole decode step, S=" + maxSeq + ", token read per step" + tag, replay.taskCount(), us,
                        weightBytes(), 1, done + " steps" + (done < steps ? " (stopped at the 3 s limit)" : "")));
                summary.append(String.format(Locale.ROOT, " %.3f", us / 1e3));
            }
            summary.append(" ms; generate");
            int n = Math.min(128, maxSeq - prompt.length);
            for (int rep = 0; rep < 2; rep++) {
                LlamaModel.Generation g = m.generate(prompt, n, false, id -> { });
                add(new Row("generate (each token read back), " + n + " tokens" + tag, replay.taskCount(),
                        1e6 / g.decodeTokensPerSecond(), weightBytes(), 1, String.format(Locale.ROOT, "%.1f tok/s", g.decodeTokensPerSecond())));
                summary.append(String.format(Locale.ROOT, " %.1f", g.decodeTokensPerSecond()));
            }
            summary.append(" tok/s");
            // the prompt's prefill, captured and eager: ms, operators compiled, submissions, tasks
            ModelsBench.prefills(gpu, m, prompt, s -> line(s + tag));
            line(summary.toString());
            return summary.toString();
        }
    }

    private static String sumOfParts(int maxSeq) {
        double parts = 0;
        StringBuilder which = new StringBuilder();
        for (Row r : ROWS) {
            if (inSum(r.name(), maxSeq)) {
                parts += r.perToken() * r.usPerRun() / 1e3;
                which.append(which.isEmpty() ? "" : ", ").append(r.name());
            }
        }
        return String.format(Locale.ROOT, "sum of the parts per token: %.3f ms (%s; the small ops' 1/run rows include a run's fixed cost)", parts, which);
    }

    /** The rows that make up one token: each family once, as the step runs it. */
    private static boolean inSum(String name, int maxSeq) {
        return name.endsWith(" chained") && !name.startsWith("attention") && !name.startsWith("lm_head") || name.startsWith("down") && name.endsWith(" indep.")
                || name.startsWith("lm_head") && name.endsWith("1/run") || name.equals("attention S=" + maxSeq + " " + LAYERS + " chained")
                || name.startsWith("cache write") || name.startsWith("residual") || name.startsWith("SwiGLU") || name.startsWith("argmax");
    }

    private static long weightBytes() {
        long layer = ((HEADS + 2 * KV) * D * HIDDEN + HIDDEN * HEADS * D + 2 * INTER * HIDDEN + HIDDEN * INTER) * 2;
        return LAYERS * layer + VOCAB * HIDDEN * 2;
    }
}
