package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compiles operator sources with nvcc the way the JIT compiles them with NVRTC (relocatable, sm_90, the runtime
 * headers written next to the unit). Skips when nvcc is not installed.
 */
final class Nvcc {
    private Nvcc() {}

    static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot check generated CUDA");
    }

    /** One operator exactly as {@link GenerationBuilder#operatorUnit} builds its translation unit. */
    static void compileOperator(String name, String source) {
        CompileUnit unit = GenerationBuilder.operatorUnit(0, name, source);
        compile(unit.source(), unit.headers(), unit.options());
    }

    /**
     * Many operators in one translation unit (one nvcc run instead of hundreds): each gets its own symbol and
     * namespace; the shared prefix (support header, prelude) appears once; a family's macro block is undefined
     * again after its body.
     */
    static void compileMany(String sharedPrefix, List<String> sources) {
        StringBuilder tu = new StringBuilder("#define GPUOS_OP_SYMBOL gpuos_op_0\n#include \"gpuos_device.cuh\"\n");
        tu.append(sharedPrefix);
        int i = 0;
        for (String src : sources) {
            int at = src.indexOf(sharedPrefix);
            assertTrue(at >= 0, "operator source does not contain the shared prefix:\n" + src);
            String macros = src.substring(0, at), body = src.substring(at + sharedPrefix.length());
            tu.append("#undef GPUOS_OP_SYMBOL\n#define GPUOS_OP_SYMBOL gpuos_op_").append(i).append('\n');
            tu.append(macros).append("namespace gpuos_unit_").append(i).append(" {\n").append(body).append("\n}\n");
            for (String line : macros.split("\n")) {
                if (line.startsWith("#define ")) tu.append("#undef ").append(line.split(" ")[1]).append('\n');
            }
            i++;
        }
        compile(tu.toString(), dev.gpuos.runtime.WorkerSources.headers(), List.of());
    }

    private static void compile(String source, Map<String, String> headers, List<String> options) {
        assumeInstalled();
        try {
            Path dir = Files.createTempDirectory("gpuos-tensor-cuda");
            for (var h : headers.entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
            Path cu = dir.resolve("unit.cu");
            Files.writeString(cu, source);
            List<String> cmd = new java.util.ArrayList<>(List.of(NVCC.toString(), "-arch=sm_90", "-rdc=true", "-c",
                    "-std=c++17", "-I" + dir, "-o", dir.resolve("unit.o").toString()));
            cmd.addAll(options);
            cmd.add(cu.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
            assertEquals(0, p.exitValue(), "nvcc rejected the source:\n" + log + "\n" + numbered(source, log));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("running nvcc failed", e);
        }
    }

    /**
     * A probe unit: {@code source} with each of {@code inlined} ("name(": a {@code __noinline__} device function)
     * forced inline, and one {@code __global__} kernel per entry of {@code probes} (kernel name -> the function it
     * calls with {@code (t, blockIdx.x, env)}) under the worker's launch bounds (GPUOS_BLOCK_THREADS, 2 blocks/SM),
     * so ptxas reports registers and spills as the operator would have them inlined into the worker.
     */
    static String probeUnit(String source, List<String> inlined, Map<String, String> probes) {
        String probe = source;
        for (String fn : inlined) {
            String was = probe;
            probe = probe.replace("__device__ __noinline__ void " + fn, "__device__ __forceinline__ void " + fn);
            assertTrue(!was.equals(probe), fn + "'s declaration changed: update this probe");
        }
        StringBuilder tu = new StringBuilder(probe);
        for (var p : probes.entrySet()) {
            tu.append("\nextern \"C\" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2) ").append(p.getKey())
                    .append("(const gpuos_task* t, const gpuos_env* env) { ").append(p.getValue()).append("(t, blockIdx.x, env); }\n");
        }
        return tu.toString();
    }

    /** ptxas's -v output for a probe unit, and its PTX when kept. */
    record ProbeBuild(String log, String ptx) {
        /**
         * Asserts that kernel {@code name} uses at most the worker's 128 registers and spills nothing; prints
         * ptxas's line for it with {@code label}.
         */
        void assertFitsTheWorker(String name, String label) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Function properties for " + name
                    + "\\s+(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads\\s+ptxas info\\s+: Used (\\d+) registers")
                    .matcher(log);
            assertTrue(m.find(), "no ptxas report for " + name + ":\n" + log);
            System.out.println("[" + label + "] " + m.group(0).replaceAll("\\s+", " "));
            assertEquals(0, Integer.parseInt(m.group(2)), name + " " + label + ": spill stores\n" + log);
            assertEquals(0, Integer.parseInt(m.group(3)), name + " " + label + ": spill loads\n" + log);
            assertTrue(Integer.parseInt(m.group(4)) <= 128, name + " " + label + ": registers\n" + log);
        }

        /** The PTX body of entry {@code name}. */
        String entry(String name) {
            assertTrue(ptx != null, "the PTX was not kept");
            int at = ptx.indexOf(".entry " + name);
            assertTrue(at >= 0, "no " + name + " in the PTX");
            return ptx.substring(at, ptx.indexOf("\n}\n", at));
        }
    }

    /**
     * Compiles a probe unit for sm_90 under the worker's register cap (-maxrregcount=128) with ptxas's report,
     * relocatable or whole-program (whole compiles only the probes' code: several times faster), keeping the PTX
     * when asked. Skips without nvcc.
     */
    static ProbeBuild compileProbes(String tu, List<String> options, boolean relocatable, boolean keepPtx) {
        assumeInstalled();
        try {
            Path dir = Files.createTempDirectory("gpuos-probe-nvcc");
            for (var h : dev.gpuos.runtime.WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
            Path cu = dir.resolve("unit.cu");
            Files.writeString(cu, tu);
            List<String> cmd = new java.util.ArrayList<>(List.of(NVCC.toString(), "-arch=sm_90", "-std=c++17", "-maxrregcount=128",
                    "-c", "-Xptxas", "-v", "-I" + dir, "-o", dir.resolve("unit.o").toString()));
            if (relocatable) cmd.add("-rdc=true");
            if (keepPtx) cmd.addAll(List.of("-keep", "-keep-dir", dir.toString()));
            cmd.addAll(options);
            cmd.add(cu.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
            assertEquals(0, p.exitValue(), "nvcc rejected the probe:\n" + log);
            String ptx = null;
            if (keepPtx) {
                try (var files = Files.list(dir)) {
                    Path f = files.filter(x -> x.toString().endsWith(".ptx")).findFirst().orElseThrow(() -> new AssertionError("no PTX kept"));
                    ptx = Files.readString(f);
                }
            }
            return new ProbeBuild(log, ptx);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("running nvcc failed", e);
        }
    }

    /** The source lines around the first error line nvcc names (the whole unit can be thousands of lines). */
    private static String numbered(String s, String log) {
        String[] lines = s.split("\n");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("unit\\.cu\\((\\d+)\\)").matcher(log);
        int center = m.find() ? Integer.parseInt(m.group(1)) : 1;
        StringBuilder sb = new StringBuilder();
        for (int i = Math.max(0, center - 40); i < Math.min(lines.length, center + 20); i++) {
            sb.append(i + 1).append(": ").append(lines[i]).append('\n');
        }
        return sb.toString();
    }
}
