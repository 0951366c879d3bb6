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

    @Override
    public List<Tensor> inputs() { return List.of(); }
}
