// Device support for tensor operators: element types, conversions with the CPU backend's exact semantics,
// strided offsets and team (warp or block) reductions (elementwise walks: gpuos_walk.cuh). Prepended to every
// tensor operator source (the JIT only provides gpuos_device.cuh as a header), so it must stay header-only and
// free of includes: NVRTC gets no system headers, and cuda_fp16.h / cuda_bf16.h are not guaranteed to be there.
//
// Conversions follow dev.gpuos.tensor.HostElements: float to integer truncates toward zero and saturates at the
// target's own range, NaN gives 0 (like Java's casts and PyTorch on CUDA; cvt.rzi saturates, NaN is mapped to 0
// by hand: cvt.rzi.s64 gives INT64_MIN); to BOOL is "!= 0" (NaN is true); F16 and BF16 round to nearest even;
// doubles narrow to F16/BF16 through float, as c10::Half(double) does; integers narrowed to I32 wrap.

namespace gt {

struct f16_t { unsigned short bits; };
struct bf16_t { unsigned short bits; };
struct bool_t { unsigned char v; };

__device__ __forceinline__ float h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float bf2f(unsigned short b) { return __uint_as_float(((unsigned int)b) << 16); }

// Bit-for-bit dev.gpuos.tensor.BFloat16.fromFloat: round to nearest even; NaN keeps sign and top payload, quiet.
__device__ __forceinline__ unsigned short f2bf(float f) {
    const unsigned int bits = __float_as_uint(f);
    if (f != f) return (unsigned short)((bits >> 16) | 0x0040u);
    return (unsigned short)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// ---- storage -> compute type
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(double v) { return (float)v; }
__device__ __forceinline__ float to_f32(f16_t v) { return h2f(v.bits); }
__device__ __forceinline__ float to_f32(bf16_t v) { return bf2f(v.bits); }
__device__ __forceinline__ float to_f32(int v) { return (float)v; }
__device__ __forceinline__ float to_f32(long long v) { return (float)v; }
__device__ __forceinline__ float to_f32(bool_t v) { return v.v != 0 ? 1.0f : 0.0f; }

__device__ __forceinline__ double to_f64(float v) { return v; }
__device__ __forceinline__ double to_f64(double v) { return v; }
__device__ __forceinline__ double to_f64(f16_t v) { return h2f(v.bits); }
__device__ __forceinline__ double to_f64(bf16_t v) { return bf2f(v.bits); }
__device__ __forceinline__ double to_f64(int v) { return v; }
__device__ __forceinline__ double to_f64(long long v) { return (double)v; }
__device__ __forceinline__ double to_f64(bool_t v) { return v.v != 0 ? 1.0 : 0.0; }

// Float to 64-bit integer like Java: truncate, saturate, NaN -> 0 (PTX cvt.rzi.s64 gives INT64_MIN for NaN).
__device__ __forceinline__ long long f2ll(float v) { return v != v ? 0ll : (long long)v; }
__device__ __forceinline__ long long f2ll(double v) { return v != v ? 0ll : (long long)v; }
// Float to I32 like Java's (int) v: saturate at the int range itself (never through int64, whose saturated
// value would wrap), NaN -> 0. Clamped before the cast, so no out-of-range conversion is left to the compiler.
__device__ __forceinline__ int f2i(double v) {
    return v != v ? 0 : v >= 2147483647.0 ? 2147483647 : v <= -2147483648.0 ? (int)0x80000000 : (int)v;
}
__device__ __forceinline__ int f2i(float v) { return f2i((double)v); }
__device__ __forceinline__ long long to_i64(float v) { return f2ll(v); }
__device__ __forceinline__ long long to_i64(double v) { return f2ll(v); }
__device__ __forceinline__ long long to_i64(f16_t v) { return f2ll(h2f(v.bits)); }
__device__ __forceinline__ long long to_i64(bf16_t v) { return f2ll(bf2f(v.bits)); }
__device__ __forceinline__ long long to_i64(int v) { return v; }
__device__ __forceinline__ long long to_i64(long long v) { return v; }
__device__ __forceinline__ long long to_i64(bool_t v) { return v.v != 0 ? 1 : 0; }

// ---- rounding a compute value to a narrower operand type (HostElements.round)
__device__ __forceinline__ float round_f16(float v) { return h2f(f2h(v)); }
__device__ __forceinline__ float round_bf16(float v) { return bf2f(f2bf(v)); }
__device__ __forceinline__ long long round_i32(long long v) { return (long long)(int)v; }
__device__ __forceinline__ long long round_bool(long long v) { return v != 0 ? 1 : 0; }

// ---- compute type -> storage
template <typename S> __device__ __forceinline__ S from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ double from_f32<double>(float v) { return v; }
template <> __device__ __forceinline__ f16_t from_f32<f16_t>(float v) { return f16_t{f2h(v)}; }
template <> __device__ __forceinline__ bf16_t from_f32<bf16_t>(float v) { return bf16_t{f2bf(v)}; }
template <> __device__ __forceinline__ int from_f32<int>(float v) { return f2i(v); }
template <> __device__ __forceinline__ long long from_f32<long long>(float v) { return f2ll(v); }
template <> __device__ __forceinline__ bool_t from_f32<bool_t>(float v) { return bool_t{(unsigned char)(v != 0.0f)}; }

template <typename S> __device__ __forceinline__ S from_f64(double v);
template <> __device__ __forceinline__ float from_f64<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double from_f64<double>(double v) { return v; }
template <> __device__ __forceinline__ f16_t from_f64<f16_t>(double v) { return f16_t{f2h((float)v)}; }
template <> __device__ __forceinline__ bf16_t from_f64<bf16_t>(double v) { return bf16_t{f2bf((float)v)}; }
template <> __device__ __forceinline__ int from_f64<int>(double v) { return f2i(v); }
template <> __device__ __forceinline__ long long from_f64<long long>(double v) { return f2ll(v); }
template <> __device__ __forceinline__ bool_t from_f64<bool_t>(double v) { return bool_t{(unsigned char)(v != 0.0)}; }

template <typename S> __device__ __forceinline__ S from_i64(long long v);
template <> __device__ __forceinline__ float from_i64<float>(long long v) { return (float)v; }
template <> __device__ __forceinline__ double from_i64<double>(long long v) { return (double)v; }
template <> __device__ __forceinline__ f16_t from_i64<f16_t>(long long v) { return f16_t{f2h((float)v)}; }
template <> __device__ __forceinline__ bf16_t from_i64<bf16_t>(long long v) { return bf16_t{f2bf((float)v)}; }
template <> __device__ __forceinline__ int from_i64<int>(long long v) { return (int)v; }
template <> __device__ __forceinline__ long long from_i64<long long>(long long v) { return v; }
template <> __device__ __forceinline__ bool_t from_i64<bool_t>(long long v) { return bool_t{(unsigned char)(v != 0)}; }

// An operand whose dtype is only known at run time (norm weights, indices): read as double or long long.
__device__ __forceinline__ double load_f64(const gpuos_tensor_ref& r, long long off) {
    switch (r.dtype) {
        case GPUOS_DTYPE_F32: return to_f64(((const float*)r.data)[off]);
        case GPUOS_DTYPE_F16: return to_f64(((const f16_t*)r.data)[off]);
        case GPUOS_DTYPE_BF16: return to_f64(((const bf16_t*)r.data)[off]);
        case GPUOS_DTYPE_F64: return ((const double*)r.data)[off];
        case GPUOS_DTYPE_I32: return to_f64(((const int*)r.data)[off]);
        case GPUOS_DTYPE_I64: return to_f64(((const long long*)r.data)[off]);
        default: return to_f64(((const bool_t*)r.data)[off]);
    }
}

__device__ __forceinline__ long long load_i64(const gpuos_tensor_ref& r, long long off) {
    switch (r.dtype) {
        case GPUOS_DTYPE_I32: return ((const int*)r.data)[off];
        case GPUOS_DTYPE_I64: return ((const long long*)r.data)[off];
        default: return f2ll(load_f64(r, off));
    }
}

// Element offset of row-major index idx over dims [from, to) of a ref (sizes and strides of those dims).
__device__ __forceinline__ long long offset_in(const gpuos_tensor_ref& r, int from, int to, long long idx) {
    long long off = 0;
    for (int d = to - 1; d >= from; --d) {
        const long long size = r.sizes[d];
        off += (idx % size) * r.strides[d];
        idx /= size;
    }
    return off;
}

// Product of sizes[from, to).
__device__ __forceinline__ long long extent(const gpuos_tensor_ref& r, int from, int to) {
    long long n = 1;
    for (int d = from; d < to; ++d) n *= r.sizes[d];
    return n;
}

// ---- teams: the threads that reduce one row together, a warp (32 lanes) or the whole block.
struct Team {
    unsigned int lane;   // index within the team
    unsigned int size;   // 32 or blockDim.x
    unsigned int index;  // which team of the block
    unsigned int count;  // teams per block
    bool block;
};

__device__ __forceinline__ Team make_team(bool wholeBlock) {
    Team t;
    t.block = wholeBlock;
    if (wholeBlock) {
        t.lane = threadIdx.x; t.size = blockDim.x; t.index = 0; t.count = 1;
    } else {
        t.lane = threadIdx.x & 31u; t.size = 32; t.index = threadIdx.x >> 5; t.count = blockDim.x >> 5;
    }
    return t;
}

// Combines one value per team member; every member gets the result. In block mode every thread of the block
// must call it (it synchronizes); scratch holds at least 32 values and is free again when it returns.
template <typename T, typename F>
__device__ __forceinline__ T team_reduce(const Team& t, T v, F combine, T* scratch) {
#pragma unroll
    for (int s = 16; s > 0; s >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, s));
    if (!t.block) return v;
    const unsigned int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if ((threadIdx.x & 31u) == 0) scratch[warp] = v;
    __syncthreads();
    T r = scratch[0];
    for (unsigned int w = 1; w < warps; ++w) r = combine(r, scratch[w]);
    __syncthreads();
    return r;
}

// (value, index) pairs for argmax/argmin; index < 0 marks "no element yet".
template <typename T>
struct Arg {
    T v;
    long long i;
};

template <typename T, typename F>
__device__ __forceinline__ Arg<T> team_reduce_arg(const Team& t, Arg<T> a, F better, Arg<T>* scratch) {
#pragma unroll
    for (int s = 16; s > 0; s >>= 1) {
        Arg<T> o;
        o.v = __shfl_xor_sync(0xffffffffu, a.v, s);
        o.i = __shfl_xor_sync(0xffffffffu, a.i, s);
        a = better(a, o);
    }
    if (!t.block) return a;
    const unsigned int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if ((threadIdx.x & 31u) == 0) scratch[warp] = a;
    __syncthreads();
    Arg<T> r = scratch[0];
    for (unsigned int w = 1; w < warps; ++w) r = better(r, scratch[w]);
    __syncthreads();
    return r;
}

// Rows [begin, end) of this tile, spread over the block's teams. Team-uniform, so warps stay converged.
__device__ __forceinline__ void tile_rows(const gpuos_task* task, unsigned int tile, long long rows,
                                          long long* begin, long long* end) {
    gpuos::tile_range(task, tile, rows, begin, end);
}

}  // namespace gt
