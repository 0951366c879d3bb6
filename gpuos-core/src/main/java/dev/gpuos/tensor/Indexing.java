package dev.gpuos.tensor;

import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.IndexSelectNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** index_select, embedding lookup and cat. */
final class Indexing {
    private Indexing() {}

    static Tensor indexSelect(Tensor t, int dim, Tensor index) {
        Dispatch.require("index_select", "index", index);
        Dispatch.commonBackend("index_select", t, index);
        if (index.dtype() != DType.I32 && index.dtype() != DType.I64) {
            throw new UnsupportedDTypeException("index_select needs an I32 or I64 index, got " + index.dtype());
        }
        if (index.rank() > 1) {
            throw new ShapeMismatchException("index_select needs a 0-D or 1-D index, got shape " + Arrays.toString(index.shape()));
        }
        if (t.rank() == 0) throw new ShapeMismatchException("index_select needs an input with at least one dimension");
        int d = Layout.normalizeDim(dim, t.rank());
        Tensor idx = index.rank() == 0 ? index.reshape(1) : index;
        long[] shape = t.shape();
        shape[d] = idx.numel();
        if (idx.numel() > 0 && t.size(d) == 0) {
            throw new IndexOutOfBoundsException("index_select from an empty dimension " + dim + " of " + t);
        }
        Tensor out = Dispatch.allocateResult(t, t.dtype(), shape);
        return Dispatch.submitFresh(new IndexSelectNode(t, d, idx, out));
    }

    static Tensor embedding(Tensor weight, Tensor indices) {
        Dispatch.require("embedding", "indices", indices);
        weight.ensureOpen();
        indices.ensureOpen();
        if (weight.rank() != 2) {
            throw new ShapeMismatchException("embedding needs a 2-D weight [vocab, dim], got " + Arrays.toString(weight.shape()));
        }
        long[] outShape = Arrays.copyOf(indices.shape(), indices.rank() + 1);
        outShape[indices.rank()] = weight.size(1);
        return indexSelect(weight, 0, indices.reshape(-1)).view(outShape);
    }

    static Tensor cat(int dim, List<Tensor> tensors) {
        Dispatch.require("cat", "tensors", tensors);
        for (int i = 0; i < tensors.size(); i++) Dispatch.require("cat", "tensor " + i + " of " + tensors.size(), tensors.get(i));
        if (tensors.isEmpty()) throw new IllegalArgumentException("cat needs at least one tensor");
        Tensor first = tensors.getFirst();
        Dispatch.commonBackend("cat", tensors.toArray(Tensor[]::new));
        int rank = first.rank();
        if (rank == 0) throw new ShapeMismatchException("cat: zero-dimensional tensors cannot be concatenated");
        int d = Layout.normalizeDim(dim, rank);
        long[] outShape = first.shape();
        outShape[d] = 0;
        DType dtype = first.dtype();
        for (Tensor t : tensors) {
            long[] s = t.shape();
            boolean fits = s.length == rank;
            for (int i = 0; fits && i < rank; i++) fits = i == d || s[i] == outShape[i];
            if (!fits) {
                throw new ShapeMismatchException("cat along dimension " + dim + ": shape " + Arrays.toString(s)
                        + " does not match " + Arrays.toString(first.shape()) + " outside that dimension");
            }
            outShape[d] += s[d];
            dtype = DType.promote(dtype, t.dtype());
        }
        Tensor out = Dispatch.allocateResult(first, dtype, outShape);
        List<ElementwiseNode> copies = new ArrayList<>();
        long offset = 0;
        for (Tensor t : tensors) {
            long len = t.size(d);
            if (len > 0) copies.add(ElementwiseOps.castInto(t, out.narrow(d, offset, len)));
            offset += len;
        }
        // All-or-nothing: check every copy before recording the first.
        try {
            for (ElementwiseNode n : copies) out.backend().checkSupported(n);
        } catch (RuntimeException e) {
            out.scope().discard(out.storage());
            throw e;
        }
        for (ElementwiseNode n : copies) Dispatch.submitInto(n);
        return out;
    }
}
