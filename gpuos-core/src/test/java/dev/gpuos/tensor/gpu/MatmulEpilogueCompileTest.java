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
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The matmul.cu paths that store through an epilogue (bias, gelu, residual, cast: EPI_* in matmul.cu): M_SKINNY_K
 * at 16 rows (BERT batch 1's products) and 8, M_TILED, and today's 16-row M_SKINNY_K instance beside them (it must
 * stay as it was), F32 and BF16, compiled by nvcc for sm_90 from the operator the JIT builds, each inlined into a
 * probe kernel with the worker's launch bounds (256 threads, 2 blocks per SM, -maxrregcount=128): at most 128
 * registers, nothing spilled. Whole-program (no -rdc): only the probes' code is compiled, 4x faster than the whole
 * operator. (M_MMA has no epilogue: its instance spilled 108 bytes.) Skips without nvcc. That they compute the
 * separate tasks' values is MatmulHostTest's business.
 */
class MatmulEpilogueCompileTest {

    @Test
    void theEpiloguePathsFitTheWorkersRegisters() throws Exception {
        Nvcc.assumeInstalled();
        for (DType t : new DType[]{DType.F32, DType.BF16}) {
            CompileUnit unit = GenerationBuilder.operatorUnit(0, "matmul_" + t.name().toLowerCase(),
                    OperatorSources.family(Family.MATMUL, t));
            String probe = unit.source();
            Map<String, String> probes = new LinkedHashMap<>();
            probes.put("probe_skinny16_1", "skinny_k<16, 1, true>");
            probes.put("probe_skinny8_1", "skinny_k<8, 1, true>");
            probes.put("probe_skinny16_main", "skinny_k<16, 1, false>");
            probes.put("probe_tiled", "tiled<true>");
            for (String fn : new String[]{"skinny_k(", "tiled(", }) {
                String was = probe;
                probe = probe.replace("__device__ __noinline__ void " + fn, "__device__ __forceinline__ void " + fn);
                assertNotEquals(was, probe, fn + "'s declaration changed: update this probe");
            }
            StringBuilder tu = new StringBuilder(probe);
            for (var p : probes.entrySet()) {
                tu.append("\nextern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) ").append(p.getKey())
                        .append("(const gpuos_task* t, const gpuos_env* env) { ").append(p.getValue()).append("(t, blockIdx.x, env); }\n");
            }
            Path dir = Files.createTempDirectory("gpuos-matmul-epilogue-nvcc");
            for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
            Files.writeString(dir.resolve("unit.cu"), tu.toString());
            List<String> cmd = new ArrayList<>(List.of(Nvcc.NVCC.toString(), "-arch=sm_90", "-std=c++17", "-maxrregcount=128",
                    "-c", "-Xptxas", "-v", "-I" + dir, "-o", dir.resolve("unit.o").toString()));
            cmd.addAll(unit.options());
            cmd.add(dir.resolve("unit.cu").toString());
            Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(proc.getInputStream().readAllBytes());
            assertTrue(proc.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
            assertEquals(0, proc.exitValue(), "nvcc rejected the probe:\n" + log);
            for (String name : probes.keySet()) {
                Matcher m = Pattern.compile("Function properties for " + name + "\\s+(\\d+) bytes stack frame, (\\d+) bytes"
                        + " spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers").matcher(log);
                assertTrue(m.find(), "no ptxas report for " + name + ":\n" + log);
                System.out.println("[matmul " + probes.get(name) + " " + t + "] " + m.group(0).replaceAll("\\s+", " "));
                assertEquals(0, Integer.parseInt(m.group(2)), name + " " + t + ": spill stores\n" + log);
                assertEquals(0, Integer.parseInt(m.group(3)), name + " " + t + ": spill loads\n" + log);
                assertTrue(Integer.parseInt(m.group(4)) <= 128, name + " " + t + ": registers\n" + log);
            }
        }
    }
}
