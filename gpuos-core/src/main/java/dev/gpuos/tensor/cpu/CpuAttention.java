package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.AttentionNode;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * CPU scaled dot-product attention: per query row, the scores (scaled, plus the bias) in double, softmax with
 * the row's maximum subtracted, then the weighted sum of the value rows, rounded once per output element. A row
 * whose scores are all -inf comes out NaN, as PyTorch's does.
 */
final class CpuAttention {
    private CpuAttention() {}

    static void attention(AttentionNode node) {
        Tensor q = node.query(), k = node.keys(), v = node.values(), b = node.bias(), out = node.output();
        int r = out.rank();
        int rows = Math.toIntExact(q.layout().size(r - 2)), e = Math.toIntExact(q.layout().size(r - 1));
        int s = Math.toIntExact(k.layout().size(r - 2)), ev = Math.toIntExact(v.layout().size(r - 1));
        long[] batchShape = Arrays.copyOf(out.shape(), r - 2);
        long batches = Layout.numel(batchShape);
        if (batches == 0 || rows == 0 || ev == 0) return;
        StridedCursor batch = new StridedCursor(batchShape, batchOnly(q.layout()), batchOnly(k.layout()),
                batchOnly(v.layout()), batchOnly((b != null ? b : q).layout()), batchOnly(out.layout()));
        MemorySegment qs = CpuBackend.segment(q), ks = CpuBackend.segment(k), vs = CpuBackend.segment(v),
                bs = b != null ? CpuBackend.segment(b) : null, os = CpuBackend.segment(out);
        DType t = q.dtype(), tv = v.dtype();
        long sq0 = q.layout().stride(r - 2), sq1 = q.layout().stride(r - 1);
        long sk0 = k.layout().stride(r - 2), sk1 = k.layout().stride(r - 1);
        long sv0 = v.layout().stride(r - 2), sv1 = v.layout().stride(r - 1);
        long sb0 = b != null ? b.layout().stride(r - 2) : 0, sb1 = b != null ? b.layout().stride(r - 1) : 0;
        long so0 = out.layout().stride(r - 2), so1 = out.layout().stride(r - 1);
        double[] query = new double[e], p = new double[s], acc = new double[ev];
        for (long bi = 0; bi < batches; bi++, batch.next()) {
            long oq = batch.offset(0), ok = batch.offset(1), ov = batch.offset(2), ob = batch.offset(3), oo = batch.offset(4);
            for (int i = 0; i < rows; i++) {
                for (int x = 0; x < e; x++) query[x] = HostElements.getDouble(qs, t, oq + i * sq0 + x * sq1);
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < s; j++) {
                    double dot = 0;
                    for (int x = 0; x < e; x++) dot += query[x] * HostElements.getDouble(ks, t, ok + j * sk0 + x * sk1);
                    p[j] = dot * node.scale() + (bs != null ? HostElements.getDouble(bs, t, ob + i * sb0 + j * sb1) : 0);
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < s; j++) sum += p[j] = Math.exp(p[j] - max);
                Arrays.fill(acc, 0);
                for (int j = 0; j < s; j++) {
                    for (int x = 0; x < ev; x++) acc[x] += p[j] * HostElements.getDouble(vs, tv, ov + j * sv0 + x * sv1);
                }
                for (int x = 0; x < ev; x++) HostElements.setDouble(os, tv, oo + i * so0 + x * so1, acc[x] / sum);
            }
        }
    }

    private static Layout batchOnly(Layout l) {
        int r = l.rank() - 2;
        return new Layout(Arrays.copyOf(l.shape(), r), Arrays.copyOf(l.strides(), r), l.offset());
    }
}
