// Reductions (sum, prod, mean, max, min, argmax, argmin) of GT_T elements over trailing dims.
// refs[0]: the input viewed as [kept..., reduced...]; refs[1]: the output, contiguous, one element per group.
// args: 0 = op (ReduceOp ordinal), 1 = number of kept dims, 2 = 1 if a whole block reduces each group
// (long groups) else one warp per group, 3 = number of groups. tileSize = groups per tile.
// Floating inputs accumulate in double and round once (like the CPU backend); integers in 64 bits.
// max/min: NaN if any element is NaN. argmax/argmin: first index of the extremum, or of the first NaN.

namespace {

enum { R_SUM = 0, R_PROD = 1, R_MEAN = 2, R_MAX = 3, R_MIN = 4, R_ARGMAX = 5, R_ARGMIN = 6 };

template <typename T> __device__ __forceinline__ bool is_nan(T v) { return v != v; }

// Loads each lane keeps in flight in the one-reduced-dim loop.
constexpr int kDepth = 8;

// Accumulator of floating inputs (double) and of integral and BOOL inputs (long long).
template <bool FLOATING> struct Accum {
    typedef double type;
    static constexpr bool floating = true;
    static __device__ __forceinline__ double lowest() { return -__longlong_as_double(0x7ff0000000000000LL); }
    static __device__ __forceinline__ double highest() { return __longlong_as_double(0x7ff0000000000000LL); }
};
template <> struct Accum<false> {
    typedef long long type;
    static constexpr bool floating = false;
    static __device__ __forceinline__ long long lowest() { return -0x7fffffffffffffffLL - 1; }
    static __device__ __forceinline__ long long highest() { return 0x7fffffffffffffffLL; }
};
typedef Accum<GT_FLOATING> AccT;

template <typename Acc> __device__ __forceinline__ Acc load_acc(GT_T v);
template <> __device__ __forceinline__ double load_acc<double>(GT_T v) { return gt::to_f64(v); }
template <> __device__ __forceinline__ long long load_acc<long long>(GT_T v) { return gt::to_i64(v); }

template <typename Acc, int OP>
__device__ void reduce_groups(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const gpuos_tensor_ref& in = task->refs[0];
    const GT_T* src = (const GT_T*)in.data;
    const int kept = (int)gpuos::arg_i64(task, 1);
    const long long groups = gpuos::arg_i64(task, 3);
    const long long len = gt::extent(in, kept, in.ndim);
    const gt::Team team = gt::make_team(gpuos::arg_i64(task, 2) != 0);
    // One reduced dim (the usual case once dims are coalesced): its offset is a multiply, not a 64-bit
    // division per element.
    const bool oneDim = in.ndim - kept == 1;
    const long long rstride = oneDim ? in.strides[in.ndim - 1] : 0;
    auto roff = [&](long long r) -> long long { return oneDim ? r * rstride : gt::offset_in(in, kept, in.ndim, r); };
    long long begin, end;
    gt::tile_rows(task, tile, groups, &begin, &end);
    for (long long g = begin + team.index; g < end; g += team.count) {
        const long long base = gt::offset_in(in, 0, kept, g);
        if (OP == R_ARGMAX || OP == R_ARGMIN) {
            gt::Arg<Acc> a;
            a.v = 0;
            a.i = -1;
            // Lanes visit increasing indices, so the first hit of a lane is its smallest index.
            auto better = [](gt::Arg<Acc> p, gt::Arg<Acc> q) {
                if (p.i < 0) return q;
                if (q.i < 0) return p;
                const bool pn = is_nan(p.v), qn = is_nan(q.v);
                if (pn || qn) return (pn && qn) ? (p.i <= q.i ? p : q) : (pn ? p : q);
                if (OP == R_ARGMAX ? p.v > q.v : p.v < q.v) return p;
                if (OP == R_ARGMAX ? q.v > p.v : q.v < p.v) return q;
                return p.i <= q.i ? p : q;
            };
            long long r = team.lane;
            if (oneDim) {
                // kDepth loads in flight per lane, compared in the same order as one at a time (same result): the
                // decode step's argmax over a vocabulary of 128K logits is one block's loop of ~500 loads a lane,
                // which otherwise waits a memory latency for each.
                const GT_T* row = src + base;
                const long long step = team.size;
                for (; r + (kDepth - 1) * step < len; r += kDepth * step) {
                    GT_T v[kDepth];
#pragma unroll
                    for (int j = 0; j < kDepth; ++j) v[j] = row[(r + j * step) * rstride];
#pragma unroll
                    for (int j = 0; j < kDepth; ++j) {
                        gt::Arg<Acc> c;
                        c.v = load_acc<Acc>(v[j]);
                        c.i = r + j * step;
                        a = better(a, c);
                    }
                }
            }
            for (; r < len; r += team.size) {
                gt::Arg<Acc> c;
                c.v = load_acc<Acc>(src[base + roff(r)]);
                c.i = r;
                a = better(a, c);
            }
            a = gt::team_reduce_arg(team, a, better, (gt::Arg<Acc>*)env->smem);
            if (team.lane == 0) ((long long*)task->refs[1].data)[g] = a.i < 0 ? 0 : a.i;
        } else {
            Acc acc = OP == R_PROD ? Acc(1) : OP == R_MAX ? AccT::lowest() : OP == R_MIN ? AccT::highest() : Acc(0);
            auto combine = [](Acc p, Acc q) -> Acc {
                if (OP == R_SUM || OP == R_MEAN) return p + q;
                if (OP == R_PROD) return p * q;
                if (is_nan(p)) return p;
                if (is_nan(q)) return q;
                if (OP == R_MAX) return p > q ? p : q;
                return p < q ? p : q;
            };
            if (oneDim) {
                // kDepth loads in flight per lane before their values are combined, in the same order as one at a
                // time (results are bit for bit those of the plain loop): a lane's loads no longer wait on each
                // other's memory latency.
                const GT_T* row = src + base;
                const long long step = team.size;
                long long r = team.lane;
                for (; r + (kDepth - 1) * step < len; r += kDepth * step) {
                    GT_T v[kDepth];
#pragma unroll
                    for (int j = 0; j < kDepth; ++j) v[j] = row[(r + j * step) * rstride];
#pragma unroll
                    for (int j = 0; j < kDepth; ++j) acc = combine(acc, load_acc<Acc>(v[j]));
                }
                for (; r < len; r += step) acc = combine(acc, load_acc<Acc>(row[r * rstride]));
            } else {
                for (long long r = team.lane; r < len; r += team.size) {
                    acc = combine(acc, load_acc<Acc>(src[base + roff(r)]));
                }
            }
            acc = gt::team_reduce(team, acc, combine, (Acc*)env->smem);
            if (team.lane == 0) {
                if (AccT::floating) {
                    double v = (double)acc;
                    if (OP == R_MEAN) v = len == 0 ? __longlong_as_double(0x7ff8000000000000LL) : v / (double)len;
                    ((GT_T*)task->refs[1].data)[g] = gt::from_f64<GT_T>(v);
                } else if (OP == R_SUM || OP == R_PROD) {
                    ((long long*)task->refs[1].data)[g] = (long long)acc;
                } else {
                    ((GT_T*)task->refs[1].data)[g] = gt::from_i64<GT_T>((long long)acc);
                }
            }
        }
    }
}

template <typename Acc>
__device__ void reduce_dispatch(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    switch ((int)gpuos::arg_i64(task, 0)) {
        case R_SUM: reduce_groups<Acc, R_SUM>(task, tile, env); break;
        case R_PROD: reduce_groups<Acc, R_PROD>(task, tile, env); break;
        case R_MEAN: reduce_groups<Acc, R_MEAN>(task, tile, env); break;
        case R_MAX: reduce_groups<Acc, R_MAX>(task, tile, env); break;
        case R_MIN: reduce_groups<Acc, R_MIN>(task, tile, env); break;
        case R_ARGMAX: reduce_groups<Acc, R_ARGMAX>(task, tile, env); break;
        default: reduce_groups<Acc, R_ARGMIN>(task, tile, env); break;
    }
}

}  // namespace

GPUOS_OP {
    reduce_dispatch<AccT::type>(task, tile, env);
}
