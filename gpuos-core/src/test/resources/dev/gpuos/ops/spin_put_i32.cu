// Spins args[1] nanoseconds on the GPU clock, then writes args[0] + 1 into out[args[0]]: a task slow enough for
// the host to outrun (chained by dependencies it runs one at a time), whose output proves it ran, and where.
GPUOS_OP {
    if (threadIdx.x == 0) {
        const unsigned long long until = gpuos::global_ns() + (unsigned long long)gpuos::arg_i64(task, 1);
        while (gpuos::global_ns() < until) {
            __nanosleep(256);
        }
        const long long i = gpuos::arg_i64(task, 0);
        ((int*)task->refs[0].data)[i] = (int)(i + 1);
    }
}
