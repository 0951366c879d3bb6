/**
 * The GPU backend of the Tensor API: {@link dev.gpuos.tensor.gpu.GpuBackend} runs recorded op nodes as tasks of
 * one running {@link dev.gpuos.GpuOS} worker.
 *
 * <h2>From nodes to tasks</h2>
 * Nodes are recorded ({@link dev.gpuos.tensor.record.Recording}); each submission (a sync point, maxNodes
 * recorded, or maxAge, which cuts only where {@code StableCuts} says nothing fused changes) becomes ONE
 * {@link dev.gpuos.runtime.TaskBatch} ({@code BatchPlanner}):
 * <ul>
 *   <li>elementwise runs (casts, comparisons and where included) are fused by
 *       {@link dev.gpuos.tensor.fusion.ElementwiseFusion} and cut into tasks of at most 4 operands (memory
 *       inputs plus one stored output per member) and 6 scalar words; one task = one generated operator whose
 *       source depends only on the run's structure (ops, dtypes, operand wiring). Shapes, strides, offsets,
 *       scalars and op parameters travel in the task, so a structure compiles once for every shape;</li>
 *   <li>reductions, softmax/log_softmax, layer_norm/rms_norm, matmul/bmm, index_select/embedding and fills are
 *       one task each, of a hand-written operator family instantiated per dtype
 *       ({@code src/main/resources/dev/gpuos/tensor/*.cu}; each file's header comment is its refs/args
 *       contract);</li>
 *   <li>uploads are copied to the device before the batch is submitted when no task may still use the buffer,
 *       else staged and copied by a task in dependency order;</li>
 *   <li>dependency edges of the submission become task dependencies; work of earlier submissions is found
 *       per buffer (last writer, readers since); a task with more than 6 dependencies waits on join tasks.</li>
 * </ul>
 * Tiling: elementwise and fills at least 1024 elements per tile and at most 4096 tiles; row operations a warp
 * per row (short rows) or a whole block per row (long rows, or few rows); matmul one 64x64 output tile per
 * block iteration (F16/BF16 on tensor cores unless -Dgpuos.matmul.mma=false; with -Dgpuos.matmul.tensorCores=true,
 * k-contiguous ones staged by cp.async, and 17-32 rows in units of 8 or 16 columns: off until a GPU run has checked
 * them), or for at most 16 rows one run of output columns per block (about 264 runs, one pass over b;
 * -Dgpuos.matmul.skinny=false for tiles).
 *
 * <h2>Numerics</h2>
 * Conversions follow {@link dev.gpuos.tensor.HostElements} bit for bit (F16/BF16 round to nearest even, done
 * with PTX and integer ops: no cuda_fp16.h). Elementwise math runs in the op's compute type (F32 for F16/BF16/F32,
 * F64, or 64-bit integers) with CUDA's math functions, so transcendental results differ from the CPU's double
 * evaluation by a few ulp; reductions, softmax and norms accumulate in double like the CPU backend; matmul
 * accumulates F16/BF16/F32 in float, F64 in double, integers in 64 bits.
 *
 * <h2>Limits</h2>
 * Every node type and dtype is supported. A node is rejected at the call site
 * ({@link dev.gpuos.tensor.UnsupportedOnBackendException}, naming the op and "gpu") when an operand needs more
 * than 8 dimensions after coalescing or a dimension exceeds 2^31-1 elements. Index errors of index_select cannot
 * throw on the device; they are raised by the next sync point.
 */
package dev.gpuos.tensor.gpu;
