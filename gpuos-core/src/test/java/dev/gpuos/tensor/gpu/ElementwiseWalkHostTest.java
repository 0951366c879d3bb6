package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.gpuos.tensor.gpu.OperatorSourceCompileTest.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generated elementwise operators' index walks (tiles, the pack part with its head and tail, the one-at-a-time
 * rest, broadcast and strided fallbacks) run on the HOST: nvcc compiles the generated operator sources into the
 * harness {@code elementwise_walk_host.cu}, which runs each tile as one block of 256 threads one thread after
 * another, over random numel, tile sizes (multiples of the pack and not), storage offsets, broadcast, strided
 * and in-place operands, and checks every element and the bytes around every output; built with UBSan's
 * alignment check, a pack access from a misaligned address aborts it as it would fault on the GPU. The walk is
 * the same code on the device; what the host cannot show (vector instructions, coherence) OperatorSourceCompileTest
 * and the GPU tests check. Skips without nvcc.
 */
class ElementwiseWalkHostTest {

    /** The structures the harness's SPECS table expects, in its order. */
    static List<String> structures(TensorScope s) {
        Tensor f = s.ones(DType.F32, 8), g = s.ones(DType.F32, 8);
        Tensor d = s.ones(DType.F64, 8), e = s.ones(DType.F64, 8), i = s.ones(DType.I32, 8), j = s.ones(DType.I32, 8);
        Tensor t1 = s.zeros(DType.F32, 8);
        List<List<ElementwiseNode>> runs = List.of(
                List.of(node(ElementwiseOp.ADD, List.of(f, g), s.zeros(DType.F32, 8), DType.F32)),
                List.of(node(ElementwiseOp.ADD, List.of(d, e), s.zeros(DType.F64, 8), DType.F64)),
                List.of(node(ElementwiseOp.CAST, List.of(f), s.zeros(DType.F64, 8), DType.F32)),
                List.of(node(ElementwiseOp.EQ, List.of(f, g), s.zeros(DType.BOOL, 8), DType.F32)),
                List.of(node(ElementwiseOp.ADD, List.of(i, j), s.zeros(DType.I32, 8), DType.I32)),
                List.of(node(ElementwiseOp.MUL, List.of(f, g), t1, DType.F32),
                        node(ElementwiseOp.ADD, List.of(t1, f), s.zeros(DType.F32, 8), DType.F32)));
        List<String> out = new ArrayList<>();
        for (List<ElementwiseNode> run : runs) out.add(ElementwiseKernels.structure(run));
        return out;
    }

    @Test
    void generatedWalksCoverEveryElementOnceOverRandomTilesOffsetsAndLayouts() throws Exception {
        Nvcc.assumeInstalled();
        Path binary = build();
        for (long seed : new long[]{1, 2, 3}) {
            String out = run(binary, seed, 3000);
            Matcher m = Pattern.compile("cases (\\d+) wide (\\d+)").matcher(out);
            assertTrue(m.find(), "seed " + seed + ": " + out);
            assertEquals(3000, Integer.parseInt(m.group(1)), "seed " + seed + ": " + out);
            // About a quarter of the cases have every operand dense (or broadcast) and aligned.
            assertTrue(Integer.parseInt(m.group(2)) > 300, "seed " + seed + ": too few cases took packs: " + out);
        }
    }

    private static Path build() throws IOException, InterruptedException {
        String harness;
        try (InputStream in = ElementwiseWalkHostTest.class.getResourceAsStream("elementwise_walk_host.cu")) {
            harness = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        StringBuilder ops = new StringBuilder();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<String> structures = structures(s);
            for (int k = 0; k < structures.size(); k++) {
                ops.append("#define GPUOS_OP static void walk_op_").append(k)
                        .append("(const gpuos_task* task, unsigned int tile, const gpuos_env* env)\n")
                        .append(structures.get(k)).append("#undef GPUOS_OP\n");
            }
        }
        String source = harness.replace("//@WALK@", OperatorSources.WALK).replace("//@OPERATORS@", ops);
        Path dir = Files.createTempDirectory("gpuos-walk-host");
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Path cu = dir.resolve("walk.cu"), exe = dir.resolve("walk");
        Files.writeString(cu, source);
        // The host tolerates misaligned vector accesses; UBSan's alignment check makes one fail as the GPU would.
        Process p = new ProcessBuilder(Nvcc.NVCC.toString(), "-std=c++17", "-O1", "-arch=sm_90", "-I" + dir,
                "-Xcompiler", "-fsanitize=alignment", "-Xcompiler", "-fno-sanitize-recover=all", "-Xlinker", "-lubsan",
                "-o", exe.toString(), cu.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nvcc did not finish");
        assertEquals(0, p.exitValue(), "nvcc rejected the walk harness:\n" + log);
        return exe;
    }

    private static String run(Path binary, long seed, int cases) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), Long.toString(seed), Integer.toString(cases))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "walk harness did not finish, seed " + seed);
        assertEquals(0, p.exitValue(), "seed " + seed + ": " + out);
        return out;
    }
}
