package dev.gpuos.tensor.op;

import dev.gpuos.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Copies host data into a contiguous output. {@code hostData} is a private copy, already encoded in the output
 * dtype (little-endian, contiguous), so the caller's array may change after the op returns.
 */
public record UploadNode(MemorySegment hostData, Tensor output) implements OpNode {
    @Override
    public String opName() { return "upload"; }

    /**
     * {@code hostData}, checked readable when the upload runs: a caller's segment (tensor(MemorySegment, ...)) whose
     * arena closed before then is an error saying so, not the JDK's bare "Already closed" from a flush.
     */
    public MemorySegment readableData() {
        if (!hostData.scope().isAlive()) throw dataClosed();
        return hostData;
    }

    /** Why an upload whose data's arena closed cannot run (batching backends skip it: see Skipped). */
    public IllegalStateException dataClosed() {
        return new IllegalStateException("the MemorySegment given to tensor(data, " + output.dtype() + ", "
                + java.util.Arrays.toString(output.shape()) + ") was closed before the upload read it: a batching "
                + "backend reads it as late as the next sync, so keep its arena open until then");
    }

    @Override
    public List<Tensor> inputs() { return List.of(); }
}
