package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedDTypeException;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA templates of every op, for every dtype the op accepts, render into kernels that nvcc accepts
 * (compiled to PTX for sm_90; no GPU needed). Runs where nvcc is installed.
 */
class CudaKernelSourceTest {
    private static final Path NVCC = Path.of("/usr/local/bin/nvcc");

    private static ElementwiseNode node(ElementwiseOp op, List<Operand> operands, Tensor out, DType operandType, double... p) {
        return new ElementwiseNode(op, operands, out, operandType, p);
    }

    @Test
    void fusionGroupsElementwiseRunsAndReusesRegisters() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F16, 4, 3), bias = s.ones(DType.F32, 3);
            Tensor t1 = s.zeros(DType.F32, 4, 3), t2 = s.zeros(DType.F32, 4, 3), t3 = s.zeros(DType.BOOL, 4, 3);
            Tensor sum = s.zeros(DType.F32);
            List<OpNode> nodes = List.of(
                    node(ElementwiseOp.ADD, List.of(x, bias.expand(4, 3)), t1, DType.F32),
                    node(ElementwiseOp.GELU, List.of(t1), t2, DType.F32),
                    node(ElementwiseOp.GT, List.of(t2, Scalar.of(0.5)), t3, DType.F32),
                    new dev.gpuos.tensor.op.ReduceNode(dev.gpuos.tensor.op.ReduceOp.SUM, t2, new int[]{0, 1}, false, sum));
            List<Object> plan = ElementwiseFusion.plan(nodes);
            assertEquals(2, plan.size());
            FusionGroup g = assertInstanceOf(FusionGroup.class, plan.get(0));
            assertEquals(3, g.nodes().size());
            assertEquals(List.of(x, bias.expand(4, 3)).size(), g.inputs().size());
            String src = CudaKernelSource.render(g, "fused_add_gelu_gt");
            assertTrue(src.contains("erfcf("), src);
            assertTrue(src.contains("(s0)") && src.contains("(s1)"), "consumers read producers from registers:\n" + src);
            assertTrue(src.contains("__half2float(in0["), src);
            compile(src);
        }
    }

    @Test
    void everyOpTemplateCompilesForEveryAcceptedDtype() {
        StringBuilder src = new StringBuilder(CudaKernelSource.HEADER).append(ElementwiseOp.CUDA_PRELUDE);
        int kernels = 0;
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (ElementwiseOp op : ElementwiseOp.values()) {
                for (DType t : DType.values()) {
                    try {
                        op.checkAccepts(t);
                    } catch (UnsupportedDTypeException e) {
                        continue;
                    }
                    List<Operand> operands = new ArrayList<>();
                    for (int k = 0; k < op.arity(); k++) {
                        operands.add(op == ElementwiseOp.WHERE && k == 0 ? s.ones(DType.BOOL, 8) : s.ones(t, 8));
                    }
                    DType result = op == ElementwiseOp.CAST ? DType.F16 : op.resultType(t);
                    DType operandType = op == ElementwiseOp.CAST ? t : op.operandType(t);
                    ElementwiseNode n = node(op, operands, s.zeros(result, 8), operandType, 0.25, 3.0);
                    String kernel = CudaKernelSource.render(new FusionGroup(List.of(n), operands.stream()
                            .map(Tensor.class::cast).distinct().toList()), "k_" + op.opName() + "_" + t);
                    src.append(kernel.substring(kernel.indexOf("extern \"C\"")));
                    kernels++;
                }
            }
        }
        assertTrue(kernels > 150, "rendered " + kernels + " kernels");
        compile(src.toString());
    }

    private static void compile(String source) {
        Assumptions.assumeTrue(Files.isExecutable(NVCC), "nvcc not installed at " + NVCC + ": cannot check generated CUDA");
        try {
            Path dir = Files.createTempDirectory("gpuos-cuda");
            Path cu = dir.resolve("k.cu");
            Files.writeString(cu, source);
            Process p = new ProcessBuilder(NVCC.toString(), "-arch=sm_90", "--ptx", "-o", dir.resolve("k.ptx").toString(), cu.toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "nvcc did not finish");
            assertEquals(0, p.exitValue(), "nvcc rejected the generated source:\n" + log + "\n" + numbered(source));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("running nvcc failed", e);
        }
    }

    private static String numbered(String s) {
        String[] lines = s.split("\n");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(lines.length, 400); i++) sb.append(i + 1).append(": ").append(lines[i]).append('\n');
        return sb.toString();
    }
}
