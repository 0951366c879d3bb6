// The interpreter operator: runs the op program named by args[GPUOS_INTERP_PROGRAM_ARG] (a device address)
// over this tile's elements. The program is copied into shared memory once per tile; every thread then walks
// it for each of its elements (see gpuos_interp.cuh). Shared memory: GPUOS_INTERP_MAX_REGS words per thread,
// then the program; the host refuses to interpret when the worker offers less (TieredOperators).
//
// Program memory is written by a host copy that completed before the task naming it was submitted, and is
// never rewritten while a task may name it (ProgramStore), so plain loads see it.
GPUOS_OP {
    const unsigned int threads = blockDim.x;
    if (env->smemBytes < (GPUOS_INTERP_MAX_REGS * threads + GPUOS_INTERP_MAX_INSTRS) * 8u) return;
    unsigned long long* words = (unsigned long long*)env->smem;
    gi::instr* prog = (gi::instr*)(words + GPUOS_INTERP_MAX_REGS * threads);
    const gi::instr* program = (const gi::instr*)task->args[GPUOS_INTERP_PROGRAM_ARG];
    if (program == nullptr) return;
    const unsigned int n = gi::program_length(program[0]);
    for (unsigned int k = threadIdx.x; k < n; k += threads) prog[k] = program[k];
    __syncthreads();
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
