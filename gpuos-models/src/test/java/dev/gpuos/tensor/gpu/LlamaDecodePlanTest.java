package dev.gpuos.tensor.gpu;

import dev.gpuos.model.LlamaModel;
import dev.gpuos.model.LoadProgress;
import dev.gpuos.model.ModelTestAccess;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tasks of LlamaModel's captured decode step, planned as GpuBackend.captureReturning plans them
 * ({@link TaskPlan} with the capture's intermediates), without a GPU: how many there are per layer, and the
 * longest chain of tasks that depend on each other through buffers (what a token waits for: every link costs the
 * worker's hand-off between dependent tasks, several microseconds, besides its own work).
 */
class LlamaDecodePlanTest {

    record StepPlan(List<TaskPlan.Item> items, int chain, Map<String, Integer> kinds) {}

    static StepPlan plan(String fixture, DType compute) {
        NodeRecorder rec = new NodeRecorder();
        try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture(fixture), rec, 64, compute, LoadProgress.NONE)) {
            ModelTestAccess.recordDecodeStep(m);   // the first call also makes the step's inputs: plan the second
            return planOf(rec, () -> ModelTestAccess.recordDecodeStep(m));
        }
    }

    static List<OpNode> nodesOf(TaskPlan.Item item) {
        return switch (item) {
            case TaskPlan.Run r -> new ArrayList<>(r.members());
            case TaskPlan.Row r -> {
                List<OpNode> all = new ArrayList<>(r.fused().prologue);
                all.add(r.fused().row);
                all.addAll(r.fused().epilogue);
                yield all;
            }
            case TaskPlan.Single s -> {
                List<OpNode> all = new ArrayList<>();
                if (s.norm() != null) all.addAll(s.norm().nodes());
                all.add(s.node());
                if (s.glu() != null) all.addAll(s.glu().members());
                if (s.pointwise() != null) all.addAll(s.pointwise().members());
                yield all;
            }
        };
    }

    /** Depth of the deepest item, counting read-after-write, write-after-read and write-after-write on buffers. */
    static int longestChain(List<TaskPlan.Item> items) {
        Map<Storage, Integer> lastWrite = new IdentityHashMap<>(), lastRead = new IdentityHashMap<>();
        int deepest = 0;
        for (TaskPlan.Item item : items) {
            int depth = 0;
            List<OpNode> nodes = nodesOf(item);
            for (OpNode n : nodes) {
                for (Storage s : n.reads()) depth = Math.max(depth, lastWrite.getOrDefault(s, 0));
                for (Storage s : n.writes()) {
                    depth = Math.max(depth, Math.max(lastWrite.getOrDefault(s, 0), lastRead.getOrDefault(s, 0)));
                }
            }
            depth++;
            for (OpNode n : nodes) {
                for (Storage s : n.reads()) lastRead.merge(s, depth, Math::max);
                for (Storage s : n.writes()) lastWrite.put(s, depth);
            }
            deepest = Math.max(deepest, depth);
        }
        return deepest;
    }

    static Map<String, Integer> kinds(List<TaskPlan.Item> items) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (TaskPlan.Item item : items) {
            String k = switch (item) {
                case TaskPlan.Run r -> "elementwise";
                case TaskPlan.Row r -> "row-fused " + r.fused().kind;
                case TaskPlan.Single s -> !(s.node() instanceof MatmulNode) ? s.node().opName()
                        : (s.norm() != null ? "norm+" : "") + "matmul" + (s.glu() != null ? "+glu" : "")
                        + (s.pointwise() != null ? "+epilogue" : "");
            };
            out.merge(k, 1, Integer::sum);
        }
        return out;
    }

    static StepPlan planOf(NodeRecorder rec, java.util.function.Supplier<List<Tensor>> program) {
        NodeRecorder.Captured c = rec.capture(program);
        List<TaskPlan.Item> items = TaskPlan.of(c.work(), Intermediates.of(c.work(), c.internal()), true);
        return new StepPlan(items, longestChain(items), kinds(items));
    }

    /**
     * BERT's captured forward pass (what one replay runs): tasks per layer and the longest chain, f32 and bf16
     * products, with the products' pointwise epilogues ({@link ProductEpilogue.Pointwise}) and without them
     * ({@code -Dgpuos.fusion.productEpilogues=false}, today's plan before them).
     */
    @Test
    void bertForwardTasksPerLayer() {
        boolean was = FamilyTasks.productEpilogues;
        try {
            for (DType compute : new DType[]{DType.F32, DType.BF16}) {
                Map<Boolean, StepPlan> plans = new LinkedHashMap<>();
                for (boolean epilogues : new boolean[]{false, true}) {
                    FamilyTasks.productEpilogues = epilogues;
                    NodeRecorder rec = new NodeRecorder();
                    try (dev.gpuos.model.BertEncoder e = dev.gpuos.model.BertEncoder.load(ModelTestAccess.fixture("bert-tiny"), rec, compute, LoadProgress.NONE);
                         dev.gpuos.tensor.TensorScope scope = dev.gpuos.tensor.TensorScope.open(rec)) {
                        int layers = e.config().layers();
                        StepPlan p = planOf(rec, () -> ModelTestAccess.recordForward(e, scope, 1, 16));
                        plans.put(epilogues, p);
                        System.out.printf(Locale.ROOT, "bert forward (%s products, %d layers, 1 x 16, product epilogues %s): %d tasks, longest dependent chain %d; %s%n",
                                compute, layers, epilogues ? "on" : "off", p.items().size(), p.chain(), p.kinds());
                        if (Boolean.getBoolean("gpuos.test.verbose")) {
                            for (TaskPlan.Item item : p.items()) System.out.println("  " + nodesOf(item).stream().map(OpNode::opName).toList());
                        }
                        assertEquals(layers, p.kinds().get("attention"), p.kinds().toString());
                        if (!epilogues) {
                            // per layer: qkv, o, intermediate, output; scores, softmax and @ values are one attention task
                            assertEquals(4 * layers, p.kinds().get("matmul"), p.kinds().toString());
                            // elementwise: per layer the qkv bias add and the intermediate's bias + GELU; the padding
                            // mask and bias (no copy of attention's output: it is already [b, t, h]; no cast of the bias alone)
                            assertEquals(2 * layers + 1, p.kinds().get("elementwise"), p.kinds().toString());
                            // the two residual + LayerNorm rows take their bias and residual adds in
                            assertEquals(2 * layers + 1, p.kinds().get("row-fused LAYER"), p.kinds().toString());   // and the embeddings' one
                        } else {
                            // every product takes its bias (qkv: and the cast; intermediate: GELU and the cast; o and
                            // output: the residual), so the LayerNorm after o and output reads one tensor
                            assertEquals(4 * layers, p.kinds().get("matmul+epilogue"), p.kinds().toString());
                            assertEquals(null, p.kinds().get("matmul"), p.kinds().toString());
                            assertEquals(1, p.kinds().get("elementwise"), p.kinds().toString());
                            for (TaskPlan.Item item : p.items()) {
                                if (item instanceof TaskPlan.Single s && s.pointwise() != null) {
                                    ProductEpilogue.Pointwise pw = s.pointwise();
                                    assertEquals(compute != DType.F32 && pw.residual() == null, pw.cast(), "cast, " + pw.members());
                                    assertEquals(false, pw.storeProduct(), "nothing else reads a product");
                                }
                            }
                        }
                    }
                }
                StepPlan off = plans.get(false), on = plans.get(true);
                // two elementwise tasks a layer fewer, and as many links fewer on the chain
                int layers = 2;
                assertEquals(off.items().size() - 2 * layers, on.items().size(), compute + ": tasks");
                assertEquals(off.chain() - 2 * layers, on.chain(), compute + ": chain");
            }
        } finally {
            FamilyTasks.productEpilogues = was;
        }
    }

    @Test
    void decodeStepTasksPerLayer() {
        for (DType compute : new DType[]{DType.F32, DType.BF16}) {
            StepPlan p = plan("llama-tiny-untied-bf16", compute);
            System.out.printf(Locale.ROOT, "llama decode step (%s products, 2 layers): %d tasks, longest dependent chain %d; %s%n",
                    compute, p.items().size(), p.chain(), p.kinds());
            if (Boolean.getBoolean("gpuos.test.verbose")) {
                for (TaskPlan.Item item : p.items()) System.out.println("  " + nodesOf(item).stream().map(OpNode::opName).toList());
            }
            int layers = 2;
            Map<String, Integer> k = p.kinds();
            int plain = k.getOrDefault("matmul", 0), normed = k.getOrDefault("norm+matmul", 0),
                    glu = k.getOrDefault("matmul+glu", 0), both = k.getOrDefault("norm+matmul+glu", 0);
            // per layer: qkv, o, gate/up, down; then the output head
            assertEquals(4 * layers + 1, plain + normed + glu + both, k.toString());
            // the gate/up product computes the SwiGLU (ProductEpilogue) and its rms_norm (ProductPrologue)
            assertEquals(layers, both, k.toString());
            // every norm but an f32 first layer's (which no cast of the embedding precedes: a plain norm, not row-fused)
            // rides on the product after it
            int norms = compute == DType.F32 ? 2 * layers : 2 * layers + 1;
            assertEquals(norms, normed + both, k.toString());
            assertEquals(null, k.get("row-fused RMS"), k.toString());
            // scores, scale and bias, softmax and @ values: one attention task a layer
            assertEquals(layers, k.get("attention"), k.toString());
            assertEquals(null, k.get("row-fused SOFTMAX"), k.toString());
            // q's and k's RoPE and both cache writes are one task a layer (its where's: the key's row, the query
            // rows, the value's row), a layer's only elementwise task; the step's others: the row and bias vectors,
            // the embedding's add and cast, the token's copy
            List<TaskPlan.Item> writes = cacheWrites(p.items());
            assertEquals(layers, writes.size(), "tasks writing the caches");
            for (TaskPlan.Item w : writes) {
                assertEquals(3, nodesOf(w).stream().filter(n -> n.opName().equals("where")).count(), nodesOf(w).toString());
            }
            assertEquals(layers + 4, k.get("elementwise"), k.toString());
            // per layer 6 links: qkv with its norm, RoPE with the cache writes, attention, o, gate/up with its norm
            // and SwiGLU, down; then the embedding, the output head with its norm, argmax and the token's copy (an
            // f32 step: its first norm alone)
            assertEquals(6 * layers + (compute == DType.F32 ? 5 : 4), p.chain(), "longest chain of dependent tasks");
        }
    }

    /** Session 16's form (-Dgpuos.llama.oneTaskCacheWrite=false, the A/B): q's RoPE, the key's write, the value's write. */
    @Test
    void threeTaskCacheWriteForm() {
        boolean was = ModelTestAccess.oneTaskCacheWrite(false);
        try {
            for (DType compute : new DType[]{DType.F32, DType.BF16}) {
                StepPlan p = plan("llama-tiny-untied-bf16", compute);
                int layers = 2;
                assertEquals(2 * layers, cacheWrites(p.items()).size(), "tasks writing the caches: " + p.kinds());
                assertEquals(3 * layers + 4, p.kinds().get("elementwise"), p.kinds().toString());
                assertEquals(6 * layers + (compute == DType.F32 ? 5 : 4), p.chain(), "longest chain of dependent tasks");
            }
        } finally {
            ModelTestAccess.oneTaskCacheWrite(was);
        }
    }

    /** The decode step's items that write a cache row (a where over the cache's rows). */
    static List<TaskPlan.Item> cacheWrites(List<TaskPlan.Item> items) {
        return items.stream().filter(i -> nodesOf(i).stream().anyMatch(n -> n.opName().equals("where"))).toList();
    }

    /**
     * The decode step's cache-write task (both RoPEs, the row choice and both caches' copies in one operator,
     * through an operand table) as generated CUDA, compiled by nvcc for sm_90: as the JIT compiles it with NVRTC
     * (a relocatable unit), and inlined into a probe kernel under the worker's launch bounds (256 threads, 2 blocks
     * an SM, 128 registers), where it must not spill. The GPU runs this operator on every layer of every token.
     * Skips without nvcc.
     */
    @Test
    void theCacheWriteOperatorCompilesWithoutSpills() throws Exception {
        java.nio.file.Path nvcc = java.nio.file.Path.of("/usr/local/bin/nvcc");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(nvcc), "nvcc not installed at " + nvcc);
        for (DType compute : new DType[]{DType.F32, DType.BF16}) {
            List<TaskPlan.Item> writes = cacheWrites(plan("llama-tiny-untied-bf16", compute).items());
            OperatorStructure op = ((TaskPlan.Run) writes.getFirst()).task().operator();
            dev.gpuos.jit.CompileUnit unit = dev.gpuos.jit.GenerationBuilder.operatorUnit(0, op.name(), op.source());
            nvcc(nvcc, unit.source(), unit.headers(), unit.options(), List.of("-rdc=true", "-c"), compute + " " + op.name());
            String src = op.source();
            org.junit.jupiter.api.Assertions.assertTrue(src.startsWith(ElementwiseKernels.PREFIX), "an elementwise operator's source");
            String probe = "#include \"" + dev.gpuos.runtime.WorkerSources.DEVICE_HEADER + "\"\n" + ElementwiseKernels.PREFIX
                    + "namespace probe_op {\n#define GPUOS_OP __device__ __forceinline__ void body(const gpuos_task* task, unsigned int tile, const gpuos_env* env)\n"
                    + src.substring(ElementwiseKernels.PREFIX.length()) + "#undef GPUOS_OP\n}\n"
                    + "extern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) probe(const gpuos_task* t, const gpuos_env* env)"
                    + " { probe_op::body(t, blockIdx.x, env); }\n";
            String log = nvcc(nvcc, probe, dev.gpuos.runtime.WorkerSources.headers(), List.of("-maxrregcount=128", "-Xptxas", "-v"),
                    List.of("-rdc=true", "-c"), compute + " probe");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Function properties for probe\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                    + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
            org.junit.jupiter.api.Assertions.assertTrue(m.find(), "no ptxas report for the probe:\n" + log);
            System.out.printf(Locale.ROOT, "cache-write operator (%s products) inlined under the worker's bounds: %s registers, %s/%s bytes spilled%n",
                    compute, m.group(4), m.group(2), m.group(3));
            assertEquals(0, Integer.parseInt(m.group(2)), "spill stores\n" + log);
            assertEquals(0, Integer.parseInt(m.group(3)), "spill loads\n" + log);
        }
    }

    /** Runs nvcc for sm_90 on {@code source} with {@code headers} beside it; returns its log (it must accept the source). */
    private static String nvcc(java.nio.file.Path nvcc, String source, Map<String, String> headers, List<String> options,
                               List<String> mode, String what) throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("gpuos-cache-write");
        for (var h : headers.entrySet()) java.nio.file.Files.writeString(dir.resolve(h.getKey()), h.getValue());
        java.nio.file.Path cu = dir.resolve("unit.cu");
        java.nio.file.Files.writeString(cu, source);
        List<String> cmd = new ArrayList<>(List.of(nvcc.toString(), "-arch=sm_90", "-std=c++17", "-I" + dir, "-o", dir.resolve("unit.o").toString()));
        cmd.addAll(mode);
        cmd.addAll(options);
        cmd.add(cu.toString());
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(proc.getInputStream().readAllBytes());
        org.junit.jupiter.api.Assertions.assertTrue(proc.waitFor(300, java.util.concurrent.TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, proc.exitValue(), what + ": nvcc rejected the source:\n" + log + "\n" + source);
        return log;
    }

    /**
     * The prefill as GpuBackend captures it (session 16: once per cache set, position and length, where recording
     * it eagerly let the time bound cut it anywhere): one product per projection, one attention task a layer, and
     * with bf16 products the last row's final norm rides on the output head's one-row product (ProductPrologue,
     * planned only in captures: a form the eager prefill never ran on the GPU).
     */
    @Test
    void prefillTasksPerLayer() {
        for (DType compute : new DType[]{DType.F32, DType.BF16}) {
            NodeRecorder rec = new NodeRecorder();
            try (LlamaModel m = LlamaModel.load(ModelTestAccess.fixture("llama-tiny-untied-bf16"), rec, 64, compute, LoadProgress.NONE);
                 dev.gpuos.tensor.TensorScope scope = dev.gpuos.tensor.TensorScope.open(rec)) {
                int t = 12, layers = 2;
                Tensor ids = scope.zeros(DType.I64, t), bias = ModelTestAccess.causalBias(scope, t);
                ModelTestAccess.recordPrefill(m, ids, bias, t);   // the first call also makes the caches: plan the second
                StepPlan p = planOf(rec, () -> ModelTestAccess.recordPrefill(m, ids, bias, t));
                System.out.printf(Locale.ROOT, "llama prefill (%s products, 2 layers, %d tokens): %d tasks, longest dependent chain %d; %s%n",
                        compute, t, p.items().size(), p.chain(), p.kinds());
                if (Boolean.getBoolean("gpuos.test.verbose")) {
                    for (TaskPlan.Item item : p.items()) System.out.println("  " + nodesOf(item).stream().map(OpNode::opName).toList());
                }
                Map<String, Integer> k = p.kinds();
                // per layer: qkv, o, gate/up, down; then the output head over the last row, its norm fused in
                int products = k.getOrDefault("matmul", 0) + k.getOrDefault("norm+matmul", 0)
                        + k.getOrDefault("matmul+glu", 0) + k.getOrDefault("norm+matmul+glu", 0);
                assertEquals(4 * layers + 1, products, k.toString());
                // bf16 products: the final norm of the last row (with its cast) rides on the output head's one-row
                // product; an f32 product has no cast after the norm, so it stays a task of its own (as in decode)
                assertEquals(compute == DType.BF16 ? 1 : null, k.get("norm+matmul"), "the output head's norm: " + k);
                assertEquals(layers, k.get("attention"), k.toString());
                // elementwise: per layer q's and k's RoPE (one task: their heads are adjacent in a qkv row), the two
                // cache writes (one task), SwiGLU; the last residual add (no copy of attention's output: token-major,
                // it is already [t, heads * d])
                assertEquals(3 * layers + 1, k.get("elementwise"), k.toString());
            }
        }
    }
}
