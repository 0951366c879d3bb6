// Register-hungry on purpose: 192 values stay live through 6 mixing rounds, so uncapped it wants ~255
// registers. Under the worker's cap it spills to local memory and must still compute exactly:
//   v[k] = a[(i + 7k) % n];  6 rounds of  v[k] = fma(v[k], 0.25, 0.5 * v[(k + 1) % 192]);  out[i] = sum v[k]
#define HEAVY_N 192
GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    const gpuos_tensor_ref& a = task->refs[1];
    const long long n = a.numel;
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    float* o = (float*)out.data;
    const float* pa = (const float*)a.data;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float v[HEAVY_N];
#pragma unroll
        for (int k = 0; k < HEAVY_N; ++k) v[k] = pa[(i + 7ll * k) % n];
#pragma unroll
        for (int r = 0; r < 6; ++r) {
#pragma unroll
            for (int k = 0; k < HEAVY_N; ++k) v[k] = __fmaf_rn(v[k], 0.25f, 0.5f * v[(k + 1) % HEAVY_N]);
        }
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < HEAVY_N; ++k) s = __fadd_rn(s, v[k]);
        o[i] = s;
    }
}
