package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.UnsupportedOnBackendException;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.gpuos.tensor.gpu.OperatorSourceCompileTest.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structure keys, run cutting and dims coalescing of the GPU backend, checked without a GPU. */
class ElementwiseStructureTest {

    @Test
    void sameStructureWithOtherShapesStridesAndScalarsGivesTheSameKey() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor a = s.ones(DType.F32, 4, 3), out1 = s.zeros(DType.F32, 4, 3);
            Tensor b = s.ones(DType.F32, 5, 7, 2).permute(2, 0, 1), out2 = s.zeros(DType.F32, 2, 5, 7);
            Tensor c = s.ones(DType.F32, 1).expand(1000), out3 = s.zeros(DType.F32, 1000);
            String k1 = key(node(ElementwiseOp.ADD, List.of(a, Scalar.of(2.0)), out1, DType.F32));
            String k2 = key(node(ElementwiseOp.ADD, List.of(b, Scalar.of(-7.5)), out2, DType.F32));
            String k3 = key(node(ElementwiseOp.ADD, List.of(c, Scalar.of(3L)), out3, DType.F32));
            assertEquals(k1, k2);
            assertEquals(k1, k3);
            assertEquals(OperatorLibrary.uniqueName("ew_add", k1), OperatorLibrary.uniqueName("ew_add", k2));
            // A different structure: another dtype, a tensor instead of a scalar, another op.
            Tensor h = s.ones(DType.F16, 4, 3), outH = s.zeros(DType.F16, 4, 3);
            assertNotEquals(k1, key(node(ElementwiseOp.ADD, List.of(h, Scalar.of(2.0)), outH, DType.F16)));
            assertNotEquals(k1, key(node(ElementwiseOp.ADD, List.of(a, a), out1, DType.F32)));
            assertNotEquals(k1, key(node(ElementwiseOp.SUB, List.of(a, Scalar.of(2.0)), out1, DType.F32)));
            assertNotEquals(OperatorLibrary.uniqueName("ew_add", k1),
                    OperatorLibrary.uniqueName("ew_add", key(node(ElementwiseOp.SUB, List.of(a, Scalar.of(2.0)), out1, DType.F32))));
        }
    }

    @Test
    void paramsTravelAsArgsNotAsCode() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor a = s.ones(DType.F32, 8), out = s.zeros(DType.F32, 8);
            assertEquals(key(node(ElementwiseOp.LEAKY_RELU, List.of(a), out, DType.F32, 0.01)),
                    key(node(ElementwiseOp.LEAKY_RELU, List.of(a), out, DType.F32, 0.3)));
        }
    }

    private static String key(ElementwiseNode n) {
        return ElementwiseKernels.structure(List.of(n));
    }

    @Test
    void aGroupKnowsWhetherDataFlowsBetweenItsMembersAndItsWideCutIsTheNarrowOneWithout() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor a = s.ones(DType.F32, 8, 64), b = s.ones(DType.F32, 8, 64);
            List<OpNode> independent = new ArrayList<>(), chained = new ArrayList<>();
            Tensor prev = a.select(0, 0);
            for (int i = 0; i < 8; i++) {
                independent.add(node(ElementwiseOp.ADD, List.of(a.select(0, i), b.select(0, i)), s.zeros(DType.F32, 64), DType.F32));
                Tensor next = s.zeros(DType.F32, 64);
                chained.add(node(ElementwiseOp.MUL, List.of(prev, b.select(0, i)), next, DType.F32));
                prev = next;
            }
            FusionGroup w1 = assertInstanceOf(FusionGroup.class, ElementwiseFusion.plan(independent).getFirst());
            FusionGroup chain = assertInstanceOf(FusionGroup.class, ElementwiseFusion.plan(chained).getFirst());
            assertEquals(8, w1.nodes().size());
            assertEquals(false, w1.flows(), "W1's adds read no member's output");
            assertEquals(true, chain.flows(), "each step reads the one before");
            // TaskPlan cuts a group without flow narrow: the same runs the wide cut finds (no two members connect).
            assertEquals(ElementwiseKernels.runs(w1.nodes(), Intermediates.NONE, true),
                    ElementwiseKernels.runs(w1.nodes(), Intermediates.NONE, false));
            assertEquals(8, ElementwiseKernels.runs(w1.nodes(), Intermediates.NONE, true).size());
            // With flow the wide cut differs: the chain's steps share one task through an operand table.
            assertNotEquals(ElementwiseKernels.runs(chain.nodes(), Intermediates.NONE, true),
                    ElementwiseKernels.runs(chain.nodes(), Intermediates.NONE, false));
        }
    }

    @Test
    void aChainOfUnaryOpsIsCutIntoFourOperandRuns() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 6, 5);
            List<OpNode> nodes = new ArrayList<>();
            Tensor prev = x;
            for (int i = 0; i < 9; i++) {
                Tensor next = s.zeros(DType.F32, 6, 5);
                nodes.add(node(i % 2 == 0 ? ElementwiseOp.MUL : ElementwiseOp.ADD, List.of(prev, Scalar.of(1.5)), next, DType.F32));
                prev = next;
            }
            List<Object> plan = ElementwiseFusion.plan(nodes);
            assertEquals(1, plan.size());
            List<List<ElementwiseNode>> runs = ElementwiseKernels.runs(assertInstanceOf(FusionGroup.class, plan.getFirst()));
            // Each run: one input plus three stored outputs = 4 operands, three scalar args.
            assertEquals(List.of(3, 3, 3), runs.stream().map(List::size).toList());
            String src = ElementwiseKernels.structure(runs.get(1));
            assertTrue(src.contains("gt::to_f32(s0)") && src.contains("gt::to_f32(s1)"),
                    "members read their producers from registers:\n" + src);
        }
    }

    @Test
    void threeMembersWithTwoScalarWordsEachFillOneTask() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 3), out1 = s.zeros(DType.F32, 3), out2 = s.zeros(DType.F32, 3);
            List<Operand> clamp = List.of(x, Scalar.of(-1.0), Scalar.of(1.0));
            ElementwiseNode first = node(ElementwiseOp.CLAMP, clamp, out1, DType.F32);
            ElementwiseNode second = node(ElementwiseOp.SOFTPLUS, List.of(out1), out2, DType.F32, 1.0, 20.0);
            ElementwiseNode third = node(ElementwiseOp.CLAMP, List.of(out2, Scalar.of(0.0), Scalar.of(2.0)),
                    s.zeros(DType.F32, 3), DType.F32);
            FusionGroup g = (FusionGroup) ElementwiseFusion.plan(List.of(first, second, third)).getFirst();
            // 4 operands allow at most 3 members, and a member takes at most 2 words: 6 args always fit.
            List<List<ElementwiseNode>> runs = ElementwiseKernels.runs(g);
            assertEquals(List.of(3), runs.stream().map(List::size).toList());
            String src = ElementwiseKernels.structure(runs.getFirst());
            for (int i = 0; i < 6; i++) assertTrue(src.contains("(task, " + i + ")"), "arg " + i + " is read:\n" + src);
        }
    }

    @Test
    void incrementalRunCuttingEqualsCuttingByTrialAnalysis() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
        ElementwiseOp[] unary = {ElementwiseOp.RELU, ElementwiseOp.EXP, ElementwiseOp.NEG};
        ElementwiseOp[] binary = {ElementwiseOp.ADD, ElementwiseOp.MUL, ElementwiseOp.MAXIMUM};
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (int trial = 0; trial < 300; trial++) {
                long[] shape = {1 + rnd.nextInt(3), 1 + rnd.nextInt(4)};
                List<Tensor> pool = new ArrayList<>(List.of(s.ones(DType.F32, shape), s.ones(DType.F32, shape[1]).expand(shape),
                        s.ones(DType.F32, shape[1], shape[0]).transpose(0, 1)));
                List<OpNode> nodes = new ArrayList<>();
                for (int i = 0, n = 1 + rnd.nextInt(14); i < n; i++) {
                    Tensor out = s.zeros(DType.F32, shape);
                    Tensor a = pool.get(rnd.nextInt(pool.size()));
                    Operand b = rnd.nextInt(4) == 0 ? Scalar.of(rnd.nextDouble()) : pool.get(rnd.nextInt(pool.size()));
                    ElementwiseNode node = switch (rnd.nextInt(4)) {
                        case 0 -> node(unary[rnd.nextInt(unary.length)], List.of(a), out, DType.F32);
                        case 1 -> node(ElementwiseOp.LEAKY_RELU, List.of(a), out, DType.F32, rnd.nextDouble());
                        case 2 -> node(ElementwiseOp.CLAMP, List.of(a, Scalar.of(-1.0), Scalar.of(1.0)), out, DType.F32);
                        default -> node(binary[rnd.nextInt(binary.length)], List.of(a, b), out, DType.F32);
                    };
                    nodes.add(node);
                    pool.add(out);
                }
                for (Object item : ElementwiseFusion.plan(nodes)) {
                    if (!(item instanceof FusionGroup g)) continue;
                    assertEquals(ElementwiseKernels.runsByTrial(g), ElementwiseKernels.runs(g), "trial " + trial);
                }
            }
        }
    }

    @Test
    void coalescingMergesWhatEveryOperandWalksAsOneDimension() {
        long[][] c = Dims.coalesce(new long[]{2, 3, 4}, new long[]{12, 4, 1}, new long[]{0, 4, 1});
        assertArrayEquals(new long[]{2, 12}, c[0]);
        assertArrayEquals(new long[]{12, 1}, c[1]);
        assertArrayEquals(new long[]{0, 1}, c[2]);
        long[][] p = Dims.coalesce(new long[]{2, 1, 3}, new long[]{1, 99, 2});
        assertArrayEquals(new long[]{2, 3}, p[0], "size-1 dims drop, transposed dims stay apart");
        assertArrayEquals(new long[]{1, 2}, p[1]);
        assertArrayEquals(new long[0], Dims.coalesce(new long[]{1, 1}, new long[]{5, 7})[0]);
        assertArrayEquals(new int[]{1024, 1}, Dims.tiling(10, 1024));
        assertArrayEquals(new int[]{2442, 4096}, Dims.tiling(10_000_000, 1024));
    }

    @Test
    void alignmentAndStorageOffsetsAreNotPartOfTheStructure() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor base = s.ones(DType.F32, 20), out = s.zeros(DType.F32, 16);
            String aligned = key(node(ElementwiseOp.ADD, List.of(base.slice(0, 0, 16), base.slice(0, 4, 20)), out, DType.F32));
            for (int off = 1; off <= 3; off++) {
                Tensor misaligned = base.slice(0, off, off + 16);
                assertEquals(off, misaligned.storageOffset());
                assertEquals(aligned, key(node(ElementwiseOp.ADD, List.of(misaligned, base.slice(0, 0, 16)), out, DType.F32)),
                        "offset " + off + " renders the same operator: the device picks packs per task");
            }
        }
    }

    @Test
    void packsAreSixteenBytesOfTheWidestOperandAndEachOperandChecksItsOwnAlignment() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (DType t : DType.values()) {
                ElementwiseOp op = t == DType.BOOL ? ElementwiseOp.EQ : ElementwiseOp.ADD;
                String src = key(node(op, List.of(s.ones(t, 8), s.ones(t, 8)), s.zeros(op.resultType(t), 8), op.operandType(t)));
                int v = 16 / t.byteSize();
                assertTrue(src.contains("gt::pack_range<" + v + ">"), t + " packs of " + v + ":\n" + src);
                assertTrue(src.contains("gt::dense_aligned(task->refs[2], 16)"), t + " output aligned to 16:\n" + src);
            }
            // f16 -> f32: packs of 4 (16 bytes of f32), so the f16 input moves 8 bytes and needs 8-byte alignment.
            String cast = key(node(ElementwiseOp.CAST, List.of(s.ones(DType.F16, 8)), s.zeros(DType.F32, 8), DType.F16));
            assertTrue(cast.contains("gt::pack_range<4>") && cast.contains("gt::dense_aligned(task->refs[0], 8)")
                    && cast.contains("gt::Pack<gt::f16_t, 4>") && cast.contains("gt::dense_aligned(task->refs[1], 16)"), cast);
            // f64 compared into bool: packs of 2, the bool output moves 2 bytes.
            String cmp = key(node(ElementwiseOp.LT, List.of(s.ones(DType.F64, 8), s.ones(DType.F64, 8)), s.zeros(DType.BOOL, 8), DType.F64));
            assertTrue(cmp.contains("gt::pack_range<2>") && cmp.contains("gt::dense_aligned(task->refs[2], 2)"), cmp);
            // A member's operand that an earlier member produced comes from that member's pack, not from memory.
            Tensor x = s.ones(DType.F32, 8), t1 = s.zeros(DType.F32, 8);
            String run = ElementwiseKernels.structure(List.of(node(ElementwiseOp.EXP, List.of(x), t1, DType.F32),
                    node(ElementwiseOp.NEG, List.of(t1), s.zeros(DType.F32, 8), DType.F32)));
            assertTrue(run.contains("gt::to_f32(s0.v[j])") && run.contains("gt::to_f32(s0)"), run);
        }
    }

    @Test
    void elementwiseTilesStartOnPackBoundariesAndCoverEveryElement() {
        long seed = 7;
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int trial = 0; trial < 2000; trial++) {
            long n = switch (trial % 4) {
                case 0 -> r.nextLong(0, 5000);
                case 1 -> r.nextLong(4096L * 1024 - 100, 4096L * 1024 + 100_000);
                default -> r.nextLong(0, 1L << 36);
            };
            int[] t = ElementwiseKernels.tiling(n);
            String ctx = "seed " + seed + " trial " + trial + " numel " + n + ": tile " + t[0] + " x " + t[1];
            assertEquals(0, t[0] % ElementwiseKernels.PACK_BYTES, ctx);
            assertTrue(t[0] >= ElementwiseKernels.MIN_TILE && t[1] >= 1 && t[1] <= 4096, ctx);
            assertTrue((long) t[0] * t[1] >= n && (n == 0 || (long) t[0] * (t[1] - 1) < n), ctx);
        }
        assertArrayEquals(new int[]{2448, 4085}, ElementwiseKernels.tiling(10_000_000), "2442 rounded up to 16");
        assertArrayEquals(new int[]{2442, 4096}, Dims.tiling(10_000_000, 1024), "other tasks keep their tiling");
        assertThrows(IllegalArgumentException.class, () -> Dims.tiling(10, 1024, 3));
        assertThrows(IllegalArgumentException.class, () -> Dims.tiling(10, 1024, 2048));
    }

    @Test
    void viewsBeyondEightDimensionsAreRejectedNamingTheOpAndTheBackend() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            long[] shape = {2, 2, 2, 2, 2, 2, 2, 2, 2};
            Tensor x = s.ones(DType.F32, shape).permute(8, 7, 6, 5, 4, 3, 2, 1, 0);
            ElementwiseNode n = node(ElementwiseOp.ADD, List.of(x, x), s.zeros(DType.F32, shape), DType.F32);
            UnsupportedOnBackendException e = assertThrows(UnsupportedOnBackendException.class,
                    () -> GpuSupport.check(n, "gpu"));
            assertTrue(e.getMessage().contains("add") && e.getMessage().contains("gpu"), e.getMessage());
            // Nine dims that coalesce are fine.
            Tensor y = s.ones(DType.F32, shape);
            GpuSupport.check(node(ElementwiseOp.ADD, List.of(y, y), s.zeros(DType.F32, shape), DType.F32), "gpu");
        }
    }
}
