// Fill patterns (dev.gpuos.tensor.op.FillPattern) into a GT_T view, element i being the i-th in row-major order.
// refs[0]: the output view. args: 0 = kind, 1..3 = pattern values (raw bits). tileSize = elements per tile.
// kinds: 0 constant (double), 1 constant (long), 2 arange (long start, long step), 3 arange (double start,
// double step), 4 uniform (seed, low, high), 5 normal (seed, mean, std).
// Products and sums use the _rn intrinsics so no FMA is contracted: the counter-based random patterns then
// give the CPU backend's values up to the last ulp of log/cos.

namespace {

__device__ __forceinline__ unsigned long long splitmix(unsigned long long seed, unsigned long long counter) {
    unsigned long long z = seed + (counter + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ double unit(unsigned long long h) { return (double)(h >> 11) * 0x1.0p-53; }

}  // namespace

GPUOS_OP {
    const gpuos_tensor_ref& out = task->refs[0];
    GT_T* dst = (GT_T*)out.data;
    const int kind = (int)gpuos::arg_i64(task, 0);
    const long long l1 = gpuos::arg_i64(task, 1), l2 = gpuos::arg_i64(task, 2);
    const double d1 = gpuos::arg_f64(task, 1), d2 = gpuos::arg_f64(task, 2), d3 = gpuos::arg_f64(task, 3);
    const unsigned long long seed = (unsigned long long)l1;
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        const long long o = gt::offset_in(out, 0, out.ndim, i);
        switch (kind) {
            case 0: dst[o] = gt::from_f64<GT_T>(d1); break;
            case 1: dst[o] = gt::from_i64<GT_T>(l1); break;
            case 2: dst[o] = gt::from_i64<GT_T>(l1 + i * l2); break;
            case 3: dst[o] = gt::from_f64<GT_T>(__dadd_rn(d1, __dmul_rn((double)i, d2))); break;
            case 4: {
                const double u = unit(splitmix(seed, (unsigned long long)i));
                dst[o] = gt::from_f64<GT_T>(__dadd_rn(d2, __dmul_rn(u, __dsub_rn(d3, d2))));
                break;
            }
            default: {
                const double u1 = (double)((splitmix(seed, 2ull * i) >> 11) + 1ull) * 0x1.0p-53;
                const double u2 = unit(splitmix(seed, 2ull * i + 1ull));
                const double r = __dmul_rn(d3, sqrt(__dmul_rn(-2.0, log(u1))));
                dst[o] = gt::from_f64<GT_T>(__dadd_rn(d2, __dmul_rn(r, cos(__dmul_rn(2.0 * 3.141592653589793, u2)))));
                break;
            }
        }
    }
}
