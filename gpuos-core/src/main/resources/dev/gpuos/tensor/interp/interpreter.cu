// The interpreter operator: runs the op program named by args[GPUOS_INTERP_PROGRAM_ARG] (a device address)
// over this tile's elements, or, for a REDUCE program, over this tile's groups (reduce.cu's task interface). The program is copied into shared memory once per tile; every thread then walks
// it for each of its elements (see gpuos_interp.cuh). Shared memory: GPUOS_INTERP_MAX_REGS words per thread,
// then the program; the host refuses to interpret when the worker offers less (TieredOperators).
//
// A task names either mapped host memory the host wrote before submitting it, or device memory a copy filled
// before the task was submitted (ProgramStore); program bytes are never rewritten, so plain loads see them.
namespace {

// reduce.cu's teams: a warp per group, or the whole block for long groups; combined as gt::team_reduce does.
template <typename Acc>
__device__ void reduce_tile(const gpuos_task* task, unsigned int tile, unsigned int op, unsigned int dtype, Acc* scratch) {
    const bool block = task->args[2] != 0;
    const unsigned int lane = block ? threadIdx.x : (threadIdx.x & 31u), size = block ? blockDim.x : 32u;
    const unsigned int index = block ? 0u : (threadIdx.x >> 5), count = block ? 1u : (blockDim.x >> 5);
    long long begin, end;
    gpuos::tile_range(task, tile, (long long)task->args[3], &begin, &end);
    for (long long g = begin + index; g < end; g += count) {
        Acc acc = gi::reduce_partial<Acc>(task, op, dtype, g, lane, size);
#pragma unroll
        for (int s = 16; s > 0; s >>= 1) acc = gi::reduce_combine<Acc>(op, acc, __shfl_xor_sync(0xffffffffu, acc, s));
        if (block) {
            const unsigned int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
            if ((threadIdx.x & 31u) == 0) scratch[warp] = acc;
            __syncthreads();
            Acc r = scratch[0];
            for (unsigned int w = 1; w < warps; ++w) r = gi::reduce_combine<Acc>(op, r, scratch[w]);
            __syncthreads();
            acc = r;
        }
        if (lane == 0) gi::reduce_store(task, op, dtype, g, acc);
    }
}

}  // namespace

GPUOS_OP {
    const unsigned int threads = blockDim.x;
    if (env->smemBytes < (GPUOS_INTERP_MAX_REGS * threads + GPUOS_INTERP_MAX_INSTRS + 32u) * 8u) return;
    unsigned long long* words = (unsigned long long*)env->smem;
    gi::instr* prog = (gi::instr*)(words + GPUOS_INTERP_MAX_REGS * threads);
    const gi::instr* program = (const gi::instr*)task->args[GPUOS_INTERP_PROGRAM_ARG];
    if (program == nullptr) return;
    const unsigned int n = gi::program_length(program[0]);
    for (unsigned int k = threadIdx.x; k < n; k += threads) prog[k] = program[k];
    __syncthreads();
    if (n >= 2 && prog[1].op == GPUOS_IOP_REDUCE) {
        const unsigned int op = prog[1].x, dtype = prog[1].y;
        unsigned long long* scratch = words + GPUOS_INTERP_MAX_REGS * threads + GPUOS_INTERP_MAX_INSTRS;
        if (gi::is_floating_dtype(dtype)) reduce_tile<double>(task, tile, op, dtype, (double*)scratch);
        else reduce_tile<long long>(task, tile, op, dtype, (long long*)scratch);
        return;
    }
    const gi::regs r{words + threadIdx.x, threads};
    const bool flat = gi::all_contiguous(task);
    long long begin, end;
    gpuos::tile_range(task, tile, task->refs[0].numel, &begin, &end);
    for (long long i = begin + threadIdx.x; i < end; i += threads) {
        long long o[GPUOS_MAX_REFS];
        gi::offsets(task, flat, i, o);
        gi::run_element(prog, n, r, task, o);
    }
}
