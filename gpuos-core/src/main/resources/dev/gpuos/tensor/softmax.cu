// softmax / log_softmax of GT_T rows (floating dtypes), computed in double like the CPU backend.
// refs[0]: input viewed as [row dims..., len] (the softmax dim moved last); refs[1]: output, same view.
// args: 0 = 1 for log_softmax, 1 = 1 if a whole block handles each row else one warp per row, 2 = rows.
// tileSize = rows per tile. The max is NaN-sticky, so a row holding a NaN becomes all NaN, as on the CPU.

namespace {

__device__ __forceinline__ double nan_max(double p, double q) {
    if (p != p) return p;
    if (q != q) return q;
    return p > q ? p : q;
}

}  // namespace

GPUOS_OP {
    const gpuos_tensor_ref& in = task->refs[0];
    const gpuos_tensor_ref& out = task->refs[1];
    const GT_T* src = (const GT_T*)in.data;
    GT_T* dst = (GT_T*)out.data;
    const bool log = gpuos::arg_i64(task, 0) != 0;
    const long long rows = gpuos::arg_i64(task, 2);
    const int rd = in.ndim - 1;
    const long long len = in.sizes[rd];
    const long long sIn = in.strides[rd], sOut = out.strides[rd];
    const gt::Team team = gt::make_team(gpuos::arg_i64(task, 1) != 0);
    double* scratch = (double*)env->smem;
    long long begin, end;
    gt::tile_rows(task, tile, rows, &begin, &end);
    for (long long row = begin + team.index; row < end; row += team.count) {
        const long long bi = gt::offset_in(in, 0, rd, row), bo = gt::offset_in(out, 0, rd, row);
        double max = -__longlong_as_double(0x7ff0000000000000LL);
        for (long long i = team.lane; i < len; i += team.size) max = nan_max(max, gt::to_f64(src[bi + i * sIn]));
        max = gt::team_reduce(team, max, nan_max, scratch);
        double sum = 0;
        for (long long i = team.lane; i < len; i += team.size) sum += exp(gt::to_f64(src[bi + i * sIn]) - max);
        sum = gt::team_reduce(team, sum, [](double p, double q) { return p + q; }, scratch);
        const double logSum = ::log(sum);
        for (long long i = team.lane; i < len; i += team.size) {
            const double x = gt::to_f64(src[bi + i * sIn]) - max;
            dst[bo + i * sOut] = gt::from_f64<GT_T>(log ? x - logSum : exp(x) / sum);
        }
    }
}
