package dev.gpuos.tensor;

import dev.gpuos.tensor.op.MatmulNode;

import java.util.Arrays;

/** matmul (torch.matmul rules) and bmm, reduced to one batched node with broadcast batch dimensions. */
final class LinearAlgebra {
    private LinearAlgebra() {}

    static Tensor matmul(Tensor a, Tensor b) {
        Dispatch.require("matmul", "other", b);
        Dispatch.commonBackend("matmul", a, b);
        checkDTypes("matmul", a, b);
        if (a.rank() == 0 || b.rank() == 0) {
            throw new ShapeMismatchException("matmul needs operands with at least one dimension, got " + a + " and " + b);
        }
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        long[] as = a2.shape(), bs = b2.shape();
        long n = as[as.length - 2], k = as[as.length - 1], k2 = bs[bs.length - 2], m = bs[bs.length - 1];
        if (k != k2) {
            throw new ShapeMismatchException("matmul: inner dimensions differ: " + Arrays.toString(a.shape()) + " @ "
                    + Arrays.toString(b.shape()) + " (" + k + " vs " + k2 + ")");
        }
        long[] batch = Layout.broadcastShapes(Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
        Tensor out = run(a2.expand(concat(batch, n, k)), b2.expand(concat(batch, k, m)), concat(batch, n, m));
        if (a.rank() == 1) out = out.squeeze(-2);
        if (b.rank() == 1) out = out.squeeze(-1);
        return out;
    }

    static Tensor bmm(Tensor a, Tensor b) {
        Dispatch.require("bmm", "other", b);
        Dispatch.commonBackend("bmm", a, b);
        checkDTypes("bmm", a, b);
        if (a.rank() != 3 || b.rank() != 3 || a.size(0) != b.size(0) || a.size(2) != b.size(1)) {
            throw new ShapeMismatchException("bmm needs [b, n, k] and [b, k, m], got " + Arrays.toString(a.shape())
                    + " and " + Arrays.toString(b.shape()));
        }
        return run(a, b, new long[]{a.size(0), a.size(1), b.size(2)});
    }

    private static Tensor run(Tensor a, Tensor b, long[] outShape) {
        Tensor out = Dispatch.allocateResult(a, a.dtype(), outShape);
        return Dispatch.submitFresh(new MatmulNode(a, b, out));
    }

    private static void checkDTypes(String name, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new UnsupportedDTypeException(name + " needs operands of one dtype, got " + a.dtype() + " and " + b.dtype());
        }
        if (a.dtype() == DType.BOOL) throw new UnsupportedDTypeException(name + " does not support BOOL");
    }

    private static long[] concat(long[] batch, long x, long y) {
        long[] out = Arrays.copyOf(batch, batch.length + 2);
        out[batch.length] = x;
        out[batch.length + 1] = y;
        return out;
    }
}
