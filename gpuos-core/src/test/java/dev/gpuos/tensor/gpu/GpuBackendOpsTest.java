package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.ToleranceTable;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.UnsupportedDTypeException;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The op suite of the CPU property tests run on the GPU backend and compared with the CPU backend on identical
 * seeded inputs: every elementwise op (every dtype covered: F32 plus a rotating second dtype per op, tensor and
 * scalar operands), casts from and to every dtype, reductions (every op x dtype), softmax, norms, matmul, indexing,
 * fills. Inputs are contiguous, permuted, strided and expanded (zero-stride) views; every structure also runs
 * on a large shape, which must reuse its compiled operator. Seeds are in every failure message.
 */
@Tag("gpu")
class GpuBackendOpsTest extends SharedGpuOS {
    static GpuBackend gpu;
    static final DType[] ALL = DType.values();

    @BeforeAll
    static void backends() {
        gpu = new GpuBackend(os);
    }

    private static List<DType> dtypesFor(ElementwiseOp op) {
        List<DType> accepted = new ArrayList<>();
        for (DType t : ALL) {
            try {
                op.checkAccepts(t);
                accepted.add(t);
            } catch (UnsupportedDTypeException e) {
                // the API rejects it before the backend sees a node
            }
        }
        DType second = accepted.get(op.ordinal() % accepted.size());
        if (second == DType.F32) second = accepted.get((op.ordinal() + 1) % accepted.size());
        return second == DType.F32 ? List.of(DType.F32) : List.of(DType.F32, second);
    }

    @Test
    void elementwiseOpsMatchTheCpu() {
        for (ElementwiseOp op : ElementwiseOp.values()) {
            if (op == ElementwiseOp.CAST) continue;
            List<DType> dtypes = dtypesFor(op);
            for (int di = 0; di < dtypes.size(); di++) {
                boolean scalar = op.arity() > 1 && (op.ordinal() + di) % 2 == 1;
                long seed = op.ordinal() * 100L + di;
                elementwiseTrial(op, dtypes.get(di), scalar, seed, false);
                elementwiseTrial(op, dtypes.get(di), scalar, seed + 50, true);
            }
        }
    }

