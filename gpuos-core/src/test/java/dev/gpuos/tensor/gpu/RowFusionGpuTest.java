package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Row-fused tasks (a norm or softmax with its elementwise prologue and epilogue in one task) and operand-table
 * tasks (connected elementwise steps past 4 operands) on the GPU against the CPU backend: row lengths 1..8192
 * (warp and block teams, odd sizes), contiguous, permuted, strided and broadcast inputs, F32/F16/BF16, streamed
 * (every intermediate stored and compared) and captured with named outputs (intermediates in registers), and
 * the task counts the planner promises.
 */
@Tag("gpu")
class RowFusionGpuTest extends SharedGpuOS {

    private static final long[] LENGTHS = {1, 2, 31, 32, 33, 127, 128, 129, 1000, 1024, 1025, 2047, 4097, 8192};
    private static final DType[] FLOATS = {DType.F32, DType.F16, DType.BF16};

    private static GpuBackend backend() {
        return new GpuBackend(os, 1024, Duration.ofMillis(1));
    }

    /** Runs {@code program} on both sides; compares every tensor it returns; then a capture of it, run twice. */
    private static void check(GpuBackend gpu, Twins tw, List<Twin> inputs, Function<List<Tensor>, List<Tensor>> program,
                              String ctx) {
        List<Tensor> cpuIn = new ArrayList<>(), devIn = new ArrayList<>();
        for (Twin t : inputs) {
            cpuIn.add(t.cpu());
            devIn.add(t.dev());
        }
        List<Tensor> expected = program.apply(cpuIn), streamed = program.apply(devIn);
        for (int i = 0; i < expected.size(); i++) {
            Twin out = new Twin(expected.get(i), streamed.get(i));
            Twins.assertClose(out, Twins.reductionTolerance(out.dtype()), ctx + " streamed output " + i);
        }
        tw.dev.sync();
        GpuReplay replay = gpu.captureReturning(() -> program.apply(devIn));
        for (int run = 0; run < 2; run++) {
            replay.run();
            for (int i = 0; i < expected.size(); i++) {
                Twin out = new Twin(expected.get(i), replay.outputs().get(i));
                Twins.assertClose(out, Twins.reductionTolerance(out.dtype()), ctx + " replayed output " + i + " run " + run);
            }
        }
    }

    @Test
    void residualAddRmsNormAffineMatchesTheCpuForEveryRowLength() {
        GpuBackend gpu = backend();
        SplittableRandom r = new SplittableRandom(7);
        try (Twins tw = new Twins(gpu)) {
            for (DType t : FLOATS) {
                for (long len : LENGTHS) {
                    for (long rows : len <= 1025 ? new long[]{1, 5, 300} : new long[]{1, 3}) {
                        LayoutKind kind = LayoutKind.values()[r.nextInt(LayoutKind.values().length)];
                        long[] shape = {rows, len};
                        Twin x = tw.random(r, t, shape, false, kind), res = tw.random(r, t, shape, false, LayoutKind.CONTIGUOUS);
                        Twin w = tw.random(r, t, new long[]{len}, false, LayoutKind.CONTIGUOUS);
                        check(gpu, tw, List.of(x, res, w), in -> {
                            Tensor h = in.get(0).add(in.get(1));
                            return List.of(h, h.rmsNorm(new long[]{len}, null, 1e-6).mul(in.get(2)));
                        }, t + " " + rows + "x" + len + " " + kind);
                    }
                }
            }
        }
    }

    @Test
    void layerNormWithAffineAndActivationOnViews() {
        GpuBackend gpu = backend();
        SplittableRandom r = new SplittableRandom(11);
        try (Twins tw = new Twins(gpu)) {
            for (DType t : FLOATS) {
                for (long len : new long[]{1, 33, 96, 1024, 3001}) {
                    long[] shape = {3, 4, len};
                    Twin x = tw.random(r, t, shape, false, LayoutKind.PERMUTED);
                    Twin bias = tw.random(r, t, new long[]{len}, false, LayoutKind.STRIDED);  // broadcast over rows
                    Twin w = tw.random(r, t, new long[]{len}, false, LayoutKind.CONTIGUOUS);
                    Twin b = tw.random(r, DType.F32, new long[]{len}, false, LayoutKind.CONTIGUOUS);  // another dtype
                    check(gpu, tw, List.of(x, bias, w, b), in -> List.of(in.get(0).add(in.get(1)).mul(0.5)
                            .layerNorm(new long[]{len}, in.get(2), in.get(3), 1e-5).relu()), t + " layer_norm len " + len);
                    // Over the last two dims, weight only, then a cast.
                    Twin w2 = tw.random(r, t, new long[]{4, len}, false, LayoutKind.STRIDED);
                    check(gpu, tw, List.of(x, w2), in -> List.of(in.get(0).sub(1.0)
                            .layerNorm(new long[]{4, len}, in.get(1), null, 1e-3).to(DType.F32)), t + " layer_norm 2 dims " + len);
                }
            }
        }
    }

