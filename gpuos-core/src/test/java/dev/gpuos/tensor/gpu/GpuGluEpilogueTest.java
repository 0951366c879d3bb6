package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The one-row product with what a decode step does around it, fused by the planner and checked on the GPU
 * against the CPU backend's separate ops. A SwiGLU written the usual way after a one-row product over a stacked gate/up weight, captured: ONE task
 * (matmul.cu's M_GEMV_GLU, {@link ProductEpilogue}) whose value matches the CPU backend's separate ops; with the
 * product also returned, it is stored too and matches. Unit counts of a Llama MLP (8192: 2 pairs a warp) and
 * small ones (1 pair, partial units), k a whole number of 16-byte groups or not, weight rows off 16-byte
 * alignment (element loads), in BF16, F16 and F32. Seeds are in every failure message.
 */
@Tag("gpu")
class GpuGluEpilogueTest extends SharedGpuOS {
    static GpuBackend gpu;
    private static boolean skinnyWas, gemvWas, fusionWas;

    @BeforeAll
    static void backend() {
        skinnyWas = FamilyTasks.skinny;
        gemvWas = FamilyTasks.gemv;
        fusionWas = FamilyTasks.productFusion;
        FamilyTasks.skinny = true;
        FamilyTasks.gemv = true;
        FamilyTasks.productFusion = true;
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void restorePaths() {
        FamilyTasks.skinny = skinnyWas;
        FamilyTasks.gemv = gemvWas;
        FamilyTasks.productFusion = fusionWas;
    }

    /** silu(gate) * up over gu = x @ W^T, W = [gate; up], as LlamaModel writes it (F32 between the casts). */
    private static Tensor swiglu(Tensor gu, DType t) {
        long units = gu.size(1) / 2;
        return gu.narrow(1, 0, units).to(DType.F32).silu().mul(gu.narrow(1, units, units)).to(t);
    }

    @Test
    void aCapturedSwigluAfterAOneRowProductIsOneTaskAndMatchesTheCpu() {
        for (DType t : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            for (long units : new long[]{8192, 300, 5}) {
                for (long k : new long[]{2048, 2100, 7}) {
                    if (units == 8192 && k != 2048) continue;   // the Llama shape once
                    for (boolean misaligned : new boolean[]{false, true}) {
                        long seed = 31_000 + t.ordinal() * 100_000L + units * 10 + k + (misaligned ? 7 : 0);
                        trial(t, units, k, misaligned, seed);
                    }
                }
            }
        }
    }

    /**
     * A decode step's residual add, rms_norm and cast before a one-row product, captured: ONE task (M_GEMV_NORM,
     * {@link ProductPrologue}) with the product's value and the stored residual sum matching the CPU backend's
     * separate ops; with the SwiGLU after it too (the gate/up product of a Llama MLP), still one task. Hidden 2048
     * (the Llama-3.2-1B row, in shared memory as BF16/F16) and 300; no add (the norm reads the residual) too.
     */
    @Test
    void aCapturedRmsNormBeforeAOneRowProductIsOneTaskAndMatchesTheCpu() {
        for (DType t : new DType[]{DType.BF16, DType.F16}) {
            for (long h : new long[]{2048, 300}) {
                for (int form = 0; form < 3; form++) {
                    long seed = 52_000 + t.ordinal() * 100_000L + h * 10 + form;
                    SplittableRandom r = new SplittableRandom(seed);
                    double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(h + 1);
                    long cols = form == 2 ? 2 * 1000 : 3072;
                    String ctx = t + " hidden " + h + (form == 0 ? " add + norm" : form == 1 ? " norm alone" : " add + norm + SwiGLU")
                            + " seed " + seed;
                    try (Twins tw = new Twins(gpu)) {
                        Twin w = tw.random(r, t, new long[]{cols, h}, false, LayoutKind.CONTIGUOUS).map(x -> x.transpose(0, 1));
                        Twin x = tw.random(r, DType.F32, new long[]{1, h}, false, LayoutKind.CONTIGUOUS);
                        Twin delta = tw.random(r, t, new long[]{1, h}, false, LayoutKind.CONTIGUOUS);
                        Twin g = tw.random(r, DType.F32, new long[]{h}, false, LayoutKind.CONTIGUOUS);
                        int f = form;
                        java.util.function.BiFunction<Twin, Boolean, List<Tensor>> program = (unused, dev) -> {
                            Tensor xs = dev ? x.dev() : x.cpu(), ds = dev ? delta.dev() : delta.cpu();
                            Tensor sum = f == 1 ? xs : xs.add(ds);
                            Tensor hn = sum.rmsNorm(new long[]{h}, dev ? g.dev() : g.cpu(), 1e-5).to(t);
                            Tensor out = hn.matmul(dev ? w.dev() : w.cpu());
                            if (f == 2) out = swiglu(out, t);
                            return f == 1 ? List.of(out) : List.of(out, sum);
                        };
                        List<Tensor> expected = program.apply(null, false);
                        try (GpuReplay replay = gpu.captureReturning(() -> program.apply(null, true))) {
                            assertEquals(1, replay.taskCount(), "the norm, the product (and its SwiGLU) as one task: " + ctx);
                            replay.run();
                            Twins.assertClose(new Twin(expected.get(0), replay.outputs().get(0)), rtol, atol, "the product " + ctx);
                            if (form != 1) {
                                Twins.assertClose(new Twin(expected.get(1), replay.outputs().get(1)), 0, 0, "the stored residual sum " + ctx);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void trial(DType t, long units, long k, boolean misaligned, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(k + 1);
        String ctx = t + " units " + units + " k " + k + (misaligned ? " (weight rows off 16-byte alignment)" : "") + " seed " + seed;
        try (Twins tw = new Twins(gpu)) {
            long pitch = misaligned ? k + 1 : k;
            Twin w = tw.random(r, t, new long[]{2 * units, pitch}, false, LayoutKind.CONTIGUOUS)
                    .map(x -> x.slice(1, misaligned ? 1 : 0, misaligned ? k + 1 : k).transpose(0, 1));
            Twin x = tw.random(r, t, new long[]{1, k}, false, LayoutKind.CONTIGUOUS);
            Tensor expected = swiglu(x.cpu().matmul(w.cpu()), t), expectedProduct = x.cpu().matmul(w.cpu());
            try (GpuReplay alone = gpu.captureReturning(() -> List.of(swiglu(x.dev().matmul(w.dev()), t)))) {
                assertEquals(1, alone.taskCount(), "the product and its SwiGLU as one task: " + ctx);
                alone.run();
                Twins.assertClose(new Twin(expected, alone.outputs().getFirst()), rtol, atol, "silu(gate) * up " + ctx);
            }
            try (GpuReplay both = gpu.captureReturning(() -> {
                Tensor gu = x.dev().matmul(w.dev());
                return List.of(swiglu(gu, t), gu);
            })) {
                assertEquals(1, both.taskCount(), "the product, returned, still one task with its SwiGLU: " + ctx);
                both.run();
                Twins.assertClose(new Twin(expected, both.outputs().get(0)), rtol, atol, "silu(gate) * up, product stored " + ctx);
                Twins.assertClose(new Twin(expectedProduct, both.outputs().get(1)), rtol, atol, "the stored product " + ctx);
            }
        }
    }
}
