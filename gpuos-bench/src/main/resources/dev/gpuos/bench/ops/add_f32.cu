// out = a + b over dense float32 operands; 16-byte vector accesses when the tile is 16-byte aligned.
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const gpuos_tensor_ref& b = task->refs[2];
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    const float* pb = (const float*)b.data;
    const bool aligned = ((out.data | a.data | b.data) & 15) == 0 && (begin & 3) == 0;
    if (aligned) {
        const long long vend = begin + ((end - begin) & ~3ll);
        for (long long i = begin + 4ll * threadIdx.x; i < vend; i += 4ll * blockDim.x) {
            float4 x = *(const float4*)(pa + i);
            float4 y = *(const float4*)(pb + i);
            *(float4*)(o + i) = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
        }
        for (long long i = vend + threadIdx.x; i < end; i += blockDim.x) o[i] = pa[i] + pb[i];
    } else {
        for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
            o[gpuos::offset_of(out, i)] = pa[gpuos::offset_of(a, i)] + pb[gpuos::offset_of(b, i)];
        }
    }
}
