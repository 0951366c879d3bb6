package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * matmul.cu on the HOST (harness {@code matmul_host.cpp}, built with g++): every path (the one-row M_GEMV with
 * 1 and 4 columns a warp (2: GpuMatvecTest; ~264 units, too many for this harness), skinny k-contiguous with 1, 2 and 4 columns a warp, skinny row-major, tiled, and the
 * tensor-core tiles with the m16n8k16 product computed from PTX's fragment layouts) over layouts planned by {@link FamilyTasks#matmulPlan}, each output
 * compared with a double-precision product (BF16, F32, and I64 for 8-byte accumulators). What the host cannot show (the real mma instruction, vector loads,
 * registers) GpuMatvecTest and OperatorSourceCompileTest check. Skips without g++.
 */
class MatmulHostTest {

    /** name nbat sAb sBb n k m sa0 sa1 sb0 sb1 offA offB, then the plan. */
    private static List<String> cases(DType t) {
        List<long[]> shapes = new ArrayList<>();
        List<String> names = new ArrayList<>();
        boolean mma = t == DType.BF16 || t == DType.F16;
        // Each unit costs the harness a few milliseconds of barriers: 13 rows (skinny, up to 16) and 17 (tiles, the
        // tensor-core path) in a few layouts only, and the wide units (264 of them) once.
        for (long n : new long[]{1, 4}) {
            // k = 600: whole for one row, staged in chunks from 4 rows on (8 KB of shared memory).
            for (long k : new long[]{7, 600}) {
                for (long m : new long[]{5, 70}) {
                    long pitch = Math.ceilDiv(k, 16) * 16;
                    add(names, shapes, "weight", new long[]{1, 0, 0, n, k, m, k, 1, 1, k, 0, 0});
                    add(names, shapes, "weight-padded-rows", new long[]{1, 0, 0, n, k, m, k, 1, 1, pitch, 0, 0});
                    add(names, shapes, "weight-misaligned", new long[]{1, 0, 0, n, k, m, k, 1, 1, k + 1, 1, 1});
                    add(names, shapes, "row-major", new long[]{1, 0, 0, n, k, m, k, 1, m, 1, 0, 0});
                    if (k == 7 && m == 5) {
                        add(names, shapes, "a-transposed-b-strided", new long[]{3, n * k, 0, n, k, m, 1, n, 2, 2 * k + 1, 0, 0});
                        add(names, shapes, "a-broadcast", new long[]{3, 0, m * k, n, k, m, 2 * k, 1, 1, k, 0, 0});
                    }
                }
            }
        }
        for (long n : new long[]{13, 17}) {   // 17: tiles (tensor cores for F16/BF16)
            for (long k : new long[]{7, 600}) {
                add(names, shapes, "weight", new long[]{1, 0, 0, n, k, 70, k, 1, 1, k, 0, 0});
                add(names, shapes, "weight-misaligned", new long[]{1, 0, 0, n, k, 70, k, 1, 1, k + 1, 1, 1});
                add(names, shapes, "row-major", new long[]{1, 0, 0, n, k, 70, k, 1, 70, 1, 0, 0});
            }
            add(names, shapes, "a-transposed-b-strided", new long[]{3, n * 7, 0, n, 7, 5, 1, n, 2, 15, 0, 0});
        }
        // Enough columns per unit for 4 (8 and 16 rows: 2) columns a warp: 33 batches of 256 columns.
        if (mma) {
            for (long n : new long[]{1, 16}) {
                add(names, shapes, "wide-units", new long[]{33, 0, 64 * 256, n, 64, 256, 64, 1, 1, 64, 0, 0});
            }
        }
        List<String> lines = new ArrayList<>();
        if (t.isFloating() && t != DType.F64) {
            // M_GEMV_GLU over a stacked gate/up weight [2 I, k] as gluPlan plans it (1 pair a warp: few columns) and
            // with 2 pairs a warp in units of 16 (what 264 blocks over a Llama MLP's 8192 take), the product stored
            // or not, weight rows misaligned too
            for (long half : new long[]{5, 40}) {
                for (long k : new long[]{7, 96}) {
                    for (String name : new String[]{"glu", "glu-store", "glu-misaligned-store"}) {
                        boolean misaligned = name.contains("misaligned");
                        long pitch = misaligned ? k + 1 : k;
                        long[] c = {1, 0, 0, 1, k, 2 * half, k, 1, 1, pitch, 0, misaligned ? 1 : 0};
                        for (long[] plan : new long[][]{FamilyTasks.gluPlan(half),
                                {FamilyTasks.PATH_GEMV_GLU, Math.ceilDiv(half, 16), 16, 2}}) {
                            StringBuilder line = new StringBuilder(name);
                            for (long v : c) line.append(' ').append(v);
                            for (long v : plan) line.append(' ').append(v);
                            lines.add(line.append(' ').append(Math.min(plan[1], 2)).toString());
                        }
                    }
                }
            }
        }
        if (t == DType.BF16 || t == DType.F32) {
            // M_GEMV_NORM: the rms_norm of x0 (+ x1) recomputed per block before the product (planned as M_GEMV,
            // or as M_GEMV_GLU with "glu"), the sum stored or not; hidden 40 (a tail past 16-byte groups) and 96
            for (long h : new long[]{40, 96}) {
                for (String name : new String[]{"norm", "norm-add-sum", "norm-add-glu"}) {
                    long cols = 70;
                    long[] c = {1, 0, 0, 1, h, cols, h, 1, 1, h, 0, 0};
                    long[] plan = name.contains("glu") ? FamilyTasks.gluPlan(cols / 2)
                            : FamilyTasks.matmulPlan(1, 1, h, cols, 1, 1, true, true, false);
                    StringBuilder line = new StringBuilder(name);
                    for (long v : c) line.append(' ').append(v);
                    line.append(' ').append(FamilyTasks.PATH_GEMV_NORM);
                    for (int q = 1; q < 4; q++) line.append(' ').append(plan[q]);
                    lines.add(line.append(' ').append(Math.min(plan[1], 2)).toString());
                }
            }
        }
        if (t == DType.BF16 || t == DType.F32) lines.addAll(epilogueCases(t));
        for (int i = 0; i < shapes.size(); i++) {
            long[] c = shapes.get(i);
            // one-row products on M_GEMV where their strides allow it; the narrow ones (a few units each: the
            // harness's cost is per unit) also on the skinny path that one row took before, kept for the A/B
            for (boolean gemv : c[3] == 1 && c[5] <= 5 ? new boolean[]{true, false} : new boolean[]{true}) {
                long[] plan = FamilyTasks.matmulPlan(c[0], c[3], c[4], c[5], c[7], c[8], true, gemv, mma);
                // Every third case runs on fewer blocks than units, so blocks loop over units.
                long ntiles = i % 3 == 2 ? Math.min(3, Math.max(1, plan[1])) : Math.max(1, Math.min(plan[1], 4096));
                StringBuilder line = new StringBuilder(names.get(i));
                for (long v : c) line.append(' ').append(v);
                for (long v : plan) line.append(' ').append(v);
                lines.add(line.append(' ').append(ntiles).toString());
            }
        }
        lines.replaceAll(l -> l + " 8192");   // the shared memory every worker offers
        if (mma) lines.addAll(asyncCases());
        return lines;
    }

    /**
     * The paths -Dgpuos.matmul.tensorCores=true plans for k-contiguous operands. M_MMA_ASYNC (its 64x64 units, the
     * plan written out so that fewer than 33 rows can run on it too): k across stages with a ragged last one,
     * partial 16-byte chunks (k = 7 in rows padded to 16), rows and columns past 64 and ragged, a 32-row unit (the
     * warps of rows 32-63 skip their products), batches and a broadcast weight, blocks looping over units; 2, 3 and
     * 4 stages (16, 24, 32 KB of shared memory); the cases it hands to M_MMA's code (the worker's 8 KB, a misaligned
     * base, a row stride off 16 bytes). M_MMA_ROWS (17-32 rows, as planned, and with 16 columns a unit): k split
     * over the warps with 1 to 19 chunks each and a ragged last, element loads where rows are misaligned or k is
     * not whole 16-byte groups, batches. And a row-major b, which is planned on M_MMA.
     */
    private static List<String> asyncCases() {
        List<String> lines = new ArrayList<>();
        // name nbat sAb sBb n k m sa0 sa1 sb0 sb1 offA offB, smem
        List<long[]> cs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (long smem : new long[]{16384, 24576, 32768}) {
            addAsync(names, cs, "async", new long[]{1, 0, 0, 17, 600, 70, 600, 1, 1, 600, 0, 0, smem});
            addAsync(names, cs, "async-big", new long[]{1, 0, 0, 100, 72, 130, 72, 1, 1, 72, 0, 0, smem});
        }
        addAsync(names, cs, "async-partial-chunks", new long[]{1, 0, 0, 20, 7, 9, 16, 1, 1, 16, 0, 0, 16384});
        addAsync(names, cs, "async-k40", new long[]{1, 0, 0, 33, 40, 64, 40, 1, 1, 40, 0, 0, 16384});
        addAsync(names, cs, "async-32-rows", new long[]{1, 0, 0, 32, 96, 128, 96, 1, 1, 96, 0, 0, 16384});
        addAsync(names, cs, "async-batched", new long[]{3, 20 * 48, 48 * 40, 20, 48, 40, 48, 1, 1, 48, 0, 0, 16384});
        addAsync(names, cs, "async-broadcast-b", new long[]{2, 18 * 64, 0, 18, 64, 24, 64, 1, 1, 64, 8, 16, 16384});
        addAsync(names, cs, "async-one-k", new long[]{1, 0, 0, 19, 1, 21, 8, 1, 1, 8, 0, 0, 16384});
        // handed to M_MMA's code: 8 KB of shared memory; a base off 16 bytes; rows 40 + 4 elements apart
        addAsync(names, cs, "async-8k", new long[]{1, 0, 0, 17, 600, 70, 600, 1, 1, 600, 0, 0, 8192});
        addAsync(names, cs, "async-misaligned", new long[]{1, 0, 0, 17, 64, 20, 64, 1, 1, 64, 1, 0, 16384});
        addAsync(names, cs, "async-odd-stride", new long[]{1, 0, 0, 17, 40, 20, 44, 1, 1, 40, 0, 0, 16384});
        // M_MMA_ROWS
        addAsync(names, cs, "rows", new long[]{1, 0, 0, 32, 2048, 24, 2048, 1, 1, 2048, 0, 0, 8192});
        addAsync(names, cs, "rows", new long[]{1, 0, 0, 17, 600, 70, 600, 1, 1, 600, 0, 0, 8192});
        addAsync(names, cs, "rows-k-tail", new long[]{1, 0, 0, 25, 44, 9, 48, 1, 1, 48, 0, 0, 8192});
        addAsync(names, cs, "rows-contiguous-k7", new long[]{1, 0, 0, 20, 7, 33, 7, 1, 1, 7, 0, 0, 8192});
        addAsync(names, cs, "rows-misaligned", new long[]{1, 0, 0, 31, 96, 40, 96, 1, 1, 97, 3, 1, 8192});
        addAsync(names, cs, "rows-batched", new long[]{3, 20 * 48, 48 * 40, 20, 48, 40, 48, 1, 1, 48, 0, 0, 8192});
        addAsync(names, cs, "rows-broadcast-b", new long[]{2, 18 * 64, 0, 18, 64, 24, 64, 1, 1, 64, 8, 16, 8192});
        // b row-major [k, m]: not k-contiguous, so M_MMA
        addAsync(names, cs, "row-major", new long[]{1, 0, 0, 17, 40, 70, 40, 1, 70, 1, 0, 0, 16384});
        for (int i = 0; i < cs.size(); i++) {
            long[] c = cs.get(i);
            String name = names.get(i);
            long[] planned = FamilyTasks.matmulPlan(c[0], c[3], c[4], c[5], c[7], c[8], true, true, true, true);
            List<long[]> plans = new ArrayList<>();
            if (name.startsWith("async")) {
                long[] plan = {FamilyTasks.PATH_MMA_ASYNC, c[0] * Math.ceilDiv(c[3], 64) * Math.ceilDiv(c[5], 64), 0, 0};
                if (c[3] > FamilyTasks.MMA_ROWS) assertArrayEquals(plan, planned, name);
                plans.add(plan);
            } else if (name.startsWith("rows")) {
                assertEquals(FamilyTasks.PATH_MMA_ROWS, planned[0], name);
                plans.add(planned);
                plans.add(new long[]{FamilyTasks.PATH_MMA_ROWS, c[0] * Math.ceilDiv(c[5], 16), 2, 0});
            } else {
                assertEquals(FamilyTasks.PATH_MMA, planned[0], name);
                plans.add(planned);
            }
            for (long[] plan : plans) {
                long ntiles = i % 3 == 2 ? Math.min(2, plan[1]) : Math.min(plan[1], 4096);
                StringBuilder line = new StringBuilder(name);
                for (int q = 0; q < 12; q++) line.append(' ').append(c[q]);
                for (long v : plan) line.append(' ').append(v);
                lines.add(line.append(' ').append(ntiles).append(' ').append(c[12]).toString());
            }
        }
        return lines;
    }

    /**
     * Products with an epilogue (EPI_* in matmul.cu; {@link ProductEpilogue.Pointwise}), planned as
     * {@link FamilyTasks#matmulEpilogue} plans them: M_SKINNY_K with 1 column a warp (16 rows as BERT batch 1's, and 5),
     * M_TILED (70 rows; F16/BF16 get it with tensor cores off), k whole or in staged chunks, batches; bias alone,
     * bias + gelu (+ the cast back), bias + residual, all four, the product stored or not. The harness compares the
     * value bit for bit with the separate tasks' over the plain product.
     */
    private static List<String> epilogueCases(DType t) {
        List<String> lines = new ArrayList<>();
        boolean halves = t != DType.F32;
        String[][] forms = {{"epi-bias", "2"}, {"epi-gelu-cast", halves ? "22" : "6"}, {"epi-res-store", "11"},
                {"epi-gelu-res-cast-store", halves ? "31" : "15"}};
        long[][] shapes = {
                {1, 0, 0, 16, 384, 70, 384, 1, 1, 384, 0, 0},      // BERT batch 1: 16 rows, k whole
                {1, 0, 0, 16, 600, 40, 600, 1, 1, 601, 0, 1},      // k in chunks, misaligned weight rows
                {3, 5 * 7, 0, 5, 7, 9, 7, 1, 1, 7, 0, 0},          // batches, a broadcast weight
                {2, 70 * 40, 0, 70, 40, 70, 40, 1, 1, 40, 0, 0}};  // tiled
        int i = 0;
        for (long[] c : shapes) {
            long[] plan = FamilyTasks.matmulPlan(c[0], c[3], c[4], c[5], c[7], c[8], true, true, false);
            if (plan[0] == FamilyTasks.PATH_SKINNY_K) plan[3] = 1;
            assertTrue(plan[0] == FamilyTasks.PATH_SKINNY_K || plan[0] == FamilyTasks.PATH_TILED, java.util.Arrays.toString(plan));
            for (String[] form : forms) {
                StringBuilder line = new StringBuilder(form[0]);
                for (long v : c) line.append(' ').append(v);
                line.append(' ').append(plan[0] | (Long.parseLong(form[1]) << 8));
                for (int q = 1; q < 4; q++) line.append(' ').append(plan[q]);
                long ntiles = i++ % 3 == 2 ? Math.min(3, plan[1]) : Math.min(plan[1], 4096);
                lines.add(line.append(' ').append(ntiles).toString());
            }
        }
        return lines;
    }

    private static void addAsync(List<String> names, List<long[]> shapes, String name, long[] c) {
        names.add(name);
        shapes.add(c);
    }

    private static void add(List<String> names, List<long[]> shapes, String name, long[] c) {
        names.add(name);
        shapes.add(c);
    }

    @Test
    void everyPathMatchesADoubleProductOnTheHost() throws Exception {
        BlockHostHarness.assumeCompiler("matmul.cu");
        for (DType t : new DType[]{DType.BF16, DType.F32, DType.I64}) {
            Path exe = build(t);
            List<String> cases = cases(t);
            Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
            p.getOutputStream().write(String.join("\n", cases).concat("\n").getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), t + ": harness did not finish");
            assertEquals(0, p.exitValue(), t + ":\n" + out);
            assertTrue(out.contains("cases " + cases.size() + " failures 0"), t + ":\n" + out);
        }
    }

    private static Path build(DType t) throws IOException, InterruptedException {
        String op = OperatorSources.family(Family.MATMUL, t);
        int at = op.indexOf("__device__ __forceinline__ void mma16816(");
        if (at >= 0) {
            int end = op.indexOf("\n}\n", at);
            op = op.substring(0, at) + "__device__ __forceinline__ void mma16816(float* d, const unsigned int* a, "
                    + "const unsigned int* b) {\n    host_mma(d, a, b);" + op.substring(end);
        }
        return BlockHostHarness.build("matmul_host", op);
    }
}
