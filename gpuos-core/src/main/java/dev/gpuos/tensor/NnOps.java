package dev.gpuos.tensor;

import dev.gpuos.tensor.op.AttentionNode;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.SoftmaxNode;

import java.util.Arrays;

/** Validation and node building for softmax and normalisation layers. */
final class NnOps {
    private NnOps() {}

    static Tensor softmax(Tensor t, int dim, boolean log) {
        t.ensureOpen();
        String name = log ? "log_softmax" : "softmax";
        requireFloating(name, t);
        int d = Layout.normalizeDim(dim, t.rank());
        if (t.rank() == 0) return softmax(t.reshape(1), 0, log).reshape();
        Tensor out = Dispatch.allocateResult(t, t.dtype(), t.shape());
        return Dispatch.submitFresh(new SoftmaxNode(t, d, log, out));
    }

    static Tensor layerNorm(Tensor t, long[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        checkNorm("layer_norm", t, normalizedShape, weight, bias, eps);
        Tensor out = Dispatch.allocateResult(t, t.dtype(), t.shape());
        return Dispatch.submitFresh(new NormNode(NormNode.Kind.LAYER, t, weight, bias, normalizedShape.length, eps, out));
    }

    static Tensor rmsNorm(Tensor t, long[] normalizedShape, Tensor weight, double eps) {
        checkNorm("rms_norm", t, normalizedShape, weight, null, eps);
        Tensor out = Dispatch.allocateResult(t, t.dtype(), t.shape());
        return Dispatch.submitFresh(new NormNode(NormNode.Kind.RMS, t, weight, null, normalizedShape.length, eps, out));
    }

    static Tensor attention(Tensor q, Tensor keys, Tensor values, Tensor bias, double scale) {
        String name = "attention";
        q.ensureOpen();
        Dispatch.require(name, "keys", keys);
        Dispatch.require(name, "values", values);
        Dispatch.commonBackend(name, q, keys, values, bias);
        requireFloating(name, q);
        requireFloating(name, values);
        for (Tensor t : bias == null ? new Tensor[]{keys} : new Tensor[]{keys, bias}) {
            if (t.dtype() != q.dtype()) {
                throw new UnsupportedDTypeException(name + " needs one dtype for query, keys and bias, got "
                        + q.dtype() + " and " + t.dtype());
            }
        }
        if (!Double.isFinite(scale)) throw new IllegalArgumentException(name + ": scale must be finite, got " + scale);
        int r = q.rank();
        long[] qs = q.shape(), ks = keys.shape(), vs = values.shape();
        boolean fits = r >= 2 && keys.rank() == r && values.rank() == r
                && Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(ks, r - 2))
                && Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(vs, r - 2))
                && qs[r - 1] == ks[r - 1] && ks[r - 2] == vs[r - 2];
        if (!fits) {
            throw new ShapeMismatchException(name + " needs query [..., L, E], keys [..., S, E] and values [..., S, Ev]"
                    + " with equal batch dims, got " + Arrays.toString(qs) + ", " + Arrays.toString(ks) + " and "
                    + Arrays.toString(vs));
        }
        if (ks[r - 2] == 0) throw new ShapeMismatchException(name + ": keys " + Arrays.toString(ks) + " hold no position (S = 0)");
        long[] scores = Arrays.copyOf(qs, r);
        scores[r - 1] = ks[r - 2];
        Tensor b = bias == null ? null : bias.expand(scores);
        long[] outShape = Arrays.copyOf(qs, r);
        outShape[r - 1] = vs[r - 1];
        Tensor out = Dispatch.allocateResult(q, values.dtype(), outShape);
        return Dispatch.submitFresh(new AttentionNode(q, keys, values, b, scale, out));
    }

    /** torch.finfo(dtype).eps, the default eps of rms_norm. */
    static double epsilon(DType dtype) {
        return switch (dtype) {
            case F64 -> Math.ulp(1.0);
            case F16 -> 0x1.0p-10;
            case BF16 -> 0x1.0p-7;
            default -> Math.ulp(1.0f);
        };
    }

    private static void checkNorm(String name, Tensor t, long[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        Dispatch.require(name, "normalizedShape", normalizedShape);
        Dispatch.commonBackend(name, t, weight, bias);
        requireFloating(name, t);
        if (!(eps >= 0)) throw new IllegalArgumentException(name + ": eps must be >= 0, got " + eps);
        int k = normalizedShape.length, rank = t.rank();
        long[] shape = t.shape();
        boolean fits = k >= 1 && k <= rank
                && Arrays.equals(Arrays.copyOfRange(shape, rank - k, rank), normalizedShape);
        if (!fits) {
            throw new ShapeMismatchException(name + ": normalized_shape " + Arrays.toString(normalizedShape)
                    + " must be the non-empty trailing dimensions of input shape " + Arrays.toString(shape));
        }
        for (Tensor p : new Tensor[]{weight, bias}) {
            if (p == null) continue;
            requireFloating(name, p);
            if (!Arrays.equals(p.shape(), normalizedShape)) {
                throw new ShapeMismatchException(name + ": weight/bias shape " + Arrays.toString(p.shape())
                        + " must equal normalized_shape " + Arrays.toString(normalizedShape));
            }
        }
    }

    private static void requireFloating(String name, Tensor t) {
        if (!t.dtype().isFloating()) throw new UnsupportedDTypeException(name + " needs a floating dtype, got " + t.dtype());
    }
}
