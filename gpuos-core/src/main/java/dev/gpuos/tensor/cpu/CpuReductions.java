package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.NormNode;
import dev.gpuos.tensor.op.ReduceNode;
import dev.gpuos.tensor.op.ReduceOp;
import dev.gpuos.tensor.op.SoftmaxNode;

import java.lang.foreign.MemorySegment;

/**
 * CPU reductions, softmax and normalisation. Each permutes the input view so that the reduced dimensions come
 * last; one row-major walk then visits every reduced group as a run of consecutive elements.
 */
final class CpuReductions {
    private CpuReductions() {}

    static void reduce(ReduceNode node) {
        Tensor in = node.input(), out = node.output();
        int rank = in.rank();
        int[] axes = node.axes();
        boolean[] reduced = new boolean[rank];
        for (int a : axes) reduced[a] = true;
        int[] order = new int[rank];
        int pos = 0;
        for (int d = 0; d < rank; d++) if (!reduced[d]) order[pos++] = d;
        for (int d = 0; d < rank; d++) if (reduced[d]) order[pos++] = d;
        Layout perm = in.layout().permute(order);
        long groupSize = 1;
        for (int a : axes) groupSize *= in.layout().size(a);
        long groups = out.numel();
        MemorySegment src = CpuBackend.segment(in), dst = CpuBackend.segment(out);
        DType it = in.dtype(), ot = out.dtype();
        long outBase = out.storageOffset();
        StridedCursor cur = new StridedCursor(perm.shape(), perm);
        ReduceOp op = node.op();
        boolean floating = it.isFloating();
        for (long g = 0; g < groups; g++) {
            long o = outBase + g;
            if (floating) {
                double acc = switch (op) { case PROD -> 1; default -> 0; };
                long arg = 0;
                for (long r = 0; r < groupSize; r++, cur.next()) {
                    double v = HostElements.getDouble(src, it, cur.offset(0));
                    if (r == 0 && op != ReduceOp.SUM && op != ReduceOp.MEAN && op != ReduceOp.PROD) { acc = v; continue; }
                    switch (op) {
                        case SUM, MEAN -> acc += v;
                        case PROD -> acc *= v;
                        case MAX -> { if (Double.isNaN(v) || v > acc) acc = v; }
                        case MIN -> { if (Double.isNaN(v) || v < acc) acc = v; }
                        case ARGMAX -> { if (!Double.isNaN(acc) && (Double.isNaN(v) || v > acc)) { acc = v; arg = r; } }
                        case ARGMIN -> { if (!Double.isNaN(acc) && (Double.isNaN(v) || v < acc)) { acc = v; arg = r; } }
                    }
                }
                if (op == ReduceOp.MEAN) acc = groupSize == 0 ? Double.NaN : acc / groupSize;
                if (op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN) HostElements.setLong(dst, ot, o, arg);
                else HostElements.setDouble(dst, ot, o, acc);
            } else {
                long acc = op == ReduceOp.PROD ? 1 : 0;
                long arg = 0;
                for (long r = 0; r < groupSize; r++, cur.next()) {
                    long v = HostElements.getLong(src, it, cur.offset(0));
                    if (r == 0 && op != ReduceOp.SUM && op != ReduceOp.PROD) { acc = v; continue; }
                    switch (op) {
                        case SUM -> acc += v;
                        case PROD -> acc *= v;
                        case MAX -> acc = Math.max(acc, v);
                        case MIN -> acc = Math.min(acc, v);
                        case ARGMAX -> { if (v > acc) { acc = v; arg = r; } }
                        case ARGMIN -> { if (v < acc) { acc = v; arg = r; } }
                        case MEAN -> throw new IllegalStateException("mean of an integral dtype passed validation");
                    }
                }
                HostElements.setLong(dst, ot, o, op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN ? arg : acc);
            }
        }
    }

    static void softmax(SoftmaxNode node) {
        Tensor in = node.input(), out = node.output();
        int rank = in.rank(), dim = node.dim();
        int[] order = new int[rank];
        for (int d = 0, p = 0; d < rank; d++) if (d != dim) order[p++] = d;
        order[rank - 1] = dim;
        Layout pin = in.layout().permute(order), pout = out.layout().permute(order);
        int len = Math.toIntExact(in.layout().size(dim));
        if (len == 0 || in.numel() == 0) return;
        long rows = in.numel() / len;
        MemorySegment src = CpuBackend.segment(in), dst = CpuBackend.segment(out);
        DType t = in.dtype();
        StridedCursor cur = new StridedCursor(pin.shape(), pin, pout);
        double[] row = new double[len];
        long[] outOffsets = new long[len];
        for (long r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++, cur.next()) {
                row[i] = HostElements.getDouble(src, t, cur.offset(0));
                outOffsets[i] = cur.offset(1);
                if (Double.isNaN(row[i]) || row[i] > max) max = Double.isNaN(max) ? max : row[i];
            }
            double sum = 0;
            for (int i = 0; i < len; i++) sum += Math.exp(row[i] - max);
            double logSum = Math.log(sum);
            for (int i = 0; i < len; i++) {
                double y = node.log() ? row[i] - max - logSum : Math.exp(row[i] - max) / sum;
                HostElements.setDouble(dst, t, outOffsets[i], y);
            }
        }
    }

    static void norm(NormNode node) {
        Tensor in = node.input(), out = node.output();
        if (in.numel() == 0) return;
        int rank = in.rank(), k = node.normalizedDims();
        long rowSizeL = 1;
        for (int d = rank - k; d < rank; d++) rowSizeL *= in.layout().size(d);
        int rowSize = Math.toIntExact(rowSizeL);
        if (rowSize == 0) return;
        double[] w = readAll(node.weight(), rowSize, 1), b = readAll(node.bias(), rowSize, 0);
        long rows = in.numel() / rowSize;
        MemorySegment src = CpuBackend.segment(in), dst = CpuBackend.segment(out);
        DType t = in.dtype();
        StridedCursor cur = new StridedCursor(in.shape(), in.layout(), out.layout());
        double[] x = new double[rowSize];
        long[] outOffsets = new long[rowSize];
        for (long r = 0; r < rows; r++) {
            double sum = 0;
            for (int i = 0; i < rowSize; i++, cur.next()) {
                x[i] = HostElements.getDouble(src, t, cur.offset(0));
                outOffsets[i] = cur.offset(1);
                sum += x[i];
            }
            double mean = node.kind() == NormNode.Kind.LAYER ? sum / rowSize : 0;
            double sq = 0;
            for (int i = 0; i < rowSize; i++) sq += (x[i] - mean) * (x[i] - mean);
            double inv = 1 / Math.sqrt(sq / rowSize + node.eps());
            for (int i = 0; i < rowSize; i++) {
                HostElements.setDouble(dst, t, outOffsets[i], (x[i] - mean) * inv * w[i] + b[i]);
            }
        }
    }

    /** All elements of {@code t} in row-major order as doubles, or {@code fill} repeated if t is null. */
    static double[] readAll(Tensor t, int n, double fill) {
        double[] v = new double[n];
        if (t == null) {
            java.util.Arrays.fill(v, fill);
            return v;
        }
        MemorySegment s = CpuBackend.segment(t);
        StridedCursor cur = new StridedCursor(t.shape(), t.layout());
        for (int i = 0; i < n; i++, cur.next()) v[i] = HostElements.getDouble(s, t.dtype(), cur.offset(0));
        return v;
    }
}
