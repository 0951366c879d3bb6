// out[i] = fma(i, beta, alpha) over the tile's elements (args: alpha, beta as doubles).
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const float alpha = (float)gpuos::arg_f64(task, 0);
    const float beta = (float)gpuos::arg_f64(task, 1);
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        o[gpuos::offset_of(out, i)] = __fmaf_rn((float)i, beta, alpha);
    }
}
