// out[i] = a[i % na] + b[i % nb]: inputs shorter than the output repeat.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const gpuos_tensor_ref& b = task->refs[2];
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    const float* pb = (const float*)b.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        o[gpuos::offset_of(out, i)] = pa[gpuos::offset_of(a, i % a.numel)] + pb[gpuos::offset_of(b, i % b.numel)];
    }
}