    @Test
    void softmaxWithScaleAndMaskPrologue() {
        GpuBackend gpu = backend();
        SplittableRandom r = new SplittableRandom(13);
        try (Twins tw = new Twins(gpu)) {
            for (DType t : FLOATS) {
                for (long len : new long[]{1, 17, 128, 1000, 1024, 5000}) {
                    Twin scores = tw.random(r, t, new long[]{2, 3, len}, false, LayoutKind.CONTIGUOUS);
                    Twin mask = tw.random(r, t, new long[]{3, len}, false, LayoutKind.EXPANDED);
                    check(gpu, tw, List.of(scores, mask), in -> List.of(in.get(0).mul(0.125).add(in.get(1)).softmax(-1)),
                            t + " softmax len " + len);
                    check(gpu, tw, List.of(scores, mask), in -> List.of(in.get(0).mul(0.125).add(in.get(1)).logSoftmax(1).neg()),
                            t + " log_softmax dim 1 len " + len);
                }
            }
        }
    }

    @Test
    void reductionsWithTheirPrologue() {
        GpuBackend gpu = backend();
        SplittableRandom r = new SplittableRandom(23);
        try (Twins tw = new Twins(gpu)) {
            for (DType t : FLOATS) {
                for (long len : new long[]{1, 31, 256, 1000, 4096, 8192}) {
                    Twin x = tw.random(r, t, new long[]{3, 2, len}, false, LayoutKind.STRIDED);
                    Twin w = tw.random(r, t, new long[]{len}, false, LayoutKind.CONTIGUOUS);
                    check(gpu, tw, List.of(x, w), in -> {
                        Tensor p = in.get(0).mul(in.get(1));
                        return List.of(p.sum(new int[]{2}, false), in.get(0).sub(in.get(1)).abs().mean(new int[]{1, 2}, true),
                                in.get(0).add(in.get(1)).max(new int[]{2}, true), in.get(0).add(1.0).min(new int[]{0}, false));
                    }, t + " reductions len " + len);
                }
            }
        }
    }

    @Test
    void aSevenInputRecurrentStepRunsAsOneTask() {
        GpuBackend gpu = backend();
        SplittableRandom r = new SplittableRandom(17);
        try (Twins tw = new Twins(gpu)) {
            for (DType t : FLOATS) {
                for (long hidden : new long[]{1, 1000, 1024, 4099}) {
                    List<Twin> in = new ArrayList<>();
                    for (int i = 0; i < 7; i++) {
                        in.add(tw.random(r, t, new long[]{2, hidden}, false, i == 3 ? LayoutKind.STRIDED : LayoutKind.CONTIGUOUS));
                    }
                    Function<List<Tensor>, List<Tensor>> step = x -> {
                        Tensor i = x.get(0).add(x.get(1)).sigmoid(), f = x.get(2).sigmoid(), g = x.get(3).add(x.get(4)).tanh();
                        Tensor o = x.get(5).sigmoid();
                        Tensor cell = f.mul(x.get(6)).add(i.mul(g));
                        return List.of(cell, o.mul(cell.tanh()));
                    };
                    check(gpu, tw, in, step, t + " lstm hidden " + hidden);
                    List<Tensor> dev = in.stream().map(Twin::dev).toList();
                    assertEquals(1, gpu.captureReturning(() -> step.apply(dev)).tasks().size(), "captured step: one task");
                }
            }
        }
    }

    /** W7's shape: x = rms_norm(x + r_i) * w_i; streamed one task per step, replayed one task per step. */
    @Test
    void aChainOfNormStepsIsOneTaskPerStep() {
        // No age limit on a batch here: the streamed count holds only if the whole chain goes out in one submission,
        // and the class's 1 ms limit let a slow first recording (JIT warm-up) cut it in two (17 tasks, chain-4-1).
        GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofSeconds(30));
        SplittableRandom r = new SplittableRandom(19);
        int steps = 16;
        try (Twins tw = new Twins(gpu)) {
            for (DType t : new DType[]{DType.F32, DType.BF16}) {
                List<Twin> in = new ArrayList<>();
                in.add(tw.random(r, t, new long[]{1, 2048}, false, LayoutKind.CONTIGUOUS));
                for (int i = 0; i < steps; i++) {
                    in.add(tw.random(r, t, new long[]{1, 2048}, false, LayoutKind.CONTIGUOUS));
                    in.add(tw.random(r, t, new long[]{2048}, false, LayoutKind.CONTIGUOUS));
                }
                Function<List<Tensor>, List<Tensor>> chain = x -> {
                    Tensor y = x.get(0);
                    for (int i = 0; i < steps; i++) y = y.add(x.get(1 + 2 * i)).rmsNorm(new long[]{2048}, null, 1e-6).mul(x.get(2 + 2 * i));
                    return List.of(y);
                };
                tw.dev.sync();
                long before = gpu.stats().tasks();
                List<Tensor> dev = in.stream().map(Twin::dev).toList();
                Tensor y = chain.apply(dev).getFirst();
                tw.dev.sync();
                assertEquals(steps, gpu.stats().tasks() - before, t + ": streamed tasks");
                Twins.assertClose(new Twin(chain.apply(in.stream().map(Twin::cpu).toList()).getFirst(), y),
                        Twins.reductionTolerance(t), t + " chain");
                check(gpu, tw, in, chain, t + " chain");
                assertEquals(steps, gpu.captureReturning(() -> chain.apply(dev)).tasks().size(), t + ": replayed tasks");
            }
        }
        assertTrue(gpu.stats().operatorsCompiled() > 0);
    }
}
