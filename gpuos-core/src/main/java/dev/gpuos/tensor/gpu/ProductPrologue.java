package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.MatmulNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.List;

/**
 * An rms_norm computed by the one-row product that reads it (matmul.cu's M_GEMV_NORM): a decode step's
 * {@code (x + delta).rmsNorm(w).to(bf16) @ W^T}, which RowFusion makes one row task and the product another, becomes
 * one task whose every block recomputes the row (2048 values: a few KB from L2) into shared memory before streaming
 * its share of W. A Llama layer's two norms each lose a dependent hand-off (several microseconds in a decode step).
 *
 * <p>What this takes: a row-fused rms_norm over ONE row ({@link RowFusion.Fused}) with at most one prologue member
 * (an F32 add of two tensors, or a cast to F32) and at most one epilogue member (the cast to the product's dtype),
 * whose value is the product's x and read by nothing else ({@link Intermediates}); the add's sum may be stored (the
 * residual stream). The row, cast to the product's dtype, must fit the worker's shared memory with the reduction's
 * scratch. Statistics and roundings are norm.cu's, so the fused product reads the x the row task would have stored.
 */
final class ProductPrologue {
    private ProductPrologue() {}

    /** Bytes of the worker's shared memory the prologue's reduction takes before the row. */
    static final int SCRATCH_BYTES = 32 * 8;

    /**
     * @param add      the prologue's add or cast (null: the norm reads x0 itself)
     * @param storeSum whether the prologue's value is stored (someone else reads it)
     */
    record Norm(RowFusion.Fused row, ElementwiseNode add, NormNode norm, ElementwiseNode cast, boolean storeSum) {
        List<OpNode> nodes() {
            List<OpNode> all = new ArrayList<>();
            if (add != null) all.add(add);
            all.add(norm);
            if (cast != null) all.add(cast);
            return all;
        }

        long hidden() { return norm.input().size(-1); }
    }

    /** The norm {@code row} feeds {@code product} with, fused, or null. */
    static Norm match(RowFusion.Fused row, MatmulNode product, Intermediates im) {
        if (im.isEmpty() || row.kind != RowFusion.Kind.RMS || !(row.row instanceof NormNode norm)) return null;
        if (norm.bias() != null || norm.normalizedDims() != 1 || row.rows != 1) return null;
        if (row.prologue.size() > 1 || row.epilogue.size() > 1 || !FamilyTasks.gemvPlanned(product)) return null;
        Tensor x = product.a();
        DType t = x.dtype();
        long h = norm.input().size(-1);
        if (h * t.byteSize() + SCRATCH_BYTES > GpuBackend.MIN_SMEM_BYTES || !oneRow(norm.input(), h)) return null;
        if (norm.input().dtype() != DType.F32 || norm.output().dtype() != DType.F32) return null;
        ElementwiseNode add = row.prologue.isEmpty() ? null : row.prologue.getFirst();
        if (add != null) {
            boolean twoTensors = add.op() == ElementwiseOp.ADD && add.operandType() == DType.F32
                    && add.operands().get(0) instanceof Tensor a && oneRow(a, h)
                    && add.operands().get(1) instanceof Tensor b && oneRow(b, h);
            boolean widen = add.op() == ElementwiseOp.CAST && add.operands().getFirst() instanceof Tensor a && oneRow(a, h);
            if (!(twoTensors || widen) || add.output().dtype() != DType.F32 || !same(norm.input(), add.output())) return null;
        }
        ElementwiseNode cast = row.epilogue.isEmpty() ? null : row.epilogue.getFirst();
        Tensor value = norm.output();
        if (cast != null) {
            if (cast.op() != ElementwiseOp.CAST || !same(cast.operands().getFirst(), norm.output())) return null;
            value = cast.output();
        }
        if (value.dtype() != t || !ElementwiseKernels.sameView(value, x)) return null;
        OpNode first = add != null ? add : norm;
        int from = im.position(first), to = im.position(product);
        if (to - from != (add != null ? 1 : 0) + 1 + (cast != null ? 1 : 0)) return null;
        if (!im.unstored(norm.output().storage(), from, to) || !im.unstored(value.storage(), from, to)) return null;
        return new Norm(row, add, norm, cast, add != null && !im.unstored(add.output().storage(), from, to));
    }

    private static boolean same(Operand o, Tensor t) {
        return o instanceof Tensor v && ElementwiseKernels.sameView(v, t);
    }

    /** One row of {@code len} elements (every other dim 1), any stride along it. */
    private static boolean oneRow(Tensor t, long len) {
        if (t.rank() == 0 || t.size(-1) != len) return false;
        for (int d = 0; d + 1 < t.rank(); d++) if (t.size(d) != 1) return false;
        return true;
    }
}
