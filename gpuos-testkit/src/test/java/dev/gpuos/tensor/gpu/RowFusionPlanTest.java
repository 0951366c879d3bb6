package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.testkit.NodeRecorder.Captured;
import dev.gpuos.testkit.NodeRecorder;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How many tasks row ops with their elementwise neighbours, and connected elementwise steps with many inputs,
 * become ({@link TaskPlan}), planned from the nodes real tensor-API programs record, without a GPU: streamed
 * (every output stored) and captured with named outputs (intermediates in registers).
 */
class RowFusionPlanTest {

    static List<TaskPlan.Item> streamed(Captured c) {
        return TaskPlan.of(c.work(), Intermediates.NONE, true);
    }

    static List<TaskPlan.Item> captured(Captured c) {
        return TaskPlan.of(c.work(), Intermediates.of(c.work(), c.internal()), true);
    }

    /** Operands of each item's task, counted as the task builders count them. */
    static int operands(TaskPlan.Item item, Intermediates im) {
        return switch (item) {
            case TaskPlan.Run r -> ElementwiseKernels.operands(r.members(), im).size();
            case TaskPlan.Row r -> r.fused().refCount();
            case TaskPlan.Single s -> -1;
        };
    }

    @Test
    void residualAddRmsNormAffineIsOneTaskStoringTheResidualSum() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 4, 2048), r = s.ones(DType.F32, 4, 2048), w = s.ones(DType.F32, 2048);
            Tensor[] residual = new Tensor[1];
            Captured c = rec.capture(() -> {
                residual[0] = x.add(r);
                return List.of(residual[0], residual[0].rmsNorm(new long[]{2048}, null, 1e-6).mul(w));
            });
            List<TaskPlan.Item> plan = streamed(c);
            assertEquals(1, plan.size(), plan.toString());
            RowFusion.Fused f = assertInstanceOf(TaskPlan.Row.class, plan.getFirst()).fused();
            assertEquals(1, f.prologue.size());
            assertEquals(1, f.epilogue.size());
            assertEquals(6, f.refCount());  // x, r, w; residual, norm output, affine output: an operand table
            // Captured, returning the residual and the result: the norm's output stays in a register.
            plan = captured(c);
            assertEquals(1, plan.size());
            f = ((TaskPlan.Row) plan.getFirst()).fused();
            assertEquals(5, f.refCount());
            assertEquals(-1, f.outRef[1], "norm output kept in a register");
            assertTrue(f.outRef[0] >= 0, "the returned residual sum is stored");
        }
    }

    /**
     * Independent elementwise work recorded between a row op's producers (other threads' or items' ops) stays out of
     * the row task: in its prologue every interleaving was a new operator structure to compile.
     */
    @Test
    void independentMembersRecordedInBetweenStayOutOfTheRowTask() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 8, 16), z = s.ones(DType.F32, 8, 16);
            Captured c = rec.capture(() -> {
                Tensor y = x.mul(2.0);
                Tensor other = z.mul(3.0).relu();  // another item, recorded between y and its reduction
                return List.of(y.add(1.0).sum(new int[]{1}, false), other);
            });
            List<TaskPlan.Item> plan = streamed(c);
            assertEquals(2, plan.size(), plan.toString());
            assertEquals(2, assertInstanceOf(TaskPlan.Run.class, plan.get(0)).members().size(), "z * 3, relu");
            RowFusion.Fused f = assertInstanceOf(TaskPlan.Row.class, plan.get(1)).fused();
            assertEquals(2, f.prologue.size(), "x * 2, + 1: the reduced input's component only");
        }
    }

    @Test
    void layerNormWithAffineAndActivationIsOneTask() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.BF16, 3, 5, 96), r = s.ones(DType.BF16, 3, 5, 96);
            Tensor w = s.ones(DType.BF16, 96), b = s.ones(DType.BF16, 96);
            Captured c = rec.capture(() -> List.of(x.add(r).mul(0.5).layerNorm(w, b).relu()));
            List<TaskPlan.Item> plan = captured(c);
            assertEquals(1, plan.size(), plan.toString());
            RowFusion.Fused f = ((TaskPlan.Row) plan.getFirst()).fused();
            assertEquals(2, f.prologue.size());
            assertEquals(RowFusion.Kind.LAYER, f.kind);
            assertEquals(5, f.refCount());  // x, r, w, b; the result: everything else in registers
            assertEquals(1, streamed(c).size());
        }
    }

    @Test
    void softmaxWithScaleAndMaskPrologueIsOneTask() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor scores = s.ones(DType.F16, 8, 128, 128), mask = s.ones(DType.F16, 128, 128);
            Captured c = rec.capture(() -> List.of(scores.mul(0.125).add(mask).softmax(-1)));
            for (List<TaskPlan.Item> plan : List.of(streamed(c), captured(c))) {
                assertEquals(1, plan.size(), plan.toString());
                RowFusion.Fused f = ((TaskPlan.Row) plan.getFirst()).fused();
                assertEquals(RowFusion.Kind.SOFTMAX, f.kind);
                assertEquals(2, f.prologue.size());
            }
            assertEquals(3, ((TaskPlan.Row) captured(c).getFirst()).fused().refCount());
            // Softmax over a middle dim: the row op's dim is moved last in every operand's view.
            Captured mid = rec.capture(() -> List.of(scores.mul(0.125).add(mask).logSoftmax(1)));
            RowFusion.Fused f = ((TaskPlan.Row) captured(mid).getFirst()).fused();
            assertEquals(RowFusion.Kind.LOG_SOFTMAX, f.kind);
            assertEquals(1, captured(mid).size());
        }
    }

    /** x = rms_norm(x + r_i) * w_i, the decode-shaped chain (W7): one task per step, streamed or captured. */
    static Captured normChain(NodeRecorder rec, TensorScope s, DType t, int steps, int hidden) {
        Tensor x0 = s.ones(t, 1, hidden);
        List<Tensor> r = new ArrayList<>(), w = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            r.add(s.ones(t, 1, hidden));
            w.add(s.ones(t, hidden));
        }
        return rec.capture(() -> {
            Tensor x = x0;
            for (int i = 0; i < steps; i++) x = x.add(r.get(i)).rmsNorm(new long[]{hidden}, null, 1e-6).mul(w.get(i));
            return List.of(x);
        });
    }

    @Test
    void aChainOfNormStepsIsOneTaskPerStep() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Captured c = normChain(rec, s, DType.F32, 64, 2048);
            assertEquals(64 * 3, c.work().size());
            for (List<TaskPlan.Item> plan : List.of(streamed(c), captured(c))) {
                assertEquals(64, plan.size());
                for (TaskPlan.Item item : plan) assertInstanceOf(TaskPlan.Row.class, item);
            }
            // Captured: each task stores only what the next one reads (the next residual sum) and the result.
            List<TaskPlan.Item> plan = captured(c);
            for (int i = 0; i < plan.size(); i++) {
                RowFusion.Fused f = ((TaskPlan.Row) plan.get(i)).fused();
                // step 0 also reads x0 and r0; later steps read h_i, w_i, r_i+1 and store h_i+1; the last one its result
                assertEquals(i == 0 ? 5 : i < plan.size() - 1 ? 4 : 3, f.refCount(), "step " + i);
            }
        }
    }

    private static List<Integer> residentElements(List<TaskPlan.Item> plan) {
        return plan.stream().map(item -> RowFusion.residentElements(((TaskPlan.Row) item).fused())).toList();
    }

    @Test
    void rowsABlockHoldsAreResidentAndLongerOrStridedOnesChunked() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            // W7's step (1, 2048): up to 4 inputs of 4 bytes, 8 elements a thread of 256; F64 (2 words each) with 3
            // inputs or more: 4, so 2048 does not fit.
            for (DType t : new DType[]{DType.F32, DType.BF16}) {
                for (TaskPlan.Item item : captured(normChain(rec, s, t, 3, 2048))) {
                    assertEquals(8, RowFusion.residentElements(((TaskPlan.Row) item).fused()), t.toString());
                }
            }
            // The last step reads only h and w: 2 F64 inputs, 8 elements a thread again.
            assertEquals(List.of(4, 4, 8), residentElements(captured(normChain(rec, s, DType.F64, 3, 1024))));
            assertEquals(List.of(0, 0, 8), residentElements(captured(normChain(rec, s, DType.F64, 3, 2048))));
            for (TaskPlan.Item item : captured(normChain(rec, s, DType.F32, 3, 4096))) {
                assertEquals(0, RowFusion.residentElements(((TaskPlan.Row) item).fused()), "4096 > 8 x 256");
            }
            // Warp teams (many short rows) and a transposed (strided) row: chunked.
            Tensor many = s.ones(DType.F32, 512, 64), tr = s.ones(DType.F32, 2048, 2);
            Captured warps = rec.capture(() -> List.of(many.softmax(-1).mul(2.0)));
            Captured strided = rec.capture(() -> List.of(tr.transpose(0, 1).softmax(-1).mul(2.0)));
            for (Captured c : List.of(warps, strided)) {
                List<TaskPlan.Item> plan = captured(c);
                assertEquals(1, plan.size());
                assertEquals(0, RowFusion.residentElements(((TaskPlan.Row) plan.getFirst()).fused()));
            }
            // The form is part of the operator's structure: a resident and a chunked task never share an operator.
            RowFusion.Fused resident = ((TaskPlan.Row) captured(normChain(rec, s, DType.F32, 2, 2048)).get(1)).fused();
            RowFusion.Fused chunked = ((TaskPlan.Row) captured(normChain(rec, s, DType.F32, 2, 4096)).get(1)).fused();
            assertNotEquals(RowFusion.operator(resident).key(), RowFusion.operator(chunked).key());
        }
    }

    @Test
    void aSevenInputRecurrentStepIsOneTask() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor[] in = new Tensor[7];
            for (int i = 0; i < in.length; i++) in[i] = s.ones(DType.F32, 1, 1024);
            // An LSTM cell from precomputed gate inputs: i, f, g, o from x- and h-parts, then c and h.
            Captured c = rec.capture(() -> {
                Tensor i = in[0].add(in[1]).sigmoid(), f = in[2].sigmoid(), g = in[3].add(in[4]).tanh();
                Tensor o = in[5].sigmoid();
                Tensor cell = f.mul(in[6]).add(i.mul(g));
                return List.of(cell, o.mul(cell.tanh()));
            });
            assertEquals(11, c.work().size());
            Intermediates im = Intermediates.of(c.work(), c.internal());
            List<TaskPlan.Item> plan = captured(c);
            assertEquals(1, plan.size(), plan.toString());
            assertEquals(9, operands(plan.getFirst(), im));  // 7 inputs, cell and h
            // Streamed every member is stored: 7 inputs + 11 outputs, past one table: two tasks, not ~6.
            List<TaskPlan.Item> stored = streamed(c);
            assertTrue(stored.size() <= 2, stored.size() + " tasks");
            for (TaskPlan.Item item : stored) assertTrue(operands(item, Intermediates.NONE) <= ElementwiseKernels.MAX_TABLE_REFS);
            // Without fusion (the interpreter tier's streamed path) every task keeps 4 inline operands.
            for (TaskPlan.Item item : TaskPlan.of(c.work(), Intermediates.NONE, false)) {
                assertTrue(operands(item, Intermediates.NONE) <= ElementwiseKernels.MAX_REFS);
            }
        }
    }

    @Test
    void independentOpsStillCutAtFourOperands() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor a = s.ones(DType.F32, 256), b = s.ones(DType.F32, 256);
            Captured c = rec.capture(() -> {
                List<Tensor> out = new ArrayList<>();
                for (int i = 0; i < 8; i++) out.add(a.add(b));
                return out;
            });
            // W1's independent adds: cut as without tables (two adds of the shared a, b per 4-operand task)
            assertEquals(4, streamed(c).size());
            assertEquals(TaskPlan.of(c.work(), Intermediates.NONE, false), streamed(c));
        }
    }

    @Test
    void aReductionOverTheLastDimsTakesItsPrologue() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 6, 3, 50), w = s.ones(DType.F32, 50);
            for (var program : List.<java.util.function.Supplier<List<Tensor>>>of(
                    () -> List.of(x.mul(w).sum(new int[]{2}, false)),
                    () -> List.of(x.sub(1.0).abs().mean(new int[]{1, 2}, true)),
                    () -> List.of(x.add(w).max(new int[]{0}, false)))) {
                Captured c = rec.capture(program);
                List<TaskPlan.Item> plan = captured(c);
                assertEquals(1, plan.size(), plan.toString());
                RowFusion.Fused f = ((TaskPlan.Row) plan.getFirst()).fused();
                assertTrue(f.kind.reduces());
                assertTrue(f.epilogue.isEmpty());
                assertEquals(1, streamed(c).size());
            }
            // Integers and argmax keep their own operator.
            Tensor i = s.ones(DType.I32, 4, 8);
            Captured ints = rec.capture(() -> List.of(i.add(1L).sum(new int[]{1}, false), x.add(1.0).argmax(2, false)));
            for (TaskPlan.Item item : captured(ints)) assertTrue(!(item instanceof TaskPlan.Row), item.toString());
        }
    }

    @Test
    void aPrologueThatStoresIntoABufferTheTaskReadsIsNotFused() {
        try (TensorScope s = TensorScope.open(dev.gpuos.tensor.cpu.CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 2, 64), r = s.ones(DType.F32, 2, 64), buffer = s.zeros(DType.F32, 4, 64);
            Tensor top = buffer.narrow(0, 0, 2), bottom = buffer.narrow(0, 2, 2), out = s.zeros(DType.F32, 2, 64);
            // top = x + r, then rms_norm(bottom): the prologue would store into the buffer the norm reads.
            var add = OperatorSourceCompileTest.node(dev.gpuos.tensor.op.ElementwiseOp.ADD, List.of(x, r), top, DType.F32);
            var norm = new NormNode(NormNode.Kind.RMS, bottom, null, null, 1, 1e-6, out);
            List<TaskPlan.Item> plan = TaskPlan.of(List.of(add, norm), Intermediates.NONE, true);
            assertEquals(2, plan.size(), plan.toString());
            assertInstanceOf(TaskPlan.Run.class, plan.get(0));
            assertInstanceOf(TaskPlan.Single.class, plan.get(1));
            // The same with the norm reading what the add wrote, element for element: fused.
            var norm2 = new NormNode(NormNode.Kind.RMS, top, null, null, 1, 1e-6, out);
            assertInstanceOf(TaskPlan.Row.class, TaskPlan.of(List.of(add, norm2), Intermediates.NONE, true).getFirst());
        }
    }
}
