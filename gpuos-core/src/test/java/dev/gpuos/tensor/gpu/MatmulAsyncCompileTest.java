package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * matmul.cu's M_MMA_ASYNC and M_MMA_ROWS (8 and 16 columns a unit), compiled by nvcc for sm_90 from the operator
 * the JIT builds (BF16), each inlined into a probe kernel with the worker's launch bounds (256 threads, 2 blocks per
 * SM, -maxrregcount=128): (1) each needs at most 128 registers and spills nothing; (2) the PTX multiplies with bf16
 * mma.sync m16n8k16 and never reads through the non-coherent path or L1-allocating copies (a buffer an earlier task of
 * the running worker wrote must not be read stale); M_MMA_ASYNC stages with 16-byte cp.async.cg, waits for them
 * and reads fragments with ldmatrix.x4. (The operator's own __noinline__ functions show the device-function ABI's
 * callee-saved spills, as every separately linked operator does: see ElementwisePackCompileTest.) Skips without nvcc. That the instructions compute the right product is MatmulHostTest's
 * and GpuTensorCoreMatmulTest's business.
 */
class MatmulAsyncCompileTest {

    @Test
    void theTensorCorePathsUseTheirInstructionsWithinTheRegisterCap() throws Exception {
        Nvcc.assumeInstalled();
        DType t = DType.BF16;   // F16 differs in the mma's type only (OperatorSourceCompileTest compiles it)
        CompileUnit unit = GenerationBuilder.operatorUnit(0, "matmul_bf16", OperatorSources.family(Family.MATMUL, t));
        String probe = unit.source();
        for (String fn : new String[]{"mma_async_tiles(", "mma_rows("}) {
            String was = probe;
            probe = probe.replace("__device__ __noinline__ void " + fn, "__device__ __forceinline__ void " + fn);
            assertNotEquals(was, probe, fn + "'s declaration changed: update this probe");
        }
        Map<String, String> probes = new LinkedHashMap<>();
        probes.put("probe_async", "mma_async_tiles");
        probes.put("probe_rows1", "mma_rows<1>");
        probes.put("probe_rows2", "mma_rows<2>");
        StringBuilder tu = new StringBuilder(probe);
        for (var p : probes.entrySet()) {
            tu.append("\nextern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) ").append(p.getKey())
                    .append("(const gpuos_task* t, const gpuos_env* env) { ").append(p.getValue()).append("(t, blockIdx.x, env); }\n");
        }
        // one nvcc run: ptxas's report, and the PTX kept beside it
        Path dir = Files.createTempDirectory("gpuos-matmul-mma-nvcc");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Files.writeString(dir.resolve("unit.cu"), tu.toString());
        List<String> cmd = new ArrayList<>(List.of(Nvcc.NVCC.toString(), "-arch=sm_90", "-std=c++17", "-maxrregcount=128",
                "-rdc=true", "-c", "-Xptxas", "-v", "-keep", "-keep-dir", dir.toString(), "-I" + dir, "-o",
                dir.resolve("unit.o").toString()));
        cmd.addAll(unit.options());
        cmd.add(dir.resolve("unit.cu").toString());
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(proc.getInputStream().readAllBytes());
        assertTrue(proc.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, proc.exitValue(), "nvcc rejected the probe:\n" + log);
        Path ptxFile;
        try (var files = Files.list(dir)) {
            ptxFile = files.filter(f -> f.toString().endsWith(".ptx")).findFirst().orElseThrow(() -> new AssertionError("no PTX kept"));
        }
        String ptx = Files.readString(ptxFile);
        for (String name : probes.keySet()) {
            Matcher m = Pattern.compile("Function properties for " + name + "\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                    + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
            assertTrue(m.find(), "no ptxas report for " + name + ":\n" + log);
            System.out.println("[matmul " + probes.get(name) + " " + t + "] " + m.group(0).replaceAll("\\s+", " "));
            assertEquals(0, Integer.parseInt(m.group(2)), name + ": spill stores\n" + log);
            assertEquals(0, Integer.parseInt(m.group(3)), name + ": spill loads\n" + log);
            assertTrue(Integer.parseInt(m.group(4)) <= 128, name + ": registers\n" + log);
            int at = ptx.indexOf(".entry " + name);
            assertTrue(at >= 0, "no " + name + " in the PTX");
            String body = ptx.substring(at, ptx.indexOf("\n}\n", at));
            assertTrue(body.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), name + ": no bf16 mma");
            // inputs may have been written by earlier tasks of the running worker: no non-coherent or L1-cached copies
            assertFalse(body.contains(".nc"), name + ": a load through the non-coherent path");
            assertFalse(body.contains("cp.async.ca"), name + ": a cp.async through L1");
            if (name.equals("probe_async")) {
                assertTrue(body.contains("cp.async.cg.shared.global"), "no 16-byte L2-only cp.async");
                assertTrue(body.contains("ldmatrix.sync.aligned.m8n8.x4.shared.b16"), "no ldmatrix.x4");
                assertTrue(body.contains("cp.async.wait_group"), "the copies are never waited for");
            }
        }
    }
}
