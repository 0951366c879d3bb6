// One GPUOS operator as a kernel of its own: the launch-per-op baseline. The block runs the operator body
// unchanged for tile blockIdx.x of the descriptor it is handed, exactly as a worker block would for that tile,
// so the baseline and the persistent worker execute the same code; only the way work reaches the GPU differs
// (one cuLaunchKernel per op here, a task in the queue there).
#include "gpuos_device.cuh"
#include "operator.cu"

extern "C" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS) gpuos_launch_one(const gpuos_task* task) {
    extern __shared__ __align__(16) unsigned char smem[];
    gpuos_env env;
    env.smem = smem;
    env.smemBytes = 0;  // the binary operators of W1 and W5 use no shared memory
    env.generation = 0;
    GPUOS_OP_SYMBOL(task, blockIdx.x, &env);
}
