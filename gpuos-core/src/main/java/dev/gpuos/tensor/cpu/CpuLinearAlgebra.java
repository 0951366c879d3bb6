package dev.gpuos.tensor.cpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.MatmulNode;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * CPU matmul and index_select. Matmul packs each batch's operands into dense arrays (any strides in, one copy)
 * and multiplies in i-p-j order so the inner loop runs over contiguous memory. Floating types accumulate in
 * double and round once per output element; integers in I64 with wrap-around.
 */
final class CpuLinearAlgebra {
    private CpuLinearAlgebra() {}

    static void matmul(MatmulNode node) {
        Tensor a = node.a(), b = node.b(), out = node.output();
        int rank = out.rank();
        int n = Math.toIntExact(a.layout().size(rank - 2)), k = Math.toIntExact(a.layout().size(rank - 1));
        int m = Math.toIntExact(b.layout().size(rank - 1));
        long[] batchShape = Arrays.copyOf(out.shape(), rank - 2);
        long batches = Layout.numel(batchShape);
        if (batches == 0 || n == 0 || m == 0) return;
        StridedCursor batch = new StridedCursor(batchShape, batchOnly(a.layout()), batchOnly(b.layout()), batchOnly(out.layout()));
        MemorySegment as = CpuBackend.segment(a), bs = CpuBackend.segment(b), os = CpuBackend.segment(out);
        DType t = a.dtype();
        long sa0 = a.layout().stride(rank - 2), sa1 = a.layout().stride(rank - 1);
        long sb0 = b.layout().stride(rank - 2), sb1 = b.layout().stride(rank - 1);
        long so0 = out.layout().stride(rank - 2), so1 = out.layout().stride(rank - 1);
        if (t.isFloating()) {
            double[] pa = new double[n * k], pb = new double[k * m], pc = new double[n * m];
            for (long bi = 0; bi < batches; bi++, batch.next()) {
                long oa = batch.offset(0), ob = batch.offset(1), oc = batch.offset(2);
                for (int i = 0; i < n; i++) for (int p = 0; p < k; p++) pa[i * k + p] = HostElements.getDouble(as, t, oa + i * sa0 + p * sa1);
                for (int p = 0; p < k; p++) for (int j = 0; j < m; j++) pb[p * m + j] = HostElements.getDouble(bs, t, ob + p * sb0 + j * sb1);
                Arrays.fill(pc, 0);
                for (int i = 0; i < n; i++) {
                    for (int p = 0; p < k; p++) {
                        double av = pa[i * k + p];
                        int rowB = p * m, rowC = i * m;
                        for (int j = 0; j < m; j++) pc[rowC + j] += av * pb[rowB + j];
                    }
                }
                for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) HostElements.setDouble(os, t, oc + i * so0 + j * so1, pc[i * m + j]);
            }
        } else {
            long[] pa = new long[n * k], pb = new long[k * m], pc = new long[n * m];
            for (long bi = 0; bi < batches; bi++, batch.next()) {
                long oa = batch.offset(0), ob = batch.offset(1), oc = batch.offset(2);
                for (int i = 0; i < n; i++) for (int p = 0; p < k; p++) pa[i * k + p] = HostElements.getLong(as, t, oa + i * sa0 + p * sa1);
                for (int p = 0; p < k; p++) for (int j = 0; j < m; j++) pb[p * m + j] = HostElements.getLong(bs, t, ob + p * sb0 + j * sb1);
                Arrays.fill(pc, 0);
                for (int i = 0; i < n; i++) {
                    for (int p = 0; p < k; p++) {
                        long av = pa[i * k + p];
                        int rowB = p * m, rowC = i * m;
                        for (int j = 0; j < m; j++) pc[rowC + j] += av * pb[rowB + j];
                    }
                }
                for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) HostElements.setLong(os, t, oc + i * so0 + j * so1, pc[i * m + j]);
            }
        }
    }

    private static Layout batchOnly(Layout l) {
        int r = l.rank() - 2;
        return new Layout(Arrays.copyOf(l.shape(), r), Arrays.copyOf(l.strides(), r), l.offset());
    }

    static void indexSelect(IndexSelectNode node) {
        Tensor in = node.input(), index = node.index(), out = node.output();
        int dim = node.dim();
        long size = in.layout().size(dim);
        int count = Math.toIntExact(index.numel());
        long[] picks = new long[count];
        MemorySegment is = CpuBackend.segment(index);
        StridedCursor ic = new StridedCursor(index.shape(), index.layout());
        for (int i = 0; i < count; i++, ic.next()) {
            picks[i] = HostElements.getLong(is, index.dtype(), ic.offset(0));
            if (picks[i] < 0 || picks[i] >= size) {
                throw new IndexOutOfBoundsException("index_select: index " + picks[i] + " is out of range for dimension "
                        + dim + " of size " + size);
            }
        }
        if (out.numel() == 0) return;
        long[] gatherStrides = in.strides();
        long dimStride = gatherStrides[dim];
        gatherStrides[dim] = 0;
        Layout gather = new Layout(out.shape(), gatherStrides, in.storageOffset());
        StridedCursor cur = new StridedCursor(out.shape(), gather, out.layout());
        MemorySegment src = CpuBackend.segment(in), dst = CpuBackend.segment(out);
        DType t = in.dtype();
        long n = out.numel();
        for (long e = 0; e < n; e++, cur.next()) {
            long from = cur.offset(0) + picks[(int) cur.index(dim)] * dimStride;
            HostElements.setBits(dst, t, cur.offset(1), HostElements.getBits(src, t, from));
        }
    }
}
