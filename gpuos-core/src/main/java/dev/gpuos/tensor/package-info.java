/**
 * Tensors for GPUOS: a PyTorch-like API whose ops are recorded as nodes and run by a pluggable backend.
 *
 * <h2>Pipeline</h2>
 * A call such as {@code a.add(b)} on {@link dev.gpuos.tensor.Tensor} validates shapes and dtypes at the call
 * site (throwing before anything is allocated or recorded), allocates the output through
 * {@link dev.gpuos.tensor.Backend#allocate}, builds an {@link dev.gpuos.tensor.op.OpNode}, asks
 * {@link dev.gpuos.tensor.Backend#checkSupported} and hands the node to {@link dev.gpuos.tensor.Backend#submit}.
 * The CPU backend ({@link dev.gpuos.tensor.cpu.CpuBackend}) runs it at once or, in batched mode, records it in a
 * {@link dev.gpuos.tensor.record.Recording} that emits {@link dev.gpuos.tensor.record.Submission}s with
 * buffer-derived dependency edges (RAW, WAR, WAW). A GPU backend does the same and additionally groups
 * elementwise runs ({@link dev.gpuos.tensor.fusion.ElementwiseFusion}) into generated operators of the
 * persistent worker (see {@link dev.gpuos.tensor.gpu.GpuBackend}).
 *
 * <h2>One op definition</h2>
 * Every elementwise op is one constant of {@link dev.gpuos.tensor.op.ElementwiseOp}: name, arity, dtype rule,
 * CPU kernels and CUDA expression template. Other ops are node types whose records document their invariants.
 * A backend that lacks an op says so with {@link dev.gpuos.tensor.UnsupportedOnBackendException} from
 * {@code checkSupported}.
 *
 * <h2>Plugging in a backend</h2>
 * Implement {@link dev.gpuos.tensor.Backend} and {@link dev.gpuos.tensor.Storage}; either pass the backend to
 * {@link dev.gpuos.tensor.TensorScope#open(Backend)} or register a {@link dev.gpuos.tensor.BackendProvider}
 * with {@link java.util.ServiceLoader} so that {@link dev.gpuos.tensor.TensorScope#open()} prefers it.
 */
package dev.gpuos.tensor;
