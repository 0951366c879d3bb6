// layer_norm / rms_norm of GT_T rows (floating dtypes), statistics in double like the CPU backend.
// refs[0]: input viewed as [row dims..., normalized dims...]; refs[1]: output, same view;
// refs[2]: weight over the normalized dims (any floating dtype) or a placeholder; refs[3]: bias or placeholder.
// args: 0 = 1 for rms_norm, 1 = eps (double bits), 2 = number of row dims, 3 = has weight, 4 = has bias,
// 5 = 1 if a whole block handles each row else one warp per row. tileSize = rows per tile.
// y = (x - mean) / sqrt(var + eps) * w + b with the biased variance (mean = 0 for rms_norm).

GPUOS_OP {
    const gpuos_tensor_ref& in = task->refs[0];
    const gpuos_tensor_ref& out = task->refs[1];
    const gpuos_tensor_ref& weight = task->refs[2];
    const gpuos_tensor_ref& bias = task->refs[3];
    const GT_T* src = (const GT_T*)in.data;
    GT_T* dst = (GT_T*)out.data;
    const bool rms = gpuos::arg_i64(task, 0) != 0;
    const double eps = gpuos::arg_f64(task, 1);
    const int rd = (int)gpuos::arg_i64(task, 2);
    const bool hasWeight = gpuos::arg_i64(task, 3) != 0, hasBias = gpuos::arg_i64(task, 4) != 0;
    const gt::Team team = gt::make_team(gpuos::arg_i64(task, 5) != 0);
    const long long rows = gt::extent(in, 0, rd), len = gt::extent(in, rd, in.ndim);
    const int wd = in.ndim - rd;  // normalized dims; the weight and bias refs hold exactly these
    double* scratch = (double*)env->smem;
    auto add = [](double p, double q) { return p + q; };
    long long begin, end;
    gt::tile_rows(task, tile, rows, &begin, &end);
    for (long long row = begin + team.index; row < end; row += team.count) {
        const long long bi = gt::offset_in(in, 0, rd, row), bo = gt::offset_in(out, 0, rd, row);
        double mean = 0;
        if (!rms) {
            double sum = 0;
            for (long long i = team.lane; i < len; i += team.size) {
                sum += gt::to_f64(src[bi + gt::offset_in(in, rd, in.ndim, i)]);
            }
            mean = gt::team_reduce(team, sum, add, scratch) / (double)len;
        }
        double sq = 0;
        for (long long i = team.lane; i < len; i += team.size) {
            const double d = gt::to_f64(src[bi + gt::offset_in(in, rd, in.ndim, i)]) - mean;
            sq += d * d;
        }
        sq = gt::team_reduce(team, sq, add, scratch);
        const double inv = 1.0 / sqrt(sq / (double)len + eps);
        for (long long i = team.lane; i < len; i += team.size) {
            const double x = gt::to_f64(src[bi + gt::offset_in(in, rd, in.ndim, i)]);
            const double w = hasWeight ? gt::load_f64(weight, gt::offset_in(weight, 0, wd, i)) : 1.0;
            const double b = hasBias ? gt::load_f64(bias, gt::offset_in(bias, 0, wd, i)) : 0.0;
            dst[bo + gt::offset_in(out, rd, out.ndim, i)] = gt::from_f64<GT_T>((x - mean) * inv * w + b);
        }
    }
}
