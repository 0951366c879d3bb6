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
    /** {@code program(x @ W^T, bias, residual)}: x [rows, K], W [2 UNITS, K] of {@code t}, bias [2 UNITS] and residual [rows, 2 UNITS] F32. */
    private static List<TaskPlan.Item> pointwisePlan(DType t, long rows, boolean capture, Function<Tensor[], List<Tensor>> program) {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(t, rows, K), w = s.ones(t, 2 * UNITS, K), b = s.ones(DType.F32, 2 * UNITS),
                    r = s.ones(DType.F32, rows, 2 * UNITS);
            Captured c = rec.capture(() -> program.apply(new Tensor[]{x.matmul(w.transpose(0, 1)), b, r}));
            return TaskPlan.of(c.work(), capture ? Intermediates.of(c.work(), c.internal()) : Intermediates.NONE, true);
        }
    }

    private static ProductEpilogue.Pointwise pointwise(List<TaskPlan.Item> plan) {
        return assertInstanceOf(TaskPlan.Single.class, plan.getFirst()).pointwise();
    }

    /**
     * BERT's forms after a multi-row product (16 rows: M_SKINNY_K; 70 F32 rows: M_TILED) are taken into its task
     * ({@link ProductEpilogue.Pointwise}); forms whose fused value would differ, or whose intermediates others read,
     * are not; streamed submissions and M_MMA products (16-bit, 70 rows) keep the separate tasks, as does the switch off.
     */
    @Test
    void biasGeluResidualAfterAMultiRowProductRideOnItsStoresWhereTheValueIsTheSeparateTasks() {
        for (DType t : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            for (long rows : t == DType.F32 ? new long[]{16, 70} : new long[]{16}) {
                String ctx = t + " " + rows + " rows";
                List<TaskPlan.Item> plan = pointwisePlan(t, rows, true, o -> List.of(o[0].add(o[1]).to(t)));
                assertEquals(1, plan.size(), ctx + ": " + plan);
                ProductEpilogue.Pointwise p = pointwise(plan);
                assertEquals(t != DType.F32, p.cast(), ctx);
                assertFalse(p.storeProduct() || p.gelu() || p.residual() != null, ctx);

                plan = pointwisePlan(t, rows, true, o -> List.of(o[0].add(o[1]).gelu().to(t), o[0]));
                assertEquals(1, plan.size(), ctx + ": " + plan);
                p = pointwise(plan);
                assertTrue(p.gelu() && p.storeProduct(), ctx + ": gelu, and the returned product stored");

                plan = pointwisePlan(t, rows, true, o -> List.of(o[1].add(o[0]).add(o[2])));   // bias first: the same f32 sum
                assertEquals(1, plan.size(), ctx + ": " + plan);
                p = pointwise(plan);
                assertTrue(p.residual() != null && !p.cast(), ctx);
                assertEquals(2 | 8, p.flags(), ctx);

                // the biased value read elsewhere: not an intermediate, so the gelu stays a task of its own
                plan = pointwisePlan(t, rows, true, o -> {
                    Tensor biased = o[0].add(o[1]);
                    return List.of(biased.gelu(), biased);
                });
                assertNull(pointwise(plan), ctx + ": " + plan);
                // gelu of the product before the bias: not a form the epilogue has
                assertNull(pointwise(pointwisePlan(t, rows, true, o -> List.of(o[0].gelu().add(o[1])))), ctx);
                // a bias of the product's 16-bit dtype: the add would round in that dtype
                if (t != DType.F32) {
                    assertNull(pointwise(pointwisePlan(t, rows, true, o -> List.of(o[0].add(o[1].to(t))))), ctx);
                }
                // streamed: every member's value may be read later
                assertNull(pointwise(pointwisePlan(t, rows, false, o -> List.of(o[0].add(o[1])))), ctx);
            }
        }
        // 16-bit products of more than 16 rows run M_MMA, which has no epilogue
        assertNull(pointwise(pointwisePlan(DType.BF16, 70, true, o -> List.of(o[0].add(o[1])))));
        boolean was = FamilyTasks.productEpilogues;
        try {
            FamilyTasks.productEpilogues = false;
            assertNull(pointwise(pointwisePlan(DType.F32, 16, true, o -> List.of(o[0].add(o[1])))), "the switch off");
        } finally {
            FamilyTasks.productEpilogues = was;
        }
    }
}