    private static void elementwiseTrial(ElementwiseOp op, DType t, boolean scalarSecond, long seed, boolean large) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] shape = large ? new long[]{3, 700, 11} : Twins.randomShape(r, 4, 5);
        String ctx = op.opName() + " " + t + " " + Arrays.toString(shape) + (scalarSecond ? " scalar" : "") + " seed " + seed;
        try (Twins tw = new Twins(gpu)) {
            List<Twin> tensors = new ArrayList<>();
            Operand[] cpuOps = new Operand[op.arity()], devOps = new Operand[op.arity()];
            for (int k = 0; k < op.arity(); k++) {
                if (k == 1 && scalarSecond) {
                    Scalar s = t.isFloating() ? Scalar.of(Twins.value(r, DType.F32, false)) : Scalar.of((long) r.nextInt(-6, 7));
                    cpuOps[k] = s;
                    devOps[k] = s;
                    continue;
                }
                DType kt = op == ElementwiseOp.WHERE && k == 0 ? DType.BOOL : t;
                long[] ks = k == 0 ? shape : Twins.broadcastableTo(r, shape);
                Twin x = tw.random(r, kt, ks, true);
                tensors.add(x);
                cpuOps[k] = x.cpu();
                devOps[k] = x.dev();
            }
            double[] params = {0.2, 2.0};
            Twin out = new Twin(Tensor.elementwise(op, params, cpuOps), Tensor.elementwise(op, params, devOps));
            Twins.assertClose(out, Twins.elementwiseTolerance(out.dtype()), ctx);
        }
    }

    /** Every dtype to itself (a bit copy of a strided view) and to three others; every target is reached 4 times. */
    @Test
    void castsMatchTheCpu() {
        for (int from = 0; from < ALL.length; from++) {
            for (int to : new int[]{from, (from + 1) % ALL.length, (from + 3) % ALL.length, (from + 5) % ALL.length}) {
                long seed = 7000 + from * 10L + to;
                SplittableRandom r = new SplittableRandom(seed);
                DType target = ALL[to];
                try (Twins tw = new Twins(gpu)) {
                    Twin x = tw.random(r, ALL[from], new long[]{5, 4, 3}, true, LayoutKind.STRIDED);
                    Twin y = x.map(v -> v.to(target).contiguous());
                    // Bits of a same-dtype copy of a non-contiguous view; conversion otherwise.
                    Twins.assertClose(y, Twins.elementwiseTolerance(target), "cast " + ALL[from] + " -> " + target + " seed " + seed);
                }
            }
        }
    }

    @Test
    void mixedDtypeScalarAndZeroDimPromotionMatchesTheCpu() {
        long seed = 9100;
        SplittableRandom r = new SplittableRandom(seed);
        try (Twins tw = new Twins(gpu)) {
            Twin i = tw.random(r, DType.I32, new long[]{4, 6}, false);
            Twin h = tw.random(r, DType.F16, new long[]{6}, true, LayoutKind.CONTIGUOUS);
            Twin b = tw.random(r, DType.BF16, new long[]{4, 1}, true, LayoutKind.EXPANDED);
            Twin d0 = tw.upload(DType.F64, new long[0], new double[]{1.25});
            Twin z = tw.random(r, DType.BOOL, new long[]{4, 6}, false);
            Twins.assertClose(new Twin(i.cpu().add(h.cpu()), i.dev().add(h.dev())), 1e-2, "i32 + f16 seed " + seed);
            Twins.assertClose(new Twin(h.cpu().mul(b.cpu()), h.dev().mul(b.dev())), 1e-5, "f16 * bf16 -> f32 seed " + seed);
            Twins.assertClose(new Twin(i.cpu().div(d0.cpu()), i.dev().div(d0.dev())), 1e-12, "i32 / f64 0-dim seed " + seed);
            Twins.assertClose(new Twin(h.cpu().eq(0.1), h.dev().eq(0.1)), 0, "f16 == 0.1 rounds the scalar seed " + seed);
            Twins.assertClose(new Twin(Tensor.where(z.cpu(), i.cpu(), h.cpu()), Tensor.where(z.dev(), i.dev(), h.dev())),
                    1e-2, "where(bool, i32, f16) seed " + seed);
            Twins.assertClose(new Twin(i.cpu().floorDivide(0L), i.dev().floorDivide(0L)), 0, "i32 // 0 seed " + seed);
        }
    }

    @Test
    void reductionsMatchTheCpu() {
        for (ReduceOp op : ReduceOp.values()) {
            for (DType t : ALL) {
                if (op == ReduceOp.MEAN && !t.isFloating()) continue;
                long seed = 3000 + op.ordinal() * 10L + t.ordinal();
                SplittableRandom r = new SplittableRandom(seed);
                reductionTrial(op, t, Twins.randomShape(r, 4, 6), r, seed);
            }
        }
        // Long rows (whole-block teams), many short rows (warp teams), and one huge group.
        long[][] large = {{3, 2500}, {5000, 3}, {40, 50, 60}};
        for (int i = 0; i < large.length; i++) {
            for (ReduceOp op : new ReduceOp[]{ReduceOp.SUM, ReduceOp.MAX, ReduceOp.ARGMIN, ReduceOp.MEAN}) {
                long seed = 3900 + i * 10L + op.ordinal();
                reductionTrial(op, i == 1 ? DType.BF16 : DType.F32, large[i], new SplittableRandom(seed), seed);
            }
        }
    }

    /**
     * One reduced dim long enough for reduce.cu's deep loop (8 loads in flight per lane, then a tail): warp teams
     * (64x512 as in W4, 9x1000), a block team (3x5000), and the same rows read through a transpose (a strided
     * reduced dim), for every op that takes that loop, in F32, F16 and I64.
     */
    @Test
    void longSingleReducedDimsMatchTheCpu() {
        long[][] shapes = {{64, 512}, {9, 1000}, {3, 5000}};
        ReduceOp[] ops = {ReduceOp.SUM, ReduceOp.MEAN, ReduceOp.PROD, ReduceOp.MAX, ReduceOp.MIN};
        for (int s = 0; s < shapes.length; s++) {
            for (ReduceOp op : ops) {
                for (DType t : new DType[]{DType.F32, DType.F16, DType.I64}) {
                    if (op == ReduceOp.MEAN && !t.isFloating()) continue;
                    for (boolean transposed : new boolean[]{false, true}) {
                        long seed = 4100 + s * 100L + op.ordinal() * 10L + t.ordinal() + (transposed ? 5000 : 0);
                        SplittableRandom r = new SplittableRandom(seed);
                        long[] shape = transposed ? new long[]{shapes[s][1], shapes[s][0]} : shapes[s];
                        int[] axes = {transposed ? 0 : 1};
                        String ctx = op.opName() + " " + t + Arrays.toString(shape) + " axes " + Arrays.toString(axes);
                        try (Twins tw = new Twins(gpu)) {
                            Twin x = tw.random(r, t, shape, false, Twins.LayoutKind.CONTIGUOUS);
                            Twin y = x.map(v -> reduce(op, v, axes, false));
                            long groupSize = shape[axes[0]];
                            Twins.assertClose(y, Twins.reductionTolerance(y.dtype()),
                                    Twins.reductionTolerance(y.dtype()) * 1e-2 * Math.sqrt(groupSize), ctx);
                        }
                    }
                }
            }
        }
    }

    private static void reductionTrial(ReduceOp op, DType t, long[] shape, SplittableRandom r, long seed) {
        int rank = shape.length;
        long total = Twins.count(shape);
        int[] axes;
        if (rank == 0 || r.nextInt(4) == 0) axes = null;
        else if (op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN) axes = new int[]{r.nextInt(rank)};
        else {
            axes = IntStream.range(0, rank).filter(d -> r.nextBoolean()).toArray();
            if (axes.length == 0) axes = new int[]{rank - 1};
        }
        boolean keepdim = r.nextBoolean();
        long groupSize = 1;
        if (axes == null) groupSize = total;
        else for (int a : axes) groupSize *= shape[a];
        if (groupSize == 0 && !op.allowsEmpty()) return;
        String ctx = op.opName() + " " + t + Arrays.toString(shape) + " axes " + Arrays.toString(axes) + " keepdim "
                + keepdim + " seed " + seed;
        int[] ax = axes;
        try (Twins tw = new Twins(gpu)) {
            Twin x = tw.random(r, t, shape, r.nextInt(3) == 0);
            Twin y = x.map(v -> reduce(op, v, ax, keepdim));
            Twins.assertClose(y, op.ordinal() >= ReduceOp.ARGMAX.ordinal() ? 0 : Twins.reductionTolerance(y.dtype()),
                    Twins.reductionTolerance(y.dtype()) * 1e-2 * Math.sqrt(groupSize), ctx);
        }
    }

    private static Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepdim) {
        if (axes == null) {
            return switch (op) {
                case SUM -> x.sum(); case MEAN -> x.mean(); case PROD -> x.prod(); case MAX -> x.max();
                case MIN -> x.min(); case ARGMAX -> x.argmax(); case ARGMIN -> x.argmin();
            };
        }
        return switch (op) {
            case SUM -> x.sum(axes, keepdim); case MEAN -> x.mean(axes, keepdim); case PROD -> x.prod(axes, keepdim);
            case MAX -> x.max(axes, keepdim); case MIN -> x.min(axes, keepdim);
            case ARGMAX -> x.argmax(axes[0], keepdim); case ARGMIN -> x.argmin(axes[0], keepdim);
        };
    }

    @Test
    void softmaxAndNormsMatchTheCpu() {
        DType[] floats = {DType.F32, DType.F64, DType.F16, DType.BF16};
        long[][] shapes = {{4, 7}, {3, 5, 6}, {2, 3000}, {300, 40}};
        for (DType t : floats) {
            for (int si = 0; si < shapes.length; si++) {
                long seed = 5000 + t.ordinal() * 10L + si;
                SplittableRandom r = new SplittableRandom(seed);
                long[] shape = shapes[si];
                int dim = r.nextInt(shape.length);
                String ctx = t + Arrays.toString(shape) + " seed " + seed;
                try (Twins tw = new Twins(gpu)) {
                    Twin x = tw.random(r, t, shape, si == 0);
                    double tol = Twins.reductionTolerance(t);
                    Twins.assertClose(x.map(v -> v.softmax(dim)), tol, "softmax dim " + dim + " " + ctx);
                    Twins.assertClose(x.map(v -> v.logSoftmax(dim)), tol, "log_softmax dim " + dim + " " + ctx);
                    long[] normShape = Arrays.copyOfRange(shape, 1, shape.length);
                    Twin w = tw.random(r, si % 2 == 0 ? t : DType.F32, normShape, false);
                    Twin b = tw.random(r, t, normShape, false);
                    Twins.assertClose(new Twin(x.cpu().layerNorm(normShape, w.cpu(), b.cpu(), 1e-5),
                            x.dev().layerNorm(normShape, w.dev(), b.dev(), 1e-5)), tol, tol, "layer_norm " + ctx);
                    Twins.assertClose(new Twin(x.cpu().layerNorm(normShape, null, b.cpu(), 1e-5),
                            x.dev().layerNorm(normShape, null, b.dev(), 1e-5)), tol, tol, "layer_norm (bias only) " + ctx);
                    Twins.assertClose(new Twin(x.cpu().rmsNorm(normShape, w.cpu(), 1e-6),
                            x.dev().rmsNorm(normShape, w.dev(), 1e-6)), tol, tol, "rms_norm " + ctx);
                    Twins.assertClose(x.map(v -> v.rmsNorm(normShape, null, 1e-6)), tol, tol, "rms_norm (no weight) " + ctx);
                }
            }
        }
    }

    @Test
    void matmulMatchesTheCpu() {
        DType[] dtypes = {DType.F32, DType.F64, DType.BF16, DType.F16, DType.I32, DType.I64};
        long[][] sizes = {{1, 1, 1}, {3, 5, 4}, {70, 33, 130}, {1, 64, 200}, {5, 0, 3}};
        for (DType t : dtypes) {
            for (int si = 0; si < sizes.length; si++) {
                long seed = 6000 + t.ordinal() * 10L + si;
                SplittableRandom r = new SplittableRandom(seed);
                long n = sizes[si][0], k = sizes[si][1], m = sizes[si][2];
                double rtol = ToleranceTable.accumulating(t);
                double atol = rtol * 16 * Math.sqrt(k + 1);
                String ctx = t + " n " + n + " k " + k + " m " + m + " seed " + seed;
                try (Twins tw = new Twins(gpu)) {
                    Twin a = tw.random(r, t, new long[]{n, k}, false);
                    Twin bt = tw.random(r, t, new long[]{m, k}, false).map(v -> v.transpose(0, 1));
                    Twins.assertClose(new Twin(a.cpu().matmul(bt.cpu()), a.dev().matmul(bt.dev())), rtol, atol, "matmul " + ctx);
                    // Batched, with a broadcast batch dim on one side and a vector on the other.
                    Twin ba = tw.random(r, t, new long[]{3, n, k}, false);
                    Twin bb = tw.random(r, t, new long[]{1, k, m}, false, LayoutKind.PERMUTED);
                    Twins.assertClose(new Twin(ba.cpu().matmul(bb.cpu()), ba.dev().matmul(bb.dev())), rtol, atol, "batched " + ctx);
                    Twin v = tw.random(r, t, new long[]{k}, false);
                    Twins.assertClose(new Twin(ba.cpu().matmul(v.cpu()), ba.dev().matmul(v.dev())), rtol, atol, "matvec " + ctx);
                    Twin bb3 = tw.random(r, t, new long[]{3, k, m}, false);
                    Twins.assertClose(new Twin(ba.cpu().bmm(bb3.cpu()), ba.dev().bmm(bb3.dev())), rtol, atol, "bmm " + ctx);
                }
            }
        }
    }

    @Test
    void indexSelectEmbeddingAndCatMatchTheCpu() {
        DType[] dtypes = {DType.F32, DType.BF16, DType.I64, DType.BOOL};
        for (DType t : dtypes) {
            long seed = 8000 + t.ordinal();
            SplittableRandom r = new SplittableRandom(seed);
            String ctx = t + " seed " + seed;
            try (Twins tw = new Twins(gpu)) {
                Twin x = tw.random(r, t, new long[]{6, 5, 4}, true);
                for (int dim = 0; dim < 3; dim++) {
                    long size = x.shape()[dim];
                    double[] picks = new double[7];
                    for (int i = 0; i < picks.length; i++) picks[i] = r.nextInt((int) size);
                    Twin idx = tw.upload(dim == 1 ? DType.I32 : DType.I64, new long[]{7}, picks);
                    int d = dim;
                    Twins.assertClose(new Twin(x.cpu().indexSelect(d, idx.cpu()), x.dev().indexSelect(d, idx.dev())), 0,
                            0, "index_select dim " + dim + " " + ctx);
                }
                Twin weight = tw.random(r, t, new long[]{50, 8}, false);
                Twin ids = tw.upload(DType.I64, new long[]{2, 3}, new double[]{0, 49, 7, 7, 3, 12});
                Twins.assertClose(new Twin(weight.cpu().embedding(ids.cpu()), weight.dev().embedding(ids.dev())), 0, 0,
                        "embedding " + ctx);
                Twin y = tw.random(r, DType.F32, new long[]{6, 2, 4}, false);
                Twins.assertClose(new Twin(Tensor.cat(1, x.cpu(), y.cpu()), Tensor.cat(1, x.dev(), y.dev())), 1e-5,
                        "cat " + ctx);
            }
        }
    }

    @Test
    void fillsMatchTheCpu() {
        for (DType t : ALL) {
            String ctx = t.toString();
            try (Twins tw = new Twins(gpu)) {
                Twins.assertClose(new Twin(tw.cpu.zeros(t, 3, 4), tw.dev.zeros(t, 3, 4)), 0, "zeros " + ctx);
                Twins.assertClose(new Twin(tw.cpu.full(2.75, t, 5), tw.dev.full(2.75, t, 5)), 0, "full " + ctx);
                Twins.assertClose(new Twin(tw.cpu.full(-3L, t), tw.dev.full(-3L, t)), 0, "full 0-dim " + ctx);
                Twins.assertClose(new Twin(tw.cpu.arange(-0.5, 7.0, 0.25, t), tw.dev.arange(-0.5, 7.0, 0.25, t)),
                        Twins.elementwiseTolerance(t), "arange " + ctx);
                if (t.isFloating()) {
                    Twins.assertClose(new Twin(tw.cpu.rand(11, t, 3000), tw.dev.rand(11, t, 3000)),
                            Twins.elementwiseTolerance(t), "rand " + ctx);
                    Twins.assertClose(new Twin(tw.cpu.randn(12, t, 70, 50), tw.dev.randn(12, t, 70, 50)),
                            Twins.elementwiseTolerance(t) * 10, "randn " + ctx);
                }
            }
        }
        try (Twins tw = new Twins(gpu)) {
            assertEquals(new Twin(tw.cpu.arange(5, 100, 7), tw.dev.arange(5, 100, 7)).dev().dtype(), DType.I64);
            Twins.assertClose(new Twin(tw.cpu.arange(5, 100, 7), tw.dev.arange(5, 100, 7)), 0, "arange i64");
        }
    }
}
