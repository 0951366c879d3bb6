package dev.gpuos.tensor;

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
