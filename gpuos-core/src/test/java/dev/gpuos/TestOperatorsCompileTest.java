package dev.gpuos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The GPU tests' operators compile as the JIT would compile them (same translation unit, nvcc instead of NVRTC),
 * so a typo in one shows up in CI rather than on the GPU machine; broken.cu must not. Needs nvcc, not a GPU.
 */
class TestOperatorsCompileTest {
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"add_mod_f32", "axpb_f32", "fill_f32", "oob_f32", "spin_put_i32", "stamp_i32", "broken"})
    void operatorCompilesLikeTheJitWouldCompileIt(String name) throws Exception {
        assumeTrue(Files.isExecutable(NVCC), "no nvcc at " + NVCC);
        String source = (name.equals("stamp_i32") ? "#define VERSION 7\n" : "") + GpuTestSupport.op(name);
        CompileUnit unit = GenerationBuilder.operatorUnit(3, name, source);
        for (Map.Entry<String, String> h : unit.headers().entrySet()) {
            Files.writeString(dir.resolve(h.getKey()), h.getValue());
        }
        Files.writeString(dir.resolve("op.cu"), unit.source());
        List<String> cmd = new ArrayList<>(List.of(NVCC.toString(), "-arch=sm_90", "-rdc=true", "-c", "op.cu"));
        cmd.addAll(unit.options());
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("nvcc did not finish");
        }
        if (name.equals("broken")) {
            assertNotEquals(0, p.exitValue(), "broken.cu compiled");
        } else {
            assertEquals(0, p.exitValue(), "nvcc " + name + ":\n" + out);
        }
    }
}
