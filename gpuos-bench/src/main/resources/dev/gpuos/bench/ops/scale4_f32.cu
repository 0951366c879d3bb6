// out[i] = a[i] * alpha, dense float32, 16-byte accesses when the tile is 16-byte aligned: one load and one store
// per thread for a 1024-element tile, as a CUDA kernel of one element per thread would do (scale_f32's loop
// cannot overlap its loads, since out may alias a). The dependent chain with it shows the hand-off itself.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const float alpha = (float)gpuos::arg_f64(task, 0);
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    long long i = begin;
    if (((out.data | a.data) & 15) == 0 && (begin & 3) == 0) {
        const long long vend = begin + ((end - begin) & ~3ll);
        for (long long v = begin + 4ll * threadIdx.x; v < vend; v += 4ll * blockDim.x) {
            const float4 x = *(const float4*)(pa + v);
            *(float4*)(o + v) = make_float4(x.x * alpha, x.y * alpha, x.z * alpha, x.w * alpha);
        }
        i = vend;
    }
    for (i += threadIdx.x; i < end; i += blockDim.x) o[i] = pa[i] * alpha;
}
