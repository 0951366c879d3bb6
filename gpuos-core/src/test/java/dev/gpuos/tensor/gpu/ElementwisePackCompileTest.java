package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.gpuos.tensor.gpu.OperatorSourceCompileTest.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pack path of generated elementwise operators, compiled by nvcc for sm_90: (1) for every dtype the
 * operator's PTX moves 16 bytes per access (ld/st.global.v4.b32-sized or v2.b64-sized) and never reads through
 * the non-coherent path; (2) inlined into probe kernels with the worker's launch bounds (256 threads, 2 blocks
 * per SM), the common f32 cases (binary, unary, the runs of a 5-op chain) and every dtype's add stay within the
 * 128-register cap without spilling (the device-function ABI's callee-saved spills, which every separately
 * linked operator shows, are not the operator's own; see InterpreterCompileTest). Skips without nvcc.
 */
class ElementwisePackCompileTest {

    /** One binary op per dtype over dense operands (BOOL: eq, bool in, bool out). */
    private static Map<String, String> everyDtype(TensorScope s) {
        Map<String, String> out = new LinkedHashMap<>();
        for (DType t : DType.values()) {
            ElementwiseOp op = t == DType.BOOL ? ElementwiseOp.EQ : ElementwiseOp.ADD;
            Tensor a = s.ones(t, 64), b = s.ones(t, 64);
            DType result = op.resultType(t);
            out.put("add_" + t.name().toLowerCase(java.util.Locale.ROOT), ElementwiseKernels.source(List.of(
                    node(op, List.of(a, b), s.zeros(result, 64), op.operandType(t)))));
        }
        return out;
    }

    /** The runs of mul, add 1, exp, mul 0.5, relu over two f32 inputs (4 operands a task: cut into 2 runs). */
    private static List<String> fiveOpChain(TensorScope s) {
        Tensor a = s.ones(DType.F32, 64), b = s.ones(DType.F32, 64);
        Tensor[] t = new Tensor[5];
        for (int i = 0; i < 5; i++) t[i] = s.zeros(DType.F32, 64);
        List<OpNode> nodes = List.of(
                node(ElementwiseOp.MUL, List.of(a, b), t[0], DType.F32),
                node(ElementwiseOp.ADD, List.of(t[0], Scalar.of(1.0)), t[1], DType.F32),
                node(ElementwiseOp.EXP, List.of(t[1]), t[2], DType.F32),
                node(ElementwiseOp.MUL, List.of(t[2], Scalar.of(0.5)), t[3], DType.F32),
                node(ElementwiseOp.RELU, List.of(t[3]), t[4], DType.F32));
        List<String> out = new ArrayList<>();
        for (Object item : ElementwiseFusion.plan(nodes)) {
            for (List<ElementwiseNode> run : ElementwiseKernels.runs((FusionGroup) item)) out.add(ElementwiseKernels.source(run));
        }
        assertEquals(2, out.size(), "the chain's runs");
        return out;
    }

    @Test
    void everyDtypeMovesSixteenBytesPerAccessThroughCoherentLoads() throws Exception {
        Nvcc.assumeInstalled();
        Map<String, String> expected = Map.of(
                "add_f32", "v4.f32", "add_f16", "v4.u32", "add_bf16", "v4.u32", "add_f64", "v2.f64",
                "add_i32", "v4.u32", "add_i64", "v2.u64", "add_bool", "v4.u32");
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (var e : everyDtype(s).entrySet()) {
                CompileUnit unit = GenerationBuilder.operatorUnit(0, e.getKey(), e.getValue());
                String ptx = nvcc(unit.source(), List.of("-rdc=true", "-ptx"), "unit.ptx", unit.options());
                String vec = expected.get(e.getKey());
                // Global or generic addressing (the pointers come from the task), but one 16-byte access.
                assertTrue(Pattern.compile("\\bld(\\.global)?\\." + Pattern.quote(vec)).matcher(ptx).find(),
                        e.getKey() + ": no 16-byte pack load (ld." + vec + ") in\n" + ptx);
                assertTrue(Pattern.compile("\\bst(\\.global)?\\." + Pattern.quote(vec)).matcher(ptx).find(),
                        e.getKey() + ": no 16-byte pack store (st." + vec + ") in\n" + ptx);
                assertFalse(ptx.contains("ld.global.nc"), e.getKey() + ": a non-coherent load (inputs may have been"
                        + " written by earlier tasks of the running kernel)");
            }
        }
    }

    @Test
    void commonCasesStayWithinTheWorkersRegisterCapWithoutSpilling() throws Exception {
        Nvcc.assumeInstalled();
        Map<String, String> probes = new LinkedHashMap<>();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor a = s.ones(DType.F32, 64), b = s.ones(DType.F32, 64), out = s.zeros(DType.F32, 64);
            probes.put("f32_add", ElementwiseKernels.source(List.of(node(ElementwiseOp.ADD, List.of(a, b), out, DType.F32))));
            probes.put("f32_exp", ElementwiseKernels.source(List.of(node(ElementwiseOp.EXP, List.of(a), out, DType.F32))));
            probes.put("f32_gelu", ElementwiseKernels.source(List.of(node(ElementwiseOp.GELU, List.of(a), out, DType.F32))));
            List<String> chain = fiveOpChain(s);
            for (int i = 0; i < chain.size(); i++) probes.put("f32_chain_run" + i, chain.get(i));
            probes.putAll(everyDtype(s));
        }
        String log = nvcc(probeUnit(probes), List.of("-rdc=true", "-c", "-Xptxas", "-v"), "probe.o", List.of());
        System.out.println("[elementwise packs] probe kernels (sm_90, launch bounds 256 x 2):\n" + log);
        for (String name : probes.keySet()) {
            Matcher m = Pattern.compile("Function properties for probe_" + name + "\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                    + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
            assertTrue(m.find(), "no ptxas report for probe_" + name + ":\n" + log);
            assertEquals(0, Integer.parseInt(m.group(2)), name + ": spill stores\n" + log);
            assertEquals(0, Integer.parseInt(m.group(3)), name + ": spill loads\n" + log);
            assertTrue(Integer.parseInt(m.group(4)) <= 128, name + ": registers\n" + log);
        }
    }

    /**
     * One translation unit holding every probe operator (generated sources starting with the elementwise PREFIX),
     * each wrapped as a kernel {@code probe_NAME} under the worker's launch bounds, for ptxas's per-kernel report.
     */
    static String probeUnit(Map<String, String> probes) {
        StringBuilder tu = new StringBuilder("#include \"" + WorkerSources.DEVICE_HEADER + "\"\n");
        tu.append(ElementwiseKernels.PREFIX);
        int k = 0;
        for (var e : probes.entrySet()) {
            String body = e.getValue().substring(ElementwiseKernels.PREFIX.length());
            tu.append("namespace probe_").append(k).append(" {\n")
                    .append("#define GPUOS_OP __device__ __forceinline__ void body(const gpuos_task* task, unsigned int tile, const gpuos_env* env)\n")
                    .append(body).append("#undef GPUOS_OP\n}\n")
                    .append("extern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) probe_").append(e.getKey())
                    .append("(const gpuos_task* t, const gpuos_env* env) { probe_").append(k)
                    .append("::body(t, blockIdx.x, env); }\n");
            k++;
        }
        return tu.toString();
    }

    static String nvcc(String source, List<String> mode, String output, List<String> options)
            throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("gpuos-packs-nvcc");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Path cu = dir.resolve("unit.cu");
        Files.writeString(cu, source);
        List<String> cmd = new ArrayList<>(List.of(Nvcc.NVCC.toString(), "-arch=sm_90", "-std=c++17", "-maxrregcount=128",
                "-I" + dir, "-o", dir.resolve(output).toString()));
        cmd.addAll(mode);
        cmd.addAll(options);
        cmd.add(cu.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the source:\n" + log);
        String text = output.endsWith(".ptx") ? Files.readString(dir.resolve(output)) : log;
        return text.lines().filter(l -> !l.contains("Compile time")).reduce("", (x, y) -> x + y + "\n");
    }
}
