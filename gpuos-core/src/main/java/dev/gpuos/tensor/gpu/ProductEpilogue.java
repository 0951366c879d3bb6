package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.MatmulNode;

import java.util.Arrays;
import java.util.List;

/**
 * A gated linear unit computed by the product that feeds it (cuBLASLt's epilogues, for the SwiGLU of every
 * Llama-family MLP): {@code silu(gu[:, :I]) * gu[:, I:]} written the usual way after a one-row product
 * {@code gu = x @ W^T} whose weight stacks gate and up ([2 I, k]). matmul.cu's M_GEMV_GLU then has each warp
 * stream gate row j and up row j together and store the unit's value j; the elementwise task after the product
 * (and the dependent hand-off before it, several microseconds each in a decode step) goes away, and {@code gu} is
 * stored only where something else reads it.
 *
 * <p>The members this takes, right after the product in a captured program: {@code silu} of the gate half (or of
 * its cast to F32), times the up half (or its cast to F32), either operand first, then a cast back to the
 * product's dtype (none when that is F32). Every intermediate is F32 (a 16-bit silu would round where this does not) and none is read
 * outside these members ({@link Intermediates}), so the fused task computes exactly what the separate ones
 * would: the halves rounded to the product's dtype as stored, silu and the product in f32, one rounding on
 * store.
 */
final class ProductEpilogue {
    private ProductEpilogue() {}

    /**
     * The fused form: the product, its epilogue members (the last one's output is the unit's value), whether the
     * product's own output must still be stored.
     */
    record Glu(MatmulNode product, List<ElementwiseNode> members, boolean storeProduct) {
        Tensor output() { return members.getLast().output(); }

        long units() { return product.output().size(-1) / 2; }
    }

    /**
     * The GLU that {@code after}'s first members compute from {@code product}, or null. {@code after} is the
     * fusion group that follows the product in the plan.
     */
    static Glu match(MatmulNode product, List<ElementwiseNode> after, Intermediates im) {
        if (im.isEmpty() || after.size() < 2 || !FamilyTasks.gluPlanned(product)) return null;
        Tensor gu = product.output();
        DType t = gu.dtype();
        long units = gu.size(-1) / 2;
        // the members in recording order, each one step of the chain: casts of either half to F32 (in any order),
        // silu, the mul, the cast back; anything else ends the match
        Tensor gateF = null, upF = null, silu = null, mul = null;
        int end = -1;
        for (int i = 0; i < after.size() && end < 0; i++) {
            ElementwiseNode n = after.get(i);
            Tensor out = n.output();
            Operand in = n.operands().getFirst();
            boolean f32 = out.dtype() == DType.F32;
            if (n.op() == ElementwiseOp.CAST && f32 && t != DType.F32 && gateF == null && half(in, gu, 0, units) != null) {
                gateF = out;
            } else if (n.op() == ElementwiseOp.CAST && f32 && t != DType.F32 && upF == null && half(in, gu, units, units) != null) {
                upF = out;
            } else if (n.op() == ElementwiseOp.SILU && f32 && silu == null
                    && (gateF != null ? same(in, gateF) : t == DType.F32 && half(in, gu, 0, units) != null)) {
                silu = out;
            } else if (n.op() == ElementwiseOp.MUL && f32 && silu != null && n.operandType() == DType.F32) {
                Operand m0 = n.operands().get(0), m1 = n.operands().get(1);
                Operand up = same(m0, silu) ? m1 : same(m1, silu) ? m0 : null;
                if (up == null || !(upF != null ? same(up, upF) : half(up, gu, units, units) != null)) return null;
                mul = out;
                if (t == DType.F32) end = i;
            } else if (n.op() == ElementwiseOp.CAST && mul != null && out.dtype() == t && same(in, mul)) {
                end = i;
            } else {
                return null;
            }
        }
        if (end < 0) return null;
        List<ElementwiseNode> members = List.copyOf(after.subList(0, end + 1));
        if (!contiguousRow(members.getLast().output(), units)) return null;
        int from = im.position(product), to = im.position(members.getLast());
        if (to - from != members.size()) return null;   // the members follow the product in the work list
        for (int m = 0; m + 1 < members.size(); m++) {
            if (!im.unstored(members.get(m).output().storage(), from, to)) return null;
        }
        return new Glu(product, members, !im.unstored(gu.storage(), from, to));
    }

    /** Whether {@code o} reads {@code t} element for element (an earlier member's output). */
    private static boolean same(Operand o, Tensor t) {
        return o instanceof Tensor v && ElementwiseKernels.sameView(v, t);
    }

    /** {@code o} as the view {@code gu[..., start : start + len]} (every other dim 1), or null. */
    private static Tensor half(Operand o, Tensor gu, long start, long len) {
        if (!(o instanceof Tensor v) || v.storage() != gu.storage() || v.rank() != gu.rank()) return null;
        long[] shape = gu.shape().clone();
        shape[shape.length - 1] = len;
        long last = gu.strides()[gu.rank() - 1];
        if (!Arrays.equals(v.shape(), shape) || v.storageOffset() != gu.storageOffset() + start * last) return null;
        for (int d = 0; d < v.rank(); d++) {
            if (shape[d] != 1 && v.strides()[d] != gu.strides()[d]) return null;
        }
        return v;
    }

    /** One row of {@code len} contiguous elements (leading dims of size 1). */
    private static boolean contiguousRow(Tensor t, long len) {
        if (t.size(-1) != len || t.strides()[t.rank() - 1] != 1) return false;
        for (int d = 0; d + 1 < t.rank(); d++) if (t.size(d) != 1) return false;
        return true;
    }
}
