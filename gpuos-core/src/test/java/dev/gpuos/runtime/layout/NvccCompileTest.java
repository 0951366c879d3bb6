package dev.gpuos.runtime.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated header, gpuos_device.cuh, worker.cu, a generated dispatch table and a sample operator compile
 * and device-link with nvcc (relocatable device code, as the JIT will build them). Needs nvcc, not a GPU.
 */
class NvccCompileTest {
    private static Path nvcc;

    @TempDir
    Path dir;

    @BeforeAll
    static void findNvcc() {
        for (String p : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(p, "nvcc");
            if (Files.isExecutable(candidate)) {
                nvcc = candidate;
                return;
            }
        }
        Path usual = Path.of("/usr/local/bin/nvcc");
        nvcc = Files.isExecutable(usual) ? usual : null;
    }

    private static void assumeNvcc() {
        org.junit.jupiter.api.Assumptions.assumeTrue(nvcc != null,
                "no nvcc on PATH or at /usr/local/bin/nvcc: cannot check that the CUDA sources compile");
    }

    private record Result(int exit, String output) {}

    private Result nvcc(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(nvcc.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("nvcc did not finish: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private Result compile(String source) throws IOException, InterruptedException {
        String object = source.replace(".cu", ".o");
        return nvcc("-arch=sm_90", "-rdc=true", "-maxrregcount=128", "-c", source, "-o", object);
    }

    private void writeResource(String name) throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/dev/gpuos/runtime/cuda/" + name)) {
            assertTrue(in != null, "resource " + name + " missing");
            Files.write(dir.resolve(name), in.readAllBytes());
        }
    }

    private void writeSources(String header) throws IOException {
        Files.writeString(dir.resolve(CudaHeader.FILE_NAME), header);
        writeResource("gpuos_device.cuh");
        writeResource("worker.cu");
        Files.writeString(dir.resolve("dispatch.cu"), """
                #include "gpuos_device.cuh"
                extern "C" __device__ void gpuos_op_0(const gpuos_task*, unsigned int, const gpuos_env*);
                extern "C" __device__ gpuos_op_fn gpuos_op_table[1] = {gpuos_op_0};
                extern "C" __device__ unsigned int gpuos_op_count = 1;
                """);
        Files.writeString(dir.resolve("op0.cu"), """
                #define GPUOS_OP_SYMBOL gpuos_op_0
                #include "gpuos_device.cuh"
                using namespace gpuos;
                // out = in * arg0, elementwise over a (possibly strided) f32 view.
                GPUOS_OP {
                    long long begin, end;
                    tile_range(task, tile, task->refs[0].numel, &begin, &end);
                    float* out = (float*)task->refs[0].data;
                    float* in = (float*)task->refs[1].data;
                    const float k = (float)arg_f64(task, 0);
                    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
                        out[offset_of(task->refs[0], i)] = in[offset_of(task->refs[1], i)] * k;
                    }
                }
                """);
    }

    @Test
    void workerDispatchAndOperatorCompileAndDeviceLink() throws Exception {
        assumeNvcc();
        writeSources(CudaHeader.generate());
        for (String tu : List.of("worker.cu", "dispatch.cu", "op0.cu")) {
            Result r = compile(tu);
            assertEquals(0, r.exit(), "nvcc " + tu + ":\n" + r.output());
        }
        Result link = nvcc("-arch=sm_90", "-dlink", "worker.o", "dispatch.o", "op0.o", "-o", "gpuos_dlink.o");
        assertEquals(0, link.exit(), "nvcc -dlink:\n" + link.output());
    }

    @Test
    void headerWithAWrongOffsetDoesNotCompile() throws Exception {
        assumeNvcc();
        long seq = Layouts.TASK.offset("seq");
        String good = CudaHeader.generate();
        String assertion = "static_assert(__builtin_offsetof(gpuos_task, seq) == " + seq + ",";
        assertTrue(good.contains(assertion), "header lacks " + assertion);
        writeSources(good.replace(assertion, "static_assert(__builtin_offsetof(gpuos_task, seq) == " + (seq + 8) + ","));
        Result r = compile("dispatch.cu");
        assertNotEquals(0, r.exit(), "a header that disagrees with Layouts.java compiled:\n" + r.output());
        assertTrue(r.output().contains("gpuos_task.seq offset differs from Layouts.java"), r.output());
    }
}
