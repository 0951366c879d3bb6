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

    /**
     * A multi-row product's pointwise successors computed where it is stored (matmul.cu's EPI_*, on M_SKINNY_K and
     * M_TILED): BERT's {@code x @ W^T + bias}, then gelu or a residual add, then the cast back to the product's dtype
     * where the next product reads it. Each is a separate task otherwise (and a dependent hand-off).
     *
     * @param bias         the [m] bias (F32) the first member adds
     * @param gelu         whether gelu (erf form) follows
     * @param residual     the F32 tensor of the product's shape added next, or null
     * @param cast         whether the value is cast back to the product's dtype (else it is F32)
     * @param storeProduct whether the product itself is read elsewhere and must be stored
     */
    record Pointwise(MatmulNode product, List<ElementwiseNode> members, Tensor bias, boolean gelu, Tensor residual,
                     boolean cast, boolean storeProduct) {
        Tensor output() { return members.getLast().output(); }

        /** matmul.cu's epilogue flags (EPI_*). */
        int flags() {
            return (storeProduct ? 1 : 0) | 2 | (gelu ? 4 : 0) | (residual != null ? 8 : 0) | (cast ? 16 : 0);
        }
    }

    /**
     * The pointwise successors of a multi-row {@code product} in {@code after} (the fusion group that follows it) that
     * its task can compute, or null: in a captured program, on a product M_SKINNY_K or M_TILED runs
     * ({@link FamilyTasks#epiloguePlanned}), an F32 add of a bias row first, then optionally in this order gelu, an
     * F32 add of a tensor of the product's shape, a cast to the product's dtype; every intermediate F32 and read by
     * no one else. The fused task rounds where the separate tasks do (the product to its dtype, each F32 step once),
     * so its values are theirs.
     */
    static Pointwise matchPointwise(MatmulNode product, List<ElementwiseNode> after, Intermediates im) {
        if (im.isEmpty() || after.isEmpty() || !FamilyTasks.epiloguePlanned(product)) return null;
        Tensor p = product.output();
        DType t = p.dtype();
        ElementwiseNode first = after.getFirst();
        if (first.op() != ElementwiseOp.ADD || first.operandType() != DType.F32 || first.output().dtype() != DType.F32) return null;
        Operand o0 = first.operands().get(0), o1 = first.operands().get(1);
        Operand other = same(o0, p) ? o1 : same(o1, p) ? o0 : null;
        if (!(other instanceof Tensor bias) || bias.dtype() != DType.F32 || !biasRow(bias, p) || bias.storage() == p.storage()) return null;
        int end = 0;
        Tensor value = first.output();
        boolean gelu = false, cast = false;
        Tensor residual = null;
        if (end + 1 < after.size() && after.get(end + 1) instanceof ElementwiseNode n && n.op() == ElementwiseOp.GELU
                && n.output().dtype() == DType.F32 && same(n.operands().getFirst(), value)) {
            gelu = true;
            value = n.output();
            end++;
        }
        if (end + 1 < after.size() && after.get(end + 1) instanceof ElementwiseNode n && n.op() == ElementwiseOp.ADD
                && n.operandType() == DType.F32 && n.output().dtype() == DType.F32) {
            Operand a0 = n.operands().get(0), a1 = n.operands().get(1);
            Operand r = same(a0, value) ? a1 : same(a1, value) ? a0 : null;
            if (r instanceof Tensor res && res.dtype() == DType.F32 && Arrays.equals(res.shape(), p.shape())
                    && res.storage() != p.storage() && !writtenBy(res, after.subList(0, end + 1))) {
                residual = res;
                value = n.output();
                end++;
            }
        }
        if (t != DType.F32 && end + 1 < after.size() && after.get(end + 1) instanceof ElementwiseNode n
                && n.op() == ElementwiseOp.CAST && n.output().dtype() == t && same(n.operands().getFirst(), value)) {
            cast = true;
            value = n.output();
            end++;
        }
        // the value is stored where the product is: contiguous, of its shape
        if (!value.isContiguous() || !Arrays.equals(value.shape(), p.shape())) return null;
        List<ElementwiseNode> members = List.copyOf(after.subList(0, end + 1));
        int from = im.position(product), to = im.position(members.getLast());
        if (to - from != members.size()) return null;   // the members follow the product in the work list
        for (int m = 0; m + 1 < members.size(); m++) {
            if (!im.unstored(members.get(m).output().storage(), from, to)) return null;
        }
        return new Pointwise(product, members, bias, gelu, residual, cast, !im.unstored(p.storage(), from, to));
    }

    /** Whether {@code b} is one row of {@code p}'s last dim broadcast over every other dim. */
    private static boolean biasRow(Tensor b, Tensor p) {
        if (b.rank() == 0 || b.rank() > p.rank() || b.size(-1) != p.size(-1)) return false;
        for (int d = 0; d + 1 < b.rank(); d++) if (b.size(d) != 1 && b.strides()[d] != 0) return false;
        return true;
    }

    private static boolean writtenBy(Tensor t, List<ElementwiseNode> nodes) {
        for (ElementwiseNode n : nodes) if (n.output().storage() == t.storage()) return true;
        return false;
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
