package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.CudaCompiler;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.jit.JitCache;
import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.testkit.NodeRecorder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code -Dgpuos.jit.leanCalls=true}: the operators and the worker's indirect call agree on an ABI that preserves
 * fewer registers (gpuos_device.cuh, {@code GPUOS_CALL_ABI}). Compiled by nvcc with the options the JIT passes
 * (CudaCompiler's own, less NVRTC's {@code -default-device}), under the table's ABI and the lean one: the worker
 * spills nothing more for the lean call (it keeps what is live across the call in the registers the lean ABI
 * still preserves), each operator's frame (the callee-saved registers it stores and loads back on every call) is
 * at most a register pair larger and a fraction for a heavy one (W7's row step: 192 bytes before, 32 after), and a
 * generation of them device-links. Skips without nvcc.
 */
class LeanCallCompileTest {
    private static final CudaCompiler.ToolVersions V = new CudaCompiler.ToolVersions("13.0", "13.0");

    record Frame(int stack, int spillStores, int spillLoads) {
        @Override
        public String toString() {
            return stack + "-byte frame, " + spillStores + "/" + spillLoads + " spill bytes";
        }
    }

    /** W7's middle row step ({@code rms_norm(x + r) * w} on (1, 2048)) and heavy and light family operators. */
    static Map<String, String> operators() {
        Map<String, String> ops = new LinkedHashMap<>();
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            NodeRecorder.Captured c = RowFusionPlanTest.normChain(rec, s, DType.F32, 3, 2048);
            List<TaskPlan.Item> plan = TaskPlan.of(c.work(), Intermediates.of(c.work(), c.internal()), true);
            ops.put("w7_f32", RowFusion.source(((TaskPlan.Row) plan.get(1)).fused()));
        }
        ops.put("attention_f32", OperatorSources.attention(DType.F32, DType.F32));
        ops.put("fill_f32", OperatorSources.family(OperatorSources.Family.FILL, DType.F32));
        return ops;
    }

    @Test
    void leanCallsShrinkOperatorFramesWithoutSpillingTheWorker() throws Exception {
        Nvcc.assumeInstalled();
        Map<String, String> ops = operators();
        Path dir = Files.createTempDirectory("gpuos-lean-calls");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        // Every unit under both ABIs, two nvcc at a time (the worker's ptxas takes most of the time).
        Map<String, Future<String>> logs = new LinkedHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (boolean lean : new boolean[]{false, true}) {
                CudaCompiler jit = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V, lean);
                String abi = lean ? "lean" : "table";
                TreeMap<Integer, String> symbols = new TreeMap<>();
                List<CompileUnit> units = new ArrayList<>();
                units.add(new CompileUnit(WorkerSources.WORKER_NAME, WorkerSources.worker(), WorkerSources.headers(), List.of()));
                int slot = 0;
                for (var e : ops.entrySet()) {
                    units.add(GenerationBuilder.operatorUnit(slot, e.getKey(), e.getValue()));
                    symbols.put(slot, WorkerSources.symbolOf(slot));
                    slot++;
                }
                units.add(new CompileUnit("dispatch.cu", WorkerSources.dispatch(symbols), WorkerSources.headers(), List.of()));
                for (int u = 0; u < units.size(); u++) {
                    CompileUnit unit = units.get(u);
                    Path cu = dir.resolve(abi + "_" + u + ".cu");
                    Files.writeString(cu, unit.source());
                    List<String> cmd = new ArrayList<>(List.of(Nvcc.NVCC.toString(), "-c", "-Xptxas", "-v", "-I" + dir,
                            "-o", dir.resolve(abi + "_" + u + ".o").toString()));
                    for (String o : jit.compileOptions(unit)) if (!o.equals("-default-device")) cmd.add(o);
                    cmd.add(cu.toString());
                    logs.put(abi + " " + unit.name(), pool.submit(() -> run(cmd)));
                }
            }
            Map<String, String> text = new LinkedHashMap<>();
            for (var e : logs.entrySet()) text.put(e.getKey(), e.getValue().get(10, TimeUnit.MINUTES));

            Frame workerTable = frame(text.get("table worker.cu"), WorkerSources.KERNEL_NAME);
            Frame workerLean = frame(text.get("lean worker.cu"), WorkerSources.KERNEL_NAME);
            System.out.println("[lean calls] " + WorkerSources.KERNEL_NAME + ": table ABI " + workerTable + ", lean " + workerLean);
            assertTrue(workerLean.spillStores() <= workerTable.spillStores() && workerLean.spillLoads() <= workerTable.spillLoads()
                            && workerLean.stack() <= workerTable.stack(),
                    "the lean call makes the worker spill what it keeps across the call (raise preserve_n_data in"
                            + " gpuos_device.cuh): table ABI " + workerTable + ", lean " + workerLean);
            int slot = 0;
            for (String name : ops.keySet()) {
                String unit = name + "@" + WorkerSources.symbolOf(slot);
                Frame table = frame(text.get("table " + unit), WorkerSources.symbolOf(slot));
                Frame lean = frame(text.get("lean " + unit), WorkerSources.symbolOf(slot));
                System.out.println("[lean calls] " + name + ": table ABI " + table + ", lean " + lean);
                // A small operator may save a register pair the table's ABI let it use freely (gpuos_device.cuh).
                assertTrue(lean.stack() <= table.stack() + 8, name + ": table ABI " + table + ", lean " + lean);
                if (name.startsWith("w7_")) {
                    // A row step uses most registers and spills none of its own: under the table's ABI each call
                    // saves ~48 of them, under the lean one what the worker keeps live.
                    assertTrue(table.stack() >= 128 && 4 * lean.stack() <= table.stack(),
                            name + ": expected the lean ABI to remove most of a row step's frame: table ABI "
                                    + table + ", lean " + lean);
                } else if (name.startsWith("attention")) {
                    // Attention spills some of its own state either way; the saved registers still go.
                    assertTrue(2 * lean.stack() <= table.stack(), name + ": table ABI " + table + ", lean " + lean);
                }
                slot++;
            }
            // The lean generation links (the dispatch table's function pointers resolve to lean operators).
            List<String> link = new ArrayList<>(List.of(Nvcc.NVCC.toString(), "-arch=sm_90", "-dlink", "-o",
                    dir.resolve("lean_dlink.o").toString()));
            for (int u = 0; u < ops.size() + 2; u++) link.add(dir.resolve("lean_" + u + ".o").toString());
            run(link);
        } finally {
            pool.shutdownNow();
        }
    }

    /** ptxas's "Function properties" line of {@code function}. */
    static Frame frame(String log, String function) {
        Matcher m = Pattern.compile("Function properties for " + Pattern.quote(function) + "\\s+(\\d+) bytes stack frame, (\\d+)"
                + " bytes spill stores, (\\d+) bytes spill loads").matcher(log);
        assertTrue(m.find(), "no ptxas report for " + function + ":\n" + log);
        return new Frame(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish: " + cmd);
        assertEquals(0, p.exitValue(), "nvcc failed: " + cmd + "\n" + log);
        return log;
    }
}
