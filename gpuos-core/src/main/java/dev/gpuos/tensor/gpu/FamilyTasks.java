package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import dev.gpuos.tensor.op.FillNode;
import dev.gpuos.tensor.op.FillPattern;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.SoftmaxNode;
import dev.gpuos.tensor.op.UploadNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Tasks for the hand-written operator families (one operator per family and element dtype, sources in
 * {@code dev/gpuos/tensor/*.cu}). Each builder views its tensors the way the operator walks them (reduced or
 * normalised dims last, batch dims first), coalesces dims, and puts the op's parameters into args; the
 * comment at the top of each .cu file is the contract for refs and args.
 */
final class FamilyTasks {
    private FamilyTasks() {}

    /** Rows at least this long are reduced by a whole block, shorter ones by one warp per row. */
    static final int BLOCK_ROW = 1024;
    static final int WARPS_PER_BLOCK = 8;

    private static KernelTask family(Family f, DType t, int ntiles, int tileSize, List<GpuView> refs, long[] args,
                                     OpNode node) {
        return new KernelTask(OperatorSources.familyOperator(f, t), ntiles, tileSize, refs, args, List.of(node),
                f.smemBytes());
    }

    /** Whole-block teams for long rows, or when there are too few rows to keep warps of many blocks busy. */
    static boolean blockTeams(long rows, long len) {
        return len >= BLOCK_ROW || (len >= 128 && rows < 256);
    }

    /**
     * Reductions use whole-block teams only for long rows (or a handful of medium ones): every tile costs the
     * worker a ticket, a descriptor copy and a completion count, several microseconds, so a task of many
     * short rows is cut into tiles of one row per warp (8 rows a tile), not one row per block. On the H100,
     * 1000 sums over (32,128) took 0.85 ms as 32 one-row tiles per task.
     */
    static boolean reduceBlockTeams(long rows, long len) {
        return len >= 4 * BLOCK_ROW || (len >= 256 && rows < WARPS_PER_BLOCK);
    }

    static int[] rowTiling(long rows, boolean block) {
        return Dims.tiling(rows, block ? 1 : WARPS_PER_BLOCK);
    }

    static KernelTask reduce(ReduceNode n) {
        Tensor in = n.input();
        int rank = in.rank();
        boolean[] reduced = new boolean[rank];
        for (int a : n.axes()) reduced[a] = true;
        int[] kept = java.util.stream.IntStream.range(0, rank).filter(d -> !reduced[d]).toArray();
        int[] red = java.util.stream.IntStream.range(0, rank).filter(d -> reduced[d]).toArray();
        long[] shape = in.shape(), strides = in.strides();
        long[][] k = Dims.coalesce(Dims.pick(shape, kept), Dims.pick(strides, kept));
        long[][] r = Dims.coalesce(Dims.pick(shape, red), Dims.pick(strides, red));
        long groups = n.output().numel(), len = Dims.product(r[0]);
        boolean block = reduceBlockTeams(groups, len);
        int[] tiling = rowTiling(groups, block);
        List<GpuView> refs = List.of(GpuView.of(in, Dims.concat(k[0], r[0]), Dims.concat(k[1], r[1])),
                GpuView.flat(n.output()));
        long[] args = {n.op().ordinal(), k[0].length, block ? 1 : 0, groups};
        return family(Family.REDUCE, in.dtype(), tiling[1], tiling[0], refs, args, n);
    }

    static KernelTask softmax(SoftmaxNode n) {
        Tensor in = n.input(), out = n.output();
        int dim = n.dim();
        int[] others = java.util.stream.IntStream.range(0, in.rank()).filter(d -> d != dim).toArray();
        long[][] c = Dims.coalesce(Dims.pick(in.shape(), others), Dims.pick(in.strides(), others),
                Dims.pick(out.strides(), others));
        long len = in.size(dim), rows = Dims.product(c[0]);
        boolean block = len >= BLOCK_ROW;
        int[] tiling = rowTiling(rows, block);
        List<GpuView> refs = List.of(
                GpuView.of(in, Dims.concat(c[0], len), Dims.concat(c[1], in.strides()[dim])),
                GpuView.of(out, Dims.concat(c[0], len), Dims.concat(c[2], out.strides()[dim])));
        long[] args = {n.log() ? 1 : 0, block ? 1 : 0, rows};
        return family(Family.SOFTMAX, in.dtype(), tiling[1], tiling[0], refs, args, n);
    }

    static KernelTask norm(NormNode n) {
        Tensor in = n.input(), out = n.output(), w = n.weight(), b = n.bias();
        int rank = in.rank(), lead = rank - n.normalizedDims();
        int[] ld = Dims.range(0, lead), td = Dims.range(lead, rank);
        long[][] l = Dims.coalesce(Dims.pick(in.shape(), ld), Dims.pick(in.strides(), ld), Dims.pick(out.strides(), ld));
        long[] inT = Dims.pick(in.strides(), td), outT = Dims.pick(out.strides(), td);
        long[] wT = w != null ? w.strides() : inT, bT = b != null ? b.strides() : inT;
        long[][] t = Dims.coalesce(Dims.pick(in.shape(), td), inT, outT, wT, bT);
        long rows = Dims.product(l[0]), len = Dims.product(t[0]);
        boolean block = blockTeams(rows, len);
        int[] tiling = rowTiling(rows, block);
        GpuView input = GpuView.of(in, Dims.concat(l[0], t[0]), Dims.concat(l[1], t[1]));
        List<GpuView> refs = List.of(input,
                GpuView.of(out, Dims.concat(l[0], t[0]), Dims.concat(l[2], t[2])),
                w != null ? GpuView.of(w, t[0], t[3]) : input,
                b != null ? GpuView.of(b, t[0], t[4]) : input);
        long[] args = {n.kind() == NormNode.Kind.RMS ? 1 : 0, Double.doubleToRawLongBits(n.eps()), l[0].length,
                w != null ? 1 : 0, b != null ? 1 : 0, block ? 1 : 0};
        return family(Family.NORM, in.dtype(), tiling[1], tiling[0], refs, args, n);
    }

    static final int MATMUL_TILE = 64;
    /**
     * Products of at most this many rows (decode, batch-1 inference, a short prompt or sentence) take a skinny path
     * of matmul.cu: one pass over b spread over every SM, where 64-row tiles would leave most SMs idle.
     */
    static final int SKINNY_ROWS = 16;
    /**
     * Work units a skinny product is cut into: the worker runs 2 blocks of 256 threads on each of the H100's 132
     * SMs (operators are capped at 128 registers), and a skinny product is one pass over b, so one unit per block
     * spreads the stream evenly; more units would only add the worker's per-tile cost.
     */
    static final int SKINNY_UNITS = 2 * 132;
    /** Paths of matmul.cu (its arg 2). */
    static final int PATH_TILED = 0, PATH_SKINNY_K = 1, PATH_SKINNY_M = 2, PATH_MMA = 3, PATH_GEMV = 4, PATH_GEMV_GLU = 5,
            PATH_GEMV_NORM = 6, PATH_MMA_ASYNC = 7, PATH_MMA_ROWS = 8;
    /** The most rows M_MMA_ROWS takes (a prompt's prefill): its units hold every row in two m16 tiles. */
    static final int MMA_ROWS = 32;
    /** Warps of a worker block: a skinny unit is a multiple of their columns. */
    private static final int WARPS = dev.gpuos.runtime.layout.Layouts.BLOCK_THREADS / 32;
    /**
     * Whether skinny products take the skinny paths: on unless {@code -Dgpuos.matmul.skinny=false} (the tiled
     * path for them, to compare; GpuMatvecTest checks both on the GPU against the CPU backend). Read when a task is
     * planned, so a capture keeps the path it was planned with (MatvecTiming's A/B in one JVM).
     */
    static volatile boolean skinny = !"false".equals(System.getProperty("gpuos.matmul.skinny"));
    /**
     * Whether F16/BF16 products of more rows take tensor cores (64x64 tiles of mma.sync, f32 accumulation): on
     * unless {@code -Dgpuos.matmul.mma=false}, like {@link #skinny}. F32 never does: tf32 would round its operands.
     */
    static volatile boolean tensorCores = !"false".equals(System.getProperty("gpuos.matmul.mma"));
    /**
     * Whether tensor-core products whose operands are both k-contiguous (x @ W^T over an HF Linear weight) take
     * matmul.cu's M_MMA_ASYNC (cp.async staging several steps ahead, ldmatrix) instead of M_MMA, and from 17 to
     * {@link #MMA_ROWS} rows M_MMA_ROWS: OFF unless {@code -Dgpuos.matmul.tensorCores=true}, until a GPU run has
     * checked them (GpuTensorCoreMatmulTest; written without a GPU, checked on the host by MatmulHostTest). Read at
     * planning, like {@link #tensorCores}.
     */
    static volatile boolean asyncTensorCores = "true".equals(System.getProperty("gpuos.matmul.tensorCores"));
    /**
     * Whether one-row products with k-stride 1 in both operands (a decode step's x @ W^T) take matmul.cu's M_GEMV
     * (nothing staged, x read beside the weights): on unless {@code -Dgpuos.matmul.gemv=false}, which plans them
     * on M_SKINNY_K as before, for an A/B on the GPU.
     */
    static volatile boolean gemv = !"false".equals(System.getProperty("gpuos.matmul.gemv"));
    /**
     * Whether captured one-row products take in the rms_norm before them and the SwiGLU after them
     * ({@link ProductPrologue}, {@link ProductEpilogue}): on unless {@code -Dgpuos.fusion.products=false}, which plans
     * them as separate tasks as before, for the decode step's A/B on the GPU (read at planning, like {@link #gemv}).
     */
    static volatile boolean productFusion = !"false".equals(System.getProperty("gpuos.fusion.products"));

    /**
     * Whether captured multi-row products take in the bias add, gelu, residual add and cast after them
     * ({@link ProductEpilogue.Pointwise}, matmul.cu's EPI_* on M_SKINNY_K and M_TILED): on unless
     * {@code -Dgpuos.fusion.productEpilogues=false}, which plans the separate tasks as before (the A/B; read at planning).
     */
    static volatile boolean productEpilogues = !"false".equals(System.getProperty("gpuos.fusion.productEpilogues"));

    /** The batch dims of a product's output, coalesced with a's, b's, the output's and {@code more} tensors' strides. */
    private static long[][] batchDims(MatmulNode n, Tensor... more) {
        Tensor out = n.output();
        int nb = out.rank() - 2;
        int[] bd = Dims.range(0, nb);
        long[][] strides = new long[3 + more.length][];
        strides[0] = Dims.pick(n.a().strides(), bd);
        strides[1] = Dims.pick(n.b().strides(), bd);
        strides[2] = Dims.pick(out.strides(), bd);
        for (int i = 0; i < more.length; i++) strides[3 + i] = Dims.pick(more[i].strides(), bd);
        return Dims.coalesce(Dims.pick(out.shape(), bd), strides);
    }

    /** {@link #matmulPlan}'s plan for {@code n} with today's switches. */
    private static long[] planOf(MatmulNode n, long batches) {
        Tensor a = n.a(), b = n.b();
        int rank = n.output().rank();
        boolean halves = a.dtype() == DType.F16 || a.dtype() == DType.BF16;
        return matmulPlan(batches, a.size(rank - 2), a.size(rank - 1), b.size(rank - 1), a.strides()[rank - 1],
                b.strides()[rank - 2], skinny, gemv, tensorCores && halves, asyncTensorCores && halves);
    }

    /**
     * Whether {@code n} is a float product planned on M_SKINNY_K or M_TILED with product epilogues on: then its
     * pointwise successors can ride on its stores ({@link ProductEpilogue#matchPointwise}).
     */
    static boolean epiloguePlanned(MatmulNode n) {
        DType t = n.a().dtype();
        if (!productEpilogues || (t != DType.F32 && t != DType.F16 && t != DType.BF16)) return false;
        if (n.b().dtype() != t || n.output().dtype() != t || n.output().rank() < 2) return false;
        long path = planOf(n, Dims.product(batchDims(n)[0]))[0];
        return path == PATH_SKINNY_K || path == PATH_TILED;
    }

    /**
     * The product with its pointwise successors computed on store: the product's plan (M_SKINNY_K with 1 column a
     * warp: the epilogue's form that fits the worker's registers), arg 2's bits from 8 on the epilogue's flags, the
     * operands in an operand table (see EPI_* in matmul.cu for their order).
     */
    static KernelTask matmulEpilogue(ProductEpilogue.Pointwise e) {
        MatmulNode n = e.product();
        Tensor a = n.a(), b = n.b(), out = n.output(), value = e.output();
        Tensor residual = e.residual() != null ? e.residual() : out;
        int rank = out.rank();
        long[][] c = batchDims(n, value, residual);
        long rows = a.size(rank - 2), inner = a.size(rank - 1), cols = b.size(rank - 1);
        long[] as = a.strides(), bs = b.strides(), os = out.strides(), vs = value.strides(), rs = residual.strides();
        long[] plan = planOf(n, Dims.product(c[0]));
        if (plan[0] == PATH_SKINNY_K) plan[3] = 1;
        int ntiles = (int) Math.max(1, Math.min(plan[1], dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        GpuView valueView = GpuView.of(value, Dims.concat(c[0], rows, cols), Dims.concat(c[4], vs[rank - 2], vs[rank - 1]));
        Tensor bias = e.bias();
        List<GpuView> refs = List.of(
                GpuView.of(a, Dims.concat(c[0], rows, inner), Dims.concat(c[1], as[rank - 2], as[rank - 1])),
                GpuView.of(b, Dims.concat(c[0], inner, cols), Dims.concat(c[2], bs[rank - 2], bs[rank - 1])),
                e.storeProduct() ? GpuView.of(out, Dims.concat(c[0], rows, cols), Dims.concat(c[3], os[rank - 2], os[rank - 1])) : valueView,
                valueView,
                GpuView.of(bias, new long[]{cols}, new long[]{bias.strides()[bias.rank() - 1]}),
                e.residual() != null
                        ? GpuView.of(residual, Dims.concat(c[0], rows, cols), Dims.concat(c[5], rs[rank - 2], rs[rank - 1]))
                        : valueView);
        List<OpNode> nodes = new ArrayList<>();
        nodes.add(n);
        nodes.addAll(e.members());
        return new KernelTask(OperatorSources.familyOperator(Family.MATMUL, a.dtype()), ntiles, 1, refs,
                new long[]{c[0].length, plan[1], plan[0] | ((long) e.flags() << 8), plan[2], plan[3]}, nodes,
                Family.MATMUL.smemBytes());
    }

    static KernelTask matmul(MatmulNode n) {
        Tensor a = n.a(), b = n.b(), out = n.output();
        int rank = out.rank(), nb = rank - 2;
        int[] bd = Dims.range(0, nb);
        long[][] c = Dims.coalesce(Dims.pick(out.shape(), bd), Dims.pick(a.strides(), bd), Dims.pick(b.strides(), bd),
                Dims.pick(out.strides(), bd));
        long rows = a.size(rank - 2), inner = a.size(rank - 1), cols = b.size(rank - 1);
        long batches = Dims.product(c[0]);
        long[] as = a.strides(), bs = b.strides(), os = out.strides();
        long[] plan = planOf(n, batches);
        int ntiles = (int) Math.max(1, Math.min(plan[1], dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        List<GpuView> refs = List.of(
                GpuView.of(a, Dims.concat(c[0], rows, inner), Dims.concat(c[1], as[rank - 2], as[rank - 1])),
                GpuView.of(b, Dims.concat(c[0], inner, cols), Dims.concat(c[2], bs[rank - 2], bs[rank - 1])),
                GpuView.of(out, Dims.concat(c[0], rows, cols), Dims.concat(c[3], os[rank - 2], os[rank - 1])));
        return family(Family.MATMUL, a.dtype(), ntiles, 1, refs,
                new long[]{c[0].length, plan[1], plan[0], plan[2], plan[3]}, n);
    }

    /**
     * How matmul.cu computes a product of {@code batches} x [rows, inner] @ [inner, cols] whose a has k-stride
     * {@code ak} and b k-stride {@code bk}: {path, units, columns per unit, columns a warp takes at a time} (the
     * last two 0 when tiled). Skinny units are runs of columns of one batch, about {@link #SKINNY_UNITS} in all; on
     * the k-contiguous path a warp takes 4 columns at a time (one read of the staged rows serves 4 columns) once a
     * unit has enough of them to give each warp 4. One row with both operands k-contiguous takes M_GEMV where
     * {@code gemvPath}, in the same units, a warp taking as many of its unit's columns at once as it can (up to 4),
     * so that q/k/v's 16 columns a unit are 2 concurrent columns a warp rather than 2 in turn. Tiled products take
     * tensor cores where {@code mma} (F16/BF16 operands), in the same 64x64 units.
     */
    static long[] matmulPlan(long batches, long rows, long inner, long cols, long ak, long bk, boolean skinnyPaths,
                             boolean gemvPath, boolean mma) {
        return matmulPlan(batches, rows, inner, cols, ak, bk, skinnyPaths, gemvPath, mma, false);
    }

    /**
     * As above; with {@code mmaAsync}, tensor-core products ({@code mma}) whose operands are both k-contiguous take
     * M_MMA_ASYNC in M_MMA's units, or from {@link #SKINNY_ROWS} + 1 to {@link #MMA_ROWS} rows M_MMA_ROWS: units of
     * 8 columns (16, {@code {.., 2, 0}}, where that still makes a unit for every one of the worker's
     * {@link #SKINNY_UNITS} blocks) with all the rows. Either falls back to element loads or M_MMA's code for a task
     * whose operands turn out not to be 16-byte aligned, so alignment is not the plan's business.
     */
    static long[] matmulPlan(long batches, long rows, long inner, long cols, long ak, long bk, boolean skinnyPaths,
                             boolean gemvPath, boolean mma, boolean mmaAsync) {
        boolean kContiguousBoth = (ak == 1 && bk == 1) || inner == 1;
        if (mma && mmaAsync && kContiguousBoth && rows > SKINNY_ROWS && rows <= MMA_ROWS && cols > 0) {
            long tiles = Math.multiplyExact(batches, Math.ceilDiv(cols, 16));
            long nt = tiles >= SKINNY_UNITS ? 2 : 1;
            return new long[]{PATH_MMA_ROWS, Math.multiplyExact(batches, Math.ceilDiv(cols, 8 * nt)), nt, 0};
        }
        if (!skinnyPaths || rows > SKINNY_ROWS || rows == 0 || cols == 0) {
            long total = Math.multiplyExact(batches, Math.multiplyExact(Math.ceilDiv(rows, MATMUL_TILE),
                    Math.ceilDiv(cols, MATMUL_TILE)));
            return new long[]{mma ? (mmaAsync && kContiguousBoth ? PATH_MMA_ASYNC : PATH_MMA) : PATH_TILED, total, 0, 0};
        }
        long perBatch = Math.max(1, Math.ceilDiv(SKINNY_UNITS, Math.max(1, batches)));
        long span = Math.ceilDiv(cols, perBatch);
        boolean kContiguous = bk == 1 || inner == 1;
        if (gemvPath && rows == 1 && kContiguous && (ak == 1 || inner == 1)) {
            long warpCols = Math.min(4, Math.ceilDiv(span, WARPS));
            warpCols = warpCols == 3 ? 4 : warpCols;   // the operator has 1, 2 and 4
            span = Math.ceilDiv(span, warpCols * WARPS) * warpCols * WARPS;
            return new long[]{PATH_GEMV, Math.multiplyExact(batches, Math.ceilDiv(cols, span)), span, warpCols};
        }
        long warpCols = kContiguous && span >= 4L * WARPS ? 4 : 1;
        long granule = kContiguous ? warpCols * WARPS : 32;
        span = Math.ceilDiv(span, granule) * granule;
        long total = Math.multiplyExact(batches, Math.ceilDiv(cols, span));
        return new long[]{kContiguous ? PATH_SKINNY_K : PATH_SKINNY_M, total, span, warpCols};
    }

    /**
     * Whether {@code n} takes M_GEMV as one product (one row, one batch, both operands k-contiguous) of floats, with
     * product fusion on: then an rms_norm before it ({@link ProductPrologue}) can ride on it.
     */
    static boolean gemvPlanned(MatmulNode n) {
        Tensor a = n.a(), b = n.b(), out = n.output();
        int rank = out.rank();
        DType t = a.dtype();
        if (t != DType.F32 && t != DType.F16 && t != DType.BF16) return false;   // matmul.cu's fused paths are float-only
        if (!productFusion || !skinny || !gemv || out.numel() != out.size(-1)) return false;
        long[] plan = matmulPlan(1, a.size(rank - 2), a.size(rank - 1), out.size(-1), a.strides()[rank - 1],
                b.strides()[rank - 2], true, true, false);
        return plan[0] == PATH_GEMV;
    }

    /** {@link #gemvPlanned} with an even number of columns: a gated linear unit over its halves can ride on it ({@link ProductEpilogue}). */
    static boolean gluPlanned(MatmulNode n) {
        return n.output().size(-1) % 2 == 0 && gemvPlanned(n);
    }

    /**
     * The product with the rms_norm that makes its x ({@code norm}; matmul.cu's M_GEMV_NORM) and, where {@code glu}
     * is not null, the gated linear unit after it: M_GEMV's (or M_GEMV_GLU's) plan, its operands in an operand
     * table (see norm_prologue in matmul.cu for their order and the flags).
     */
    static KernelTask matmulNorm(ProductPrologue.Norm norm, ProductEpilogue.Glu glu, MatmulNode n) {
        Tensor a = n.a(), b = n.b(), gu = n.output();
        int rank = gu.rank();
        long inner = a.size(rank - 1), cols = gu.size(-1);
        long[] plan = glu != null ? gluPlan(glu.units())
                : matmulPlan(1, 1, inner, cols, a.strides()[rank - 1], b.strides()[rank - 2], true, true, false);
        Tensor out = glu != null ? glu.output() : gu;
        long outCols = out.size(-1);
        long[] bs = b.strides();
        GpuView x0 = row(norm.add() != null ? (Tensor) norm.add().operands().getFirst() : norm.norm().input());
        GpuView value = GpuView.of(out, new long[]{1, outCols}, new long[]{outCols, 1});
        boolean add = norm.add() != null && norm.add().op() == dev.gpuos.tensor.op.ElementwiseOp.ADD;
        boolean storeProduct = glu != null && glu.storeProduct();
        List<GpuView> refs = List.of(x0,
                GpuView.of(b, new long[]{inner, cols}, new long[]{bs[rank - 2], bs[rank - 1]}),
                value,
                storeProduct ? GpuView.of(gu, new long[]{1, cols}, new long[]{gu.strides()[rank - 2], gu.strides()[rank - 1]}) : value,
                add ? row((Tensor) norm.add().operands().get(1)) : x0,
                norm.norm().weight() != null ? row(norm.norm().weight()) : x0,
                norm.storeSum() ? row(norm.add().output()) : x0);
        long flags = (storeProduct ? 1 : 0) | (add ? 2 : 0) | (norm.storeSum() ? 4 : 0)
                | (norm.norm().weight() != null ? 8 : 0) | (glu != null ? 16 : 0);
        List<OpNode> nodes = new ArrayList<>(norm.nodes());
        nodes.add(n);
        if (glu != null) nodes.addAll(glu.members());
        int ntiles = (int) Math.max(1, Math.min(plan[1], dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        return new KernelTask(OperatorSources.familyOperator(Family.MATMUL, a.dtype()), ntiles, 1, refs,
                new long[]{Double.doubleToRawLongBits(norm.norm().eps()), plan[1], PATH_GEMV_NORM, plan[2], plan[3], flags},
                nodes, Family.MATMUL.smemBytes());
    }

    /** {@code t}, one row of its last dim's elements, as a [1, len] view with that dim's stride. */
    private static GpuView row(Tensor t) {
        long stride = t.strides()[t.rank() - 1];
        return GpuView.of(t, new long[]{1, t.size(-1)}, new long[]{t.size(-1) * stride, stride});
    }

    /**
     * The product of {@code glu} with its gated linear unit (matmul.cu's M_GEMV_GLU): units of output columns j of
     * the unit's value, a warp taking 1 or 2 of them at a time and streaming gate row j and up row j + I together
     * (2 or 4 weight rows, as M_GEMV's 2 or 4 columns). refs: x, W^T, the unit's value, and the product's output
     * where it is stored; args as M_GEMV's, plus whether that output is stored.
     */
    static KernelTask matmulGlu(ProductEpilogue.Glu glu) {
        MatmulNode n = glu.product();
        Tensor a = n.a(), b = n.b(), gu = n.output(), out = glu.output();
        int rank = gu.rank();
        long inner = a.size(rank - 1), units = glu.units();
        long[] plan = gluPlan(units);
        long total = plan[1];
        int ntiles = (int) Math.max(1, Math.min(total, dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        long[] as = a.strides(), bs = b.strides();
        List<GpuView> refs = new ArrayList<>(List.of(
                GpuView.of(a, new long[]{1, inner}, new long[]{as[rank - 2], as[rank - 1]}),
                GpuView.of(b, new long[]{inner, 2 * units}, new long[]{bs[rank - 2], bs[rank - 1]}),
                GpuView.of(out, new long[]{1, units}, new long[]{units, 1})));
        if (glu.storeProduct()) refs.add(GpuView.of(gu, new long[]{1, 2 * units}, new long[]{gu.strides()[rank - 2], gu.strides()[rank - 1]}));
        List<OpNode> nodes = new ArrayList<>();
        nodes.add(n);
        nodes.addAll(glu.members());
        return new KernelTask(OperatorSources.familyOperator(Family.MATMUL, a.dtype()), ntiles, 1, refs,
                new long[]{0, total, PATH_GEMV_GLU, plan[2], plan[3], glu.storeProduct() ? 1 : 0}, nodes, Family.MATMUL.smemBytes());
    }

    /**
     * M_GEMV_GLU's plan for {@code units} output columns, in {@link #matmulPlan}'s form {path, units of work,
     * columns per unit, columns a warp takes at a time}: M_GEMV's spread over the SMs, a warp taking 2 columns
     * (4 weight rows, M_GEMV's widest) where a unit has enough for that.
     */
    static long[] gluPlan(long units) {
        long span = Math.ceilDiv(units, SKINNY_UNITS);
        long pairs = Math.min(2, Math.ceilDiv(span, WARPS));
        span = Math.ceilDiv(span, pairs * WARPS) * pairs * WARPS;
        return new long[]{PATH_GEMV_GLU, Math.ceilDiv(units, span), span, pairs};
    }

    /**
     * Widest value rows attention.cu accumulates in the worker's shared memory (8 KB: 32 + 256 + 512 8-byte
     * accumulators for F64); GpuSupport refuses wider ones on the GPU.
     */
    static final long ATTENTION_MAX_VALUE_DIM = 512;

    /**
     * Whether attention splits each row's keys over several tiles when there are too few rows to occupy the worker's
     * blocks (flash decoding; see {@link #attentionSplit}): OFF unless {@code -Dgpuos.attention.splitS=true}, until a
     * GPU run has checked it (GpuAttentionSplitTest; written without a GPU, checked on the host by AttentionHostTest). Read
     * at planning, like {@link #gemv}, so AttentionSplitTiming compares both in one JVM.
     */
    static volatile boolean splitS = "true".equals(System.getProperty("gpuos.attention.splitS"));
    /** Keys attention.cu scores at a time (its CH); a split chunk is a multiple of it. */
    static final long ATTENTION_KEYS = 256;

    /**
     * How many chunks of its {@code keys} keys each of {@code rows} query rows is cut into, and the keys of a chunk:
     * {chunks, keys a chunk}. One chunk (today's one tile a row) unless {@code split} and the rows leave worker blocks
     * idle: then enough chunks for rows x chunks to reach the worker's {@link #SKINNY_UNITS} blocks, none shorter than
     * {@link #ATTENTION_KEYS} (so S = 160 stays one tile a row; Llama-3.2-1B's 32 heads at S = 4096 take 8 chunks
     * of 512). Each extra chunk costs a partial row written and read back once and a counter increment.
     */
    static long[] attentionSplit(long rows, long keys, boolean split) {
        long most = Math.ceilDiv(Math.max(keys, 1), ATTENTION_KEYS);
        long chunks = split ? Math.min(most, SKINNY_UNITS / Math.max(rows, 1)) : 1;
        if (chunks <= 1) return new long[]{1, keys};
        long len = Math.ceilDiv(Math.ceilDiv(keys, chunks), ATTENTION_KEYS) * ATTENTION_KEYS;
        return new long[]{Math.ceilDiv(keys, len), len};
    }

    /**
     * attention.cu over the coalesced batch dims: one tile per query row (a decode step's 32 query heads are 32
     * tiles, each streaming its KV head's keys and values once), 5 operands (q, k, v, bias or q again, out: an
     * operand table), args {batch dims, has bias, scale, query rows, chunks, keys a chunk}. Split
     * ({@link #attentionSplit}), a tile per row and chunk, and a 6th operand: the partials and row counters
     * attention.cu's tiles combine through, in the operand table ({@link OperandTables.Scratch}).
     */
    static KernelTask attention(AttentionNode n) {
        Tensor q = n.query(), k = n.keys(), v = n.values(), out = n.output();
        Tensor b = n.bias() != null ? n.bias() : q;
        int rank = out.rank(), nb = rank - 2;
        int[] bd = Dims.range(0, nb);
        long[][] c = Dims.coalesce(Dims.pick(out.shape(), bd), Dims.pick(q.strides(), bd), Dims.pick(k.strides(), bd),
                Dims.pick(v.strides(), bd), Dims.pick(b.strides(), bd), Dims.pick(out.strides(), bd));
        long rows = Math.multiplyExact(Dims.product(c[0]), q.size(rank - 2));
        List<GpuView> refs = new java.util.ArrayList<>();
        Tensor[] ts = {q, k, v, b, out};
        for (int i = 0; i < ts.length; i++) {
            Tensor t = ts[i];
            refs.add(GpuView.of(t, Dims.concat(c[0], t.size(rank - 2), t.size(rank - 1)),
                    Dims.concat(c[i + 1], t.strides()[rank - 2], t.strides()[rank - 1])));
        }
        long[] split = attentionSplit(rows, k.size(rank - 2), splitS);
        if (split[0] > 1) {
            long acc = q.dtype() == DType.F64 || v.dtype() == DType.F64 ? 8 : 4;
            long partials = Math.multiplyExact(Math.multiplyExact(rows, split[0]), (2 + v.size(rank - 1)) * acc);
            refs.add(new OperandTables.Scratch(partials + rows * 4).view());
        }
        long units = Math.multiplyExact(rows, split[0]);
        int ntiles = (int) Math.max(1, Math.min(units, dev.gpuos.runtime.layout.Layouts.MAX_TILES_PER_TASK));
        return new KernelTask(OperatorSources.attentionOperator(q.dtype(), v.dtype()), ntiles, 1, refs,
                new long[]{c[0].length, n.bias() != null ? 1 : 0, Double.doubleToRawLongBits(n.scale()), rows, split[0],
                        split[1]}, List.of(n), GpuBackend.MIN_SMEM_BYTES);
    }

    /** An index_select writing its first bad index into the record at element {@code slot} with {@code stamp}. */
    static KernelTask indexSelect(IndexSelectNode n, DeviceBuffer faultRecord, long slot, long stamp) {
        return indexSelect(n, new GpuView(faultRecord, DTypeCode.I64, slot * 8, new long[]{4}, new long[]{1}),
                new long[]{n.dim(), stamp});
    }

    /**
     * A captured index_select, number {@code j} of its program, logging a bad index in the program's block of
     * {@code words} I64 words (its stamp is its seq, new per run; see {@link ReplayFaults}).
     */
    static KernelTask indexSelectCaptured(IndexSelectNode n, DeviceBuffer faults, long words, int j, long logAt,
                                          int logEntries) {
        return indexSelect(n, new GpuView(faults, DTypeCode.I64, 0, new long[]{words}, new long[]{1}),
                new long[]{n.dim(), 0, j, logAt, logEntries});
    }

    private static KernelTask indexSelect(IndexSelectNode n, GpuView fault, long[] args) {
        Tensor out = n.output();
        int[] tiling = Dims.tiling(out.numel(), ElementwiseKernels.MIN_TILE);
        List<GpuView> refs = List.of(GpuView.of(n.input()), GpuView.of(n.index()), GpuView.of(out), fault);
        return family(Family.INDEX_SELECT, n.input().dtype(), tiling[1], tiling[0], refs, args, n);
    }

    static KernelTask fill(FillNode n) {
        Tensor out = n.output();
        DType t = out.dtype();
        long[][] c = Dims.coalesce(out.shape(), out.strides());
        long[] args = switch (n.pattern()) {
            case FillPattern.Constant(Scalar v) -> t.isFloating() || t == DType.BOOL
                    ? new long[]{0, Double.doubleToRawLongBits(v.doubleValue())}
                    : new long[]{1, v.longValue()};
            case FillPattern.Arange(Scalar start, Scalar step) ->
                    !t.isFloating() && start.kind() != DType.F64 && step.kind() != DType.F64
                            ? new long[]{2, start.longValue(), step.longValue()}
                            : new long[]{3, bits(start.doubleValue()), bits(step.doubleValue())};
            case FillPattern.Uniform(long seed, double low, double high) -> new long[]{4, seed, bits(low), bits(high)};
            case FillPattern.Normal(long seed, double mean, double std) -> new long[]{5, seed, bits(mean), bits(std)};
        };
        int[] tiling = Dims.tiling(out.numel(), ElementwiseKernels.MIN_TILE);
        return family(Family.FILL, t, tiling[1], tiling[0], List.of(GpuView.of(out, c[0], c[1])), args, n);
    }

    /** Copies a staged upload into its (contiguous) destination. */
    static KernelTask copy(UploadNode n, DeviceBuffer staged) {
        Tensor out = n.output();
        long bytes = n.hostData().byteSize();
        int[] tiling = Dims.tiling(bytes, 4 * ElementwiseKernels.MIN_TILE);
        List<GpuView> refs = new ArrayList<>();
        refs.add(new GpuView(staged, DTypeCode.U8, 0, new long[]{bytes}, new long[]{1}));
        refs.add(new GpuView(GpuStorage.of(out).block(), DTypeCode.U8, out.storageOffset() * out.dtype().byteSize(),
                new long[]{bytes}, new long[]{1}));
        return new KernelTask(OperatorSources.COPY_BYTES_OPERATOR, tiling[1], tiling[0], refs, new long[0], List.of(n));
    }

    private static long bits(double v) {
        return Double.doubleToRawLongBits(v);
    }
}
