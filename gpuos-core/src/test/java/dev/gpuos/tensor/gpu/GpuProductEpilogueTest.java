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

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A multi-row product with BERT's pointwise successors ({@link ProductEpilogue.Pointwise}, matmul.cu's EPI_*),
 * captured: ONE task whose values match (1) the same capture planned without product epilogues on the GPU, bit for
 * bit (the roundings are the separate tasks'), and (2) the CPU backend's separate ops within the product's
 * tolerance. Forms: {@code x @ W^T + b}, then {@code .to(t)} (qkv); {@code gelu(x @ W^T + b).to(t)} (intermediate);
 * {@code x @ W^T + b + residual} (o and output); each with the product also returned (then stored). Shapes: BERT
 * batch 1 (16 rows, M_SKINNY_K, k 384 and 1536), 5 rows with a misaligned weight, 2 x 16 rows (a batch dim), and 70
 * rows (M_TILED: F32, and BF16/F16 with tensor cores off), in BF16, F16 and F32. Seeds are in every failure message.
 */
@Tag("gpu")
class GpuProductEpilogueTest extends SharedGpuOS {
    static GpuBackend gpu;
    private static boolean skinnyWas, epiloguesWas, tensorCoresWas;

    @BeforeAll
    static void backend() {
        skinnyWas = FamilyTasks.skinny;
        epiloguesWas = FamilyTasks.productEpilogues;
        tensorCoresWas = FamilyTasks.tensorCores;
        FamilyTasks.skinny = true;
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void restorePaths() {
        FamilyTasks.skinny = skinnyWas;
        FamilyTasks.productEpilogues = epiloguesWas;
        FamilyTasks.tensorCores = tensorCoresWas;
    }

    @Test
    void capturedBiasGeluResidualEpiloguesAreOneTaskAndMatchTheSeparateTasks() {
        long[][] shapes = {   // batch (0: none), rows, k, cols, misaligned weight rows (1)
                {0, 16, 384, 1152, 0}, {0, 16, 1536, 384, 0}, {0, 16, 384, 1536, 0}, {0, 5, 100, 70, 1},
                {2, 16, 64, 96, 0}, {0, 70, 96, 130, 0}};
        for (DType t : new DType[]{DType.BF16, DType.F16, DType.F32}) {
            for (long[] s : shapes) {
                for (int form = 0; form < 3; form++) {
                    for (boolean returnProduct : new boolean[]{false, true}) {
                        long seed = 71_000 + t.ordinal() * 100_000L + s[1] * 1000 + s[3] + form * 7 + (returnProduct ? 3 : 0);
                        trial(t, s, form, returnProduct, seed);
                    }
                }
            }
        }
    }

    private static void trial(DType t, long[] s, int form, boolean returnProduct, long seed) {
        long batch = s[0], rows = s[1], k = s[2], cols = s[3];
        boolean misaligned = s[4] != 0;
        SplittableRandom r = new SplittableRandom(seed);
        double rtol = ToleranceTable.accumulating(t), atol = rtol * 16 * Math.sqrt(k + 1);
        String ctx = t + " " + (batch > 0 ? batch + " x " : "") + rows + " rows, k " + k + ", " + cols + " columns, "
                + (form == 0 ? "bias + cast" : form == 1 ? "bias + gelu + cast" : "bias + residual")
                + (returnProduct ? ", product returned" : "") + (misaligned ? ", weight rows misaligned" : "") + ", seed " + seed;
        FamilyTasks.tensorCores = rows <= FamilyTasks.SKINNY_ROWS;   // 70 rows: M_TILED for 16-bit products too
        try (Twins tw = new Twins(gpu)) {
            long pitch = misaligned ? k + 1 : k;
            Twin w = tw.random(r, t, new long[]{cols, pitch}, false, LayoutKind.CONTIGUOUS)
                    .map(x -> x.slice(1, misaligned ? 1 : 0, misaligned ? k + 1 : k).transpose(0, 1));
            long[] xs = batch > 0 ? new long[]{batch, rows, k} : new long[]{rows, k};
            long[] os = batch > 0 ? new long[]{batch, rows, cols} : new long[]{rows, cols};
            Twin x = tw.random(r, t, xs, false, LayoutKind.CONTIGUOUS);   // of the product's dtype: no cast task before it
            Twin bias = tw.random(r, DType.F32, new long[]{cols}, false, LayoutKind.CONTIGUOUS);
            Twin res = tw.random(r, DType.F32, os, false, LayoutKind.CONTIGUOUS);
            Function<Boolean, List<Tensor>> program = dev -> {
                Tensor p = (dev ? x.dev() : x.cpu()).matmul(dev ? w.dev() : w.cpu());
                Tensor y = p.add(dev ? bias.dev() : bias.cpu());
                y = switch (form) {
                    case 0 -> y.to(t);
                    case 1 -> y.gelu().to(t);
                    default -> y.add(dev ? res.dev() : res.cpu());
                };
                List<Tensor> out = new ArrayList<>(List.of(y));
                if (returnProduct) out.add(p);
                return out;
            };
            List<Tensor> expected = program.apply(false);
            FamilyTasks.productEpilogues = false;
            List<double[]> separate = new ArrayList<>();
            try (GpuReplay replay = gpu.captureReturning(() -> program.apply(true))) {
                assertEquals(2, replay.taskCount(), "without epilogues: the product and an elementwise task, " + ctx);
                replay.run();
                for (Tensor o : replay.outputs()) separate.add(o.toDoubleArray());
            }
            FamilyTasks.productEpilogues = true;
            try (GpuReplay replay = gpu.captureReturning(() -> program.apply(true))) {
                assertEquals(1, replay.taskCount(), "the product with its epilogue as one task: " + ctx);
                replay.run();
                for (int i = 0; i < expected.size(); i++) {
                    Tensor got = replay.outputs().get(i);
                    String what = (i == 0 ? "the value " : "the stored product ") + ctx;
                    assertArrayEquals(separate.get(i), got.toDoubleArray(), what + " vs the separate GPU tasks (bit for bit)");
                    Twins.assertClose(new Twin(expected.get(i), got), rtol, form == 1 ? atol : atol + rtol, what + " vs the CPU backend");
                }
            }
        }
    }
}
