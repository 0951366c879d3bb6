// One GPUOS operator as a kernel of its own: the launch-per-op baseline. The block runs the operator body
// unchanged for tile blockIdx.x of the descriptor it is handed, exactly as a worker block would for that tile,
// so the baseline and the persistent worker execute the same code; only the way work reaches the GPU differs
// (one cuLaunchKernel per op here, a task in the queue there).
//
// The launch passes GPUOS_LAUNCH_SMEM_BYTES of dynamic shared memory (0 for operators that use none; the
// block reductions and matmul tiles of the tensor families need GpuBackend.MIN_SMEM_BYTES), and the operator
// is told that size, as the worker tells it the size it was launched with.
#ifndef GPUOS_LAUNCH_SMEM_BYTES
#error "define GPUOS_LAUNCH_SMEM_BYTES: the dynamic shared memory cuLaunchKernel passes to this kernel"
#endif
#include "gpuos_device.cuh"
#include "operator.cu"

extern "C" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS) gpuos_launch_one(const gpuos_task* task) {
    extern __shared__ __align__(16) unsigned char smem[];
    gpuos_env env;
    env.smem = smem;
    env.smemBytes = GPUOS_LAUNCH_SMEM_BYTES;
    env.generation = 0;
    GPUOS_OP_SYMBOL(task, blockIdx.x, &env);
}
