package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The launch-per-op wrapper ({@code launch_one.cu}, gpuos-bench) compiles with nvcc around the operators the
 * tensor backend generates, with the shared memory they declare: a generated elementwise structure, the
 * reduce/softmax/norm/matmul families (the ones using env->smem), index_select and fill, with the same macros
 * LaunchPerOpRun gives NVRTC. In this package because the sources are internal to gpuos-core; no GPU needed.
 */
class LaunchOneCompileTest {
    static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    @Test
    void wrapsAGeneratedElementwiseOperator() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<Operand> operands = List.of(s.ones(DType.F32, 4, 3), s.ones(DType.F32, 3).expand(4, 3));
            ElementwiseNode node = new ElementwiseNode(ElementwiseOp.ADD, operands, s.zeros(DType.F32, 4, 3),
                    DType.F32, new double[0]);
            // Elementwise tasks are built with no shared memory (KernelTask's short constructor).
            compile("ew_add", ElementwiseKernels.source(List.of(node)), 0);
        }
    }

    @Test
    void wrapsTheFamiliesWithTheirSharedMemory() {
        List<Family> withSmem = new ArrayList<>();
        for (Family f : Family.values()) {
            compile(f.file + "_f32", OperatorSources.family(f, DType.F32), f.smemBytes());
            if (f.smemBytes() > 0) withSmem.add(f);
        }
        assertEquals(List.of(Family.REDUCE, Family.SOFTMAX, Family.NORM, Family.MATMUL), withSmem);
        compile("copy_bytes", OperatorSources.COPY_BYTES, 0);
    }

    @Test
    void wrapsTheRawBinaryOperators() throws IOException {
        compile("add_f32", resource("/dev/gpuos/bench/ops/add_f32.cu"), 0);
        compile("mul_f32", resource("/dev/gpuos/bench/workloads/mul_f32.cu"), 0);
    }

    @Test
    void everyFamilyUsingSharedMemoryDeclaresIt() {
        for (Family f : Family.values()) {
            String body = OperatorSources.resource(f.file + ".cu");
            assertEquals(body.contains("env->smem"), f.smemBytes() > 0, f + " uses env->smem: " + body.contains("env->smem"));
        }
    }

    /** What LaunchPerOpRun hands NVRTC: the wrapper, the runtime headers and the operator as operator.cu. */
    private static void compile(String name, String operatorSource, int smemBytes) {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot check CUDA");
        try {
            Path dir = Files.createTempDirectory("gpuos-launch-one");
            for (Map.Entry<String, String> h : WorkerSources.headers().entrySet()) {
                Files.writeString(dir.resolve(h.getKey()), h.getValue());
            }
            Files.writeString(dir.resolve("operator.cu"), operatorSource);
            Path cu = dir.resolve("launch_" + name + ".cu");
            Files.writeString(cu, wrapper());
            List<String> cmd = List.of(NVCC.toString(), "-arch=sm_90", "-cubin", "-std=c++17", "-I" + dir,
                    "-D" + WorkerSources.OP_SYMBOL_MACRO + "=gpuos_launched_op",
                    "-DGPUOS_LAUNCH_SMEM_BYTES=" + smemBytes, "-o", dir.resolve(name + ".cubin").toString(), cu.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "nvcc did not finish");
            assertEquals(0, p.exitValue(), name + ": nvcc rejected the wrapped operator:\n" + log);
            assertTrue(Files.size(dir.resolve(name + ".cubin")) > 0);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("running nvcc failed", e);
        }
    }

    private static String wrapper() throws IOException {
        return resource("/dev/gpuos/bench/workloads/launch_one.cu");
    }

    private static String resource(String path) throws IOException {
        try (InputStream in = LaunchOneCompileTest.class.getResourceAsStream(path)) {
            assertTrue(in != null, path + " missing");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
