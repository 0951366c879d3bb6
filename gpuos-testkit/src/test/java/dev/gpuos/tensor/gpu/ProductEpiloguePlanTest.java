package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.testkit.NodeRecorder;
import dev.gpuos.testkit.NodeRecorder.Captured;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which SwiGLUs after a product {@link ProductEpilogue} takes into the product's task (matmul.cu's M_GEMV_GLU),
 * planned from recorded nodes without a GPU: exactly the form whose fused result equals the separate ops'.
 */
class ProductEpiloguePlanTest {
    private static final long K = 64, UNITS = 96;

    /** Plans {@code program(x @ W^T)} over x [rows, K] and W [2 UNITS, K], captured (or streamed). */
    private static List<TaskPlan.Item> plan(DType t, long rows, boolean capture, Function<Tensor, List<Tensor>> program) {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(t, rows, K), w = s.ones(t, 2 * UNITS, K);
            Captured c = rec.capture(() -> program.apply(x.matmul(w.transpose(0, 1))));
            Intermediates im = capture ? Intermediates.of(c.work(), c.internal()) : Intermediates.NONE;
            return TaskPlan.of(c.work(), im, true);
        }
    }

    private static Tensor swiglu(Tensor gu, DType t) {
        return gu.narrow(1, 0, UNITS).to(DType.F32).silu().mul(gu.narrow(1, UNITS, UNITS)).to(t);
    }

    private static ProductEpilogue.Glu glu(List<TaskPlan.Item> plan) {
        return assertInstanceOf(TaskPlan.Single.class, plan.getFirst()).glu();
    }

    @Test
    void aCapturedSwigluIsTakenWithTheProductStoredOnlyWhenReturned() {
        for (DType t : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            List<TaskPlan.Item> plan = plan(t, 1, true, gu -> List.of(swiglu(gu, t)));
            assertEquals(1, plan.size(), t + ": " + plan);
            ProductEpilogue.Glu g = glu(plan);
            assertFalse(g.storeProduct(), t.toString());
            assertEquals(t == DType.F32 ? 2 : 4, g.members().size(), t + ": silu, mul (and the casts around them)");
            assertEquals(UNITS, g.units());

            plan = plan(t, 1, true, gu -> List.of(swiglu(gu, t), gu));
            assertEquals(1, plan.size(), t + ": " + plan);
            assertTrue(glu(plan).storeProduct(), t + ": the product is returned, so stored");
            // the up half first in the mul, and the up half cast by a member of its own: the same value
            plan = plan(t, 1, true, gu -> List.of(gu.narrow(1, UNITS, UNITS).to(DType.F32)
                    .mul(gu.narrow(1, 0, UNITS).to(DType.F32).silu()).to(t)));
            assertEquals(1, plan.size(), t + ": " + plan);
        }
    }

    /** {@code x [1, K] (f32) + delta [1, K]}, rms_norm, cast to BF16, @ W^T ([2 UNITS, K]), captured. */
    private static List<TaskPlan.Item> normPlan(Function<Tensor[], List<Tensor>> program) {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 1, K), delta = s.ones(DType.BF16, 1, K), g = s.ones(DType.F32, K),
                    w = s.ones(DType.BF16, 2 * UNITS, K);
            Captured c = rec.capture(() -> {
                Tensor sum = x.add(delta), norm = sum.rmsNorm(new long[]{K}, g, 1e-5);
                return program.apply(new Tensor[]{sum, norm, norm.to(DType.BF16).matmul(w.transpose(0, 1))});
            });
            return TaskPlan.of(c.work(), Intermediates.of(c.work(), c.internal()), true);
        }
    }

    @Test
    void aRowFusedRmsNormRidesOnTheOneRowProductThatReadsIt() {
        // the residual sum returned (the next residual add reads it): stored by the fused task
        List<TaskPlan.Item> plan = normPlan(t -> List.of(t[2], t[0]));
        assertEquals(1, plan.size(), plan.toString());
        TaskPlan.Single single = assertInstanceOf(TaskPlan.Single.class, plan.getFirst());
        assertTrue(single.norm() != null && single.norm().storeSum(), plan.toString());
        assertEquals(3, single.norm().nodes().size(), "add, rms_norm, cast");
        // with the SwiGLU after the product too: still one task
        plan = normPlan(t -> List.of(swiglu(t[2], DType.BF16)));
        assertEquals(1, plan.size(), plan.toString());
        single = assertInstanceOf(TaskPlan.Single.class, plan.getFirst());
        assertTrue(single.norm() != null && !single.norm().storeSum() && single.glu() != null, plan.toString());
        // the norm's value read outside (returned): the row task stays, the product alone
        plan = normPlan(t -> List.of(t[2], t[1]));
        assertEquals(2, plan.size(), plan.toString());
        assertInstanceOf(TaskPlan.Row.class, plan.getFirst());
        assertNull(assertInstanceOf(TaskPlan.Single.class, plan.get(1)).norm());
    }

    @Test
    void formsWhoseFusedValueWouldDifferOrThatAreNotOneRowStaySeparate() {
        DType t = DType.BF16;
        // silu in bf16 rounds its value before the mul: not the f32 chain the kernel computes
        assertNull(glu(plan(t, 1, true, gu -> List.of(gu.narrow(1, 0, UNITS).silu().mul(gu.narrow(1, UNITS, UNITS))))));
        // the halves the other way round (silu of the second half)
        assertNull(glu(plan(t, 1, true, gu -> List.of(gu.narrow(1, UNITS, UNITS).to(DType.F32).silu()
                .mul(gu.narrow(1, 0, UNITS)).to(t)))));
        // an intermediate read outside (the silu returned)
        assertNull(glu(plan(t, 1, true, gu -> {
            Tensor s = gu.narrow(1, 0, UNITS).to(DType.F32).silu();
            return List.of(s.mul(gu.narrow(1, UNITS, UNITS)).to(t), s);
        })));
        // two rows: not M_GEMV
        assertNull(glu(plan(t, 2, true, gu -> List.of(swiglu(gu, t)))));
        // streamed: every member's output may be read later, so each is stored by the elementwise task
        assertNull(glu(plan(t, 1, false, gu -> List.of(swiglu(gu, t)))));
    }

    @Test
    void productFusionOffPlansTheSeparateTasksForTheAB() {
        boolean was = FamilyTasks.productFusion;
        FamilyTasks.productFusion = false;
        try {
            assertEquals(2, plan(DType.BF16, 1, true, gu -> List.of(swiglu(gu, DType.BF16))).size());
            assertEquals(2, normPlan(t -> List.of(t[2], t[0])).size());
        } finally {
            FamilyTasks.productFusion = was;
        }
    }
}
