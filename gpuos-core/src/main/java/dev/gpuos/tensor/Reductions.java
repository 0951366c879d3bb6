package dev.gpuos.tensor;

import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.ReduceOp;

import java.util.Arrays;

/** Validation and node building for reductions. */
final class Reductions {
    private Reductions() {}

    /** {@code axes} null or empty reduces every dimension. */
    static Tensor reduce(ReduceOp op, Tensor t, int[] axes, boolean keepdim) {
        t.ensureOpen();
        int rank = t.rank();
        DType result = op.resultType(t.dtype());
        boolean[] reduced = new boolean[rank];
        if (axes == null || axes.length == 0) {
            Arrays.fill(reduced, true);
        } else {
            for (int a : axes) {
                int d = Layout.normalizeDim(a, rank);
                if (rank == 0) continue; // a 0-dim tensor reduces to itself
                if (reduced[d]) throw new IllegalArgumentException(op.opName() + ": dimension " + a + " appears twice in " + Arrays.toString(axes));
                reduced[d] = true;
            }
        }
        long[] shape = t.shape();
        int kept = 0, count = 0;
        long reducedNumel = 1;
        for (int d = 0; d < rank; d++) {
            if (reduced[d]) { count++; reducedNumel *= shape[d]; } else kept++;
        }
        if (reducedNumel == 0 && !op.allowsEmpty()) {
            throw new IllegalArgumentException(op.opName() + " of an empty selection is undefined: reduced dimensions of "
                    + t + " have zero elements");
        }
        int[] normalized = new int[count];
        long[] outShape = new long[keepdim ? rank : kept];
        for (int d = 0, i = 0, o = 0; d < rank; d++) {
            if (reduced[d]) {
                normalized[i++] = d;
                if (keepdim) outShape[o++] = 1;
            } else {
                outShape[o++] = shape[d];
            }
        }
        Tensor out = Dispatch.allocateResult(t, result, outShape);
        return Dispatch.submitFresh(new ReduceNode(op, t, normalized, keepdim, out));
    }
}
