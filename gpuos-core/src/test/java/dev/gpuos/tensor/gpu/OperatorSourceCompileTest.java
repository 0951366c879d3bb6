package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedDTypeException;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operator sources the GPU backend generates or instantiates compile with nvcc for sm_90 as relocatable
 * code, the way the JIT compiles them: every elementwise op for every dtype it accepts (tensor and scalar
 * operands), fused chains, and every hand-written family for every dtype it serves. No GPU needed.
 */
class OperatorSourceCompileTest {
    private static final String ELEMENTWISE_PREFIX = ElementwiseKernels.PREFIX;

    static ElementwiseNode node(ElementwiseOp op, List<Operand> operands, Tensor out, DType operandType, double... p) {
        return new ElementwiseNode(op, operands, out, operandType, p);
    }

    /** One node per (op, accepted dtype); odd dtypes take a scalar second operand. */
    static List<String> everyOpStructure(TensorScope s) {
        List<String> sources = new ArrayList<>();
        DType[] all = DType.values();
        for (ElementwiseOp op : ElementwiseOp.values()) {
            for (int ti = 0; ti < all.length; ti++) {
                DType t = all[ti];
                try {
                    op.checkAccepts(t);
                } catch (UnsupportedDTypeException e) {
                    continue;
                }
                List<Operand> operands = new ArrayList<>();
                for (int k = 0; k < op.arity(); k++) {
                    if (op == ElementwiseOp.WHERE && k == 0) operands.add(s.ones(DType.BOOL, 4, 3));
                    else if (k == 1 && ti % 2 == 1) operands.add(t.isFloating() ? Scalar.of(0.5) : Scalar.of(2L));
                    else operands.add(s.ones(t, 3).expand(4, 3));
                }
                DType result = op == ElementwiseOp.CAST ? (ti % 2 == 0 ? DType.F16 : t) : op.resultType(t);
                DType operandType = op == ElementwiseOp.CAST ? t : op.operandType(t);
                sources.add(ElementwiseKernels.source(List.of(
                        node(op, operands, s.zeros(result, 4, 3), operandType, 0.25, 3.0))));
            }
        }
        return sources;
    }

    /** Fused chains with mixed dtypes, broadcasting, scalars and params; several cut into more than one run. */
    static List<String> fusedStructures(TensorScope s) {
        Tensor x = s.ones(DType.F16, 4, 3), bias = s.ones(DType.F32, 3), i = s.ones(DType.I32, 4, 3);
        Tensor t1 = s.zeros(DType.F32, 4, 3), t2 = s.zeros(DType.F32, 4, 3), t3 = s.zeros(DType.BOOL, 4, 3);
        Tensor t4 = s.zeros(DType.F32, 4, 3), t5 = s.zeros(DType.I32, 4, 3), t6 = s.zeros(DType.BF16, 4, 3);
        Tensor t7 = s.zeros(DType.F32, 4, 3);
        List<OpNode> nodes = List.of(
                node(ElementwiseOp.ADD, List.of(x, bias.expand(4, 3)), t1, DType.F32),
                node(ElementwiseOp.GELU, List.of(t1), t2, DType.F32),
                node(ElementwiseOp.GT, List.of(t2, Scalar.of(0.5)), t3, DType.F32),
                node(ElementwiseOp.WHERE, List.of(t3, t2, Scalar.of(-1.0)), t4, DType.F32),
                node(ElementwiseOp.MUL, List.of(i, Scalar.of(3L)), t5, DType.I32),
                node(ElementwiseOp.LEAKY_RELU, List.of(t4), t6, DType.BF16, 0.1),
                node(ElementwiseOp.CLAMP, List.of(t4, Scalar.of(-0.5), Scalar.of(0.5)), t7, DType.F32));
        List<String> sources = new ArrayList<>();
        int runs = 0;
        for (Object item : ElementwiseFusion.plan(nodes)) {
            for (List<ElementwiseNode> run : ElementwiseKernels.runs((FusionGroup) item)) {
                sources.add(ElementwiseKernels.source(run));
                runs++;
            }
        }
        assertTrue(runs >= 3, "the chain needs several 4-operand tasks, got " + runs);
        return sources;
    }

    @Test
    void everyElementwiseStructureAndFusedChainCompiles() {
        Nvcc.assumeInstalled();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<String> sources = new ArrayList<>(everyOpStructure(s));
            assertTrue(sources.size() > 150, "rendered " + sources.size() + " structures");
            sources.addAll(fusedStructures(s));
            Nvcc.compileMany(ELEMENTWISE_PREFIX, sources);
            // And two of them exactly as the JIT's translation unit sees them.
            Nvcc.compileOperator("ew_first", sources.getFirst());
            Nvcc.compileOperator("ew_fused", sources.getLast());
        }
    }

    @Test
    void everyFamilyCompilesForEveryDtypeItServes() {
        Nvcc.assumeInstalled();
        List<String> sources = new ArrayList<>();
        for (Family f : Family.values()) {
            for (DType t : DType.values()) {
                if (serves(f, t)) sources.add(OperatorSources.family(f, t));
            }
        }
        assertEquals(7 + 4 + 4 + 6 + 7 + 7, sources.size());
        sources.add(OperatorSources.COPY_BYTES);
        Nvcc.compileMany(OperatorSources.HEADER, sources);
        Nvcc.compileOperator("join", OperatorSources.JOIN);
        Nvcc.compileOperator("reduce_bf16", OperatorSources.family(Family.REDUCE, DType.BF16));
    }

    /**
     * attention.cu for each floating dtype alone and for f32 queries and keys over 16-bit values (LlamaModel's
     * cache); the other pairs differ only in which conversion overload a load picks.
     */
    @Test
    void attentionCompilesForItsDtypePairs() {
        Nvcc.assumeInstalled();
        List<String> sources = new ArrayList<>();
        for (DType t : new DType[]{DType.F32, DType.F64, DType.F16, DType.BF16}) sources.add(OperatorSources.attention(t, t));
        sources.add(OperatorSources.attention(DType.F32, DType.F16));
        sources.add(OperatorSources.attention(DType.F64, DType.BF16));
        Nvcc.compileMany(OperatorSources.HEADER, sources);
        Nvcc.compileOperator("attention_f32_bf16", OperatorSources.attention(DType.F32, DType.BF16));
    }

    /** Dtypes a family instance exists for: the API rejects the others before a node is made. */
    static boolean serves(Family f, DType t) {
        return switch (f) {
            case SOFTMAX, NORM -> t.isFloating();
            case MATMUL -> t != DType.BOOL;
            default -> true;
        };
    }
}
