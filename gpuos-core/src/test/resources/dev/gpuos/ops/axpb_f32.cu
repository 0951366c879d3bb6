// out[i] = a[i % na] * alpha + beta, a read through its (possibly strided) view.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const float alpha = (float)gpuos::arg_f64(task, 0);
    const float beta = (float)gpuos::arg_f64(task, 1);
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        o[gpuos::offset_of(out, i)] = __fmul_rn(pa[gpuos::offset_of(a, i % a.numel)], alpha) + beta;
    }
}
