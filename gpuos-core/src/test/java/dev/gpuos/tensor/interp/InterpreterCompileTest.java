package dev.gpuos.tensor.interp;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.runtime.WorkerSources;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The interpreter operator compiled by nvcc for sm_90: (1) exactly as the JIT builds its translation unit
 * (relocatable, the worker's 128-register cap), and (2) inlined into a probe kernel with the worker's launch
 * bounds (256 threads, 2 blocks per SM), where ptxas reports the interpreter's own register use and local
 * memory without the device-function ABI's callee-saved spills (which every separately linked operator shows,
 * the native ones too). Report on sm_90, nvcc 13.0: 128 registers, 0 spill stores/loads, a 32-byte stack
 * frame that is sinf/cosf's Payne-Hanek reduction buffer (0 bytes with the F32 sin/cos cases removed; the
 * native sin/cos operators carry the same buffer). Skips without nvcc.
 */
class InterpreterCompileTest {

    @Test
    void operatorUnitCompilesAsTheJitBuildsIt() throws Exception {
        HostInterpreter.assumeNvcc();
        CompileUnit unit = GenerationBuilder.operatorUnit(0, "gpuos_interp", InterpreterSource.operatorSource());
        List<String> options = new ArrayList<>(unit.options());
        options.add("-maxrregcount=128");
        String log = nvcc(unit.source(), options);
        System.out.println("[interp] operator unit (device-function ABI):\n" + log);
    }

    @Test
    void interpreterLoopHasNoSpillsUnderTheWorkersLaunchBounds() throws Exception {
        HostInterpreter.assumeNvcc();
        String source = "#include \"" + WorkerSources.DEVICE_HEADER + "\"\n"
                + "#define GPUOS_OP __device__ __forceinline__ void interp_body(const gpuos_task* task, unsigned int tile, const gpuos_env* env)\n"
                + InterpreterSource.operatorSource()
                + "\n__global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) interp_probe(const gpuos_task* t, const gpuos_env* e) {\n"
                + "    __shared__ gpuos_task s;\n    if (threadIdx.x == 0) s = *t;\n    __syncthreads();\n"
                + "    interp_body(&s, blockIdx.x, e);\n}\n";
        String log = nvcc(source, List.of());
        System.out.println("[interp] probe kernel:\n" + log);
        Matcher m = Pattern.compile("Function properties for \\w*interp_probe\\w*\\s+(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers")
                .matcher(log);
        assertTrue(m.find(), "no ptxas report for the probe kernel:\n" + log);
        assertEquals(0, Integer.parseInt(m.group(2)), "spill stores:\n" + log);
        assertEquals(0, Integer.parseInt(m.group(3)), "spill loads:\n" + log);
        assertTrue(Integer.parseInt(m.group(1)) <= 32, "stack frame beyond sinf's reduction buffer:\n" + log);
        assertTrue(Integer.parseInt(m.group(4)) <= 128, "registers:\n" + log);
    }

    private static String nvcc(String source, List<String> options) throws Exception {
        Path dir = Files.createTempDirectory("gpuos-interp-nvcc");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Path cu = dir.resolve("interp.cu");
        Files.writeString(cu, source);
        List<String> cmd = new ArrayList<>(List.of(HostInterpreter.NVCC.toString(), "-arch=sm_90", "-rdc=true", "-c",
                "-std=c++17", "-Xptxas", "-v", "-I" + dir, "-o", dir.resolve("interp.o").toString()));
        cmd.addAll(options);
        cmd.add(cu.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the interpreter:\n" + log);
        return log.lines().filter(l -> !l.contains("Compile time")).reduce("", (a, b) -> a + b + "\n");
    }
}
