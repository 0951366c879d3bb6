// The op-program interpreter core: runs one element of a bytecode program (see dev.gpuos.tensor.interp).
// Preceded by the GENERATED part (opcodes, op table evaluators; InterpreterSource.OPS_HEADER) and by
// gpuos_layout.cuh. Everything here is __host__ __device__, so the CI compiles it with nvcc into a HOST
// program and checks it against the CPU backend without a GPU (InterpreterHostTest).
//
// Warp-uniform by construction: every thread of the block walks the same instruction stream (the program is
// per task, the pc per element loop is the same for every thread), so every switch below is uniform; only the
// data differ. Virtual registers are 64-bit words in shared memory, [register][thread], indexed by the
// (uniform) register number: no local memory, no dynamic indexing of a register array.
//
// Conversions reproduce gpuos_tensor.cuh (gt::) bit for bit on the device (same PTX conversions); on the host
// they are written out in software with the same rounding (f16: round to nearest even; bf16: the integer form).

#define GPUOS_HD __host__ __device__ __forceinline__

namespace gi {

struct __align__(8) instr {
    unsigned char op, dst, a, b, c, x, y, z;
};

GPUOS_HD unsigned int f2u(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    unsigned int u; __builtin_memcpy(&u, &f, 4); return u;
#endif
}
GPUOS_HD float u2f(unsigned long long u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float((unsigned int)u);
#else
    unsigned int v = (unsigned int)u; float f; __builtin_memcpy(&f, &v, 4); return f;
#endif
}
GPUOS_HD unsigned long long d2u(double d) {
#ifdef __CUDA_ARCH__
    return (unsigned long long)__double_as_longlong(d);
#else
    unsigned long long u; __builtin_memcpy(&u, &d, 8); return u;
#endif
}
GPUOS_HD double u2d(unsigned long long u) {
#ifdef __CUDA_ARCH__
    return __longlong_as_double((long long)u);
#else
    double d; __builtin_memcpy(&d, &u, 8); return d;
#endif
}

// ---- f16 / bf16 (gt::h2f, gt::f2h, gt::bf2f, gt::f2bf)
GPUOS_HD float h2f(unsigned short h) {
#ifdef __CUDA_ARCH__
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    const unsigned int sign = (unsigned int)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        const float v = (float)mant * 5.9604644775390625e-8f;  // mant * 2^-24, exact
        return sign ? -v : v;
    }
    const unsigned int bits = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112u) << 23) | (mant << 13));
    return u2f(bits);
#endif
}

GPUOS_HD unsigned short f2h(float f) {
#ifdef __CUDA_ARCH__
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    const unsigned int x = f2u(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        if (ax < 0x33000000u) return (unsigned short)sign;
        const unsigned int m = (ax & 0x7fffffu) | 0x800000u, sh = 126u - (ax >> 23);
        unsigned int r = m >> sh;
        const unsigned int rem = m & ((1u << sh) - 1u), half = 1u << (sh - 1u);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return (unsigned short)(sign | r);
    }
    const unsigned int r = ax - 0x38000000u;
    return (unsigned short)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
#endif
}

GPUOS_HD float bf2f(unsigned short b) { return u2f(((unsigned int)b) << 16); }

GPUOS_HD unsigned short f2bf(float f) {
    const unsigned int bits = f2u(f);
    if (f != f) return (unsigned short)((bits >> 16) | 0x0040u);
    return (unsigned short)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// Float to 64-bit integer like Java: truncate, saturate, NaN -> 0. The device's cvt.rzi saturates (as gt::f2ll
// relies on); the host's conversion is undefined out of range, so it is saturated by hand.
GPUOS_HD long long f2ll(double v) {
#ifndef __CUDA_ARCH__
    if (v >= 9.2233720368547758e18) return 0x7fffffffffffffffll;
    if (v <= -9.2233720368547758e18) return (long long)0x8000000000000000ull;
#endif
    return v != v ? 0ll : (long long)v;
}
// Float to I32 like Java's (int) v and gt::f2i: saturate at the int range itself, NaN -> 0.
GPUOS_HD int f2i(double v) {
    return v != v ? 0 : v >= 2147483647.0 ? 2147483647 : v <= -2147483648.0 ? (int)0x80000000 : (int)v;
}
GPUOS_HD long long f2ll(float v) {
#ifndef __CUDA_ARCH__
    return f2ll((double)v);
#else
    return v != v ? 0ll : (long long)v;
#endif
}

// ---- element memory: raw bits of one element, zero-extended to 64 bits
GPUOS_HD unsigned long long load_raw(unsigned long long data, long long off, unsigned int dtype) {
    switch (dtype) {
        case GPUOS_DTYPE_F64: case GPUOS_DTYPE_I64: return ((const unsigned long long*)data)[off];
        case GPUOS_DTYPE_F32: case GPUOS_DTYPE_I32: return ((const unsigned int*)data)[off];
        case GPUOS_DTYPE_F16: case GPUOS_DTYPE_BF16: return ((const unsigned short*)data)[off];
        default: return ((const unsigned char*)data)[off];
    }
}

GPUOS_HD void store_raw(unsigned long long data, long long off, unsigned int dtype, unsigned long long v) {
    switch (dtype) {
        case GPUOS_DTYPE_F64: case GPUOS_DTYPE_I64: ((unsigned long long*)data)[off] = v; break;
        case GPUOS_DTYPE_F32: case GPUOS_DTYPE_I32: ((unsigned int*)data)[off] = (unsigned int)v; break;
        case GPUOS_DTYPE_F16: case GPUOS_DTYPE_BF16: ((unsigned short*)data)[off] = (unsigned short)v; break;
        default: ((unsigned char*)data)[off] = (unsigned char)v; break;
    }
}

// ---- storage -> compute (gt::to_f32 / to_f64 / to_i64, then gt::round_* to the operand type)
GPUOS_HD float raw_to_f32(unsigned long long r, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return u2f(r);
        case GPUOS_DTYPE_F64: return (float)u2d(r);
        case GPUOS_DTYPE_F16: return h2f((unsigned short)r);
        case GPUOS_DTYPE_BF16: return bf2f((unsigned short)r);
        case GPUOS_DTYPE_I32: return (float)(int)(unsigned int)r;
        case GPUOS_DTYPE_I64: return (float)(long long)r;
        default: return (r & 0xffu) != 0 ? 1.0f : 0.0f;
    }
}
GPUOS_HD double raw_to_f64(unsigned long long r, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return (double)u2f(r);
        case GPUOS_DTYPE_F64: return u2d(r);
        case GPUOS_DTYPE_F16: return (double)h2f((unsigned short)r);
        case GPUOS_DTYPE_BF16: return (double)bf2f((unsigned short)r);
        case GPUOS_DTYPE_I32: return (double)(int)(unsigned int)r;
        case GPUOS_DTYPE_I64: return (double)(long long)r;
        default: return (r & 0xffu) != 0 ? 1.0 : 0.0;
    }
}
GPUOS_HD long long raw_to_i64(unsigned long long r, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return f2ll(u2f(r));
        case GPUOS_DTYPE_F64: return f2ll(u2d(r));
        case GPUOS_DTYPE_F16: return f2ll(h2f((unsigned short)r));
        case GPUOS_DTYPE_BF16: return f2ll(bf2f((unsigned short)r));
        case GPUOS_DTYPE_I32: return (long long)(int)(unsigned int)r;
        case GPUOS_DTYPE_I64: return (long long)r;
        default: return (r & 0xffu) != 0 ? 1 : 0;
    }
}

// Register word of a compute value: f32 in the low 32 bits, f64 and i64 as their 64 bits.
GPUOS_HD unsigned long long to_compute(unsigned long long r, unsigned int storage, unsigned int opType,
                                       unsigned int compute) {
    switch (compute) {
        case GPUOS_ICOMPUTE_F32: {
            float v = raw_to_f32(r, storage);
            if (storage != opType && opType == GPUOS_DTYPE_F16) v = h2f(f2h(v));
            else if (storage != opType && opType == GPUOS_DTYPE_BF16) v = bf2f(f2bf(v));
            return f2u(v);
        }
        case GPUOS_ICOMPUTE_F64: return d2u(raw_to_f64(r, storage));
        default: {
            long long v = raw_to_i64(r, storage);
            if (storage != opType && opType == GPUOS_DTYPE_I32) v = (long long)(int)v;
            else if (storage != opType && opType == GPUOS_DTYPE_BOOL) v = v != 0 ? 1 : 0;
            return (unsigned long long)v;
        }
    }
}

// ---- compute -> storage (gt::from_f32 / from_f64 / from_i64)
GPUOS_HD unsigned long long from_f32(float v, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return f2u(v);
        case GPUOS_DTYPE_F64: return d2u((double)v);
        case GPUOS_DTYPE_F16: return f2h(v);
        case GPUOS_DTYPE_BF16: return f2bf(v);
        case GPUOS_DTYPE_I32: return (unsigned int)f2i(v);
        case GPUOS_DTYPE_I64: return (unsigned long long)f2ll(v);
        default: return v != 0.0f ? 1u : 0u;
    }
}
GPUOS_HD unsigned long long from_f64(double v, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return f2u((float)v);
        case GPUOS_DTYPE_F64: return d2u(v);
        case GPUOS_DTYPE_F16: return f2h((float)v);
        case GPUOS_DTYPE_BF16: return f2bf((float)v);
        case GPUOS_DTYPE_I32: return (unsigned int)f2i(v);
        case GPUOS_DTYPE_I64: return (unsigned long long)f2ll(v);
        default: return v != 0.0 ? 1u : 0u;
    }
}
GPUOS_HD unsigned long long from_i64(long long v, unsigned int s) {
    switch (s) {
        case GPUOS_DTYPE_F32: return f2u((float)v);
        case GPUOS_DTYPE_F64: return d2u((double)v);
        case GPUOS_DTYPE_F16: return f2h((float)v);
        case GPUOS_DTYPE_BF16: return f2bf((float)v);
        case GPUOS_DTYPE_I32: return (unsigned int)(int)v;
        case GPUOS_DTYPE_I64: return (unsigned long long)v;
        default: return v != 0 ? 1u : 0u;
    }
}
GPUOS_HD unsigned long long from_compute(unsigned long long r, unsigned int compute, unsigned int storage) {
    switch (compute) {
        case GPUOS_ICOMPUTE_F32: return from_f32(u2f(r), storage);
        case GPUOS_ICOMPUTE_F64: return from_f64(u2d(r), storage);
        default: return from_i64((long long)r, storage);
    }
}

// A scalar argument word to a compute value (the native code's gpuos::arg_f64 / arg_i64 and its casts).
GPUOS_HD unsigned long long arg_compute(unsigned long long word, unsigned int compute) {
    switch (compute) {
        case GPUOS_ICOMPUTE_F32: return f2u((float)u2d(word));
        case GPUOS_ICOMPUTE_F64: return word;
        default: return word;
    }
}

GPUOS_HD double param(const gpuos_task* task, unsigned int slot) {
    return slot < GPUOS_MAX_ARGS ? u2d(task->args[slot]) : 0.0;
}

GPUOS_HD long long pick(const long long (&o)[GPUOS_MAX_REFS], unsigned int k) {
    return k == 0 ? o[0] : k == 1 ? o[1] : k == 2 ? o[2] : o[3];
}

// Element offsets of flat index i in each operand (operands share the output's shape; broadcast ones have
// zero strides). Sizes and strides are read from the task, which the worker keeps in shared memory.
GPUOS_HD void offsets(const gpuos_task* task, bool flat, long long i, long long (&o)[GPUOS_MAX_REFS]) {
    const unsigned int nrefs = task->nrefs;
#pragma unroll
    for (int k = 0; k < GPUOS_MAX_REFS; ++k) o[k] = flat ? i : 0;
    if (flat) return;
    const int ndim = task->refs[0].ndim;
    long long rest = i;
    for (int d = ndim - 1; d >= 0; --d) {
        const long long size = task->refs[0].sizes[d];
        const long long c = d == 0 ? rest : rest % size;
        rest = d == 0 ? 0 : rest / size;
#pragma unroll
        for (int k = 0; k < GPUOS_MAX_REFS; ++k) {
            if ((unsigned int)k < nrefs) o[k] += c * task->refs[k].strides[d];
        }
    }
}

GPUOS_HD bool all_contiguous(const gpuos_task* task) {
    bool flat = true;
#pragma unroll
    for (int k = 0; k < GPUOS_MAX_REFS; ++k) {
        if ((unsigned int)k < task->nrefs) flat = flat && (task->refs[k].flags & GPUOS_REF_CONTIGUOUS);
    }
    return flat;
}

// Virtual registers: word r of this thread at base[r * stride] (device: shared memory, stride blockDim.x).
struct regs {
    unsigned long long* base;
    unsigned int stride;
    GPUOS_HD unsigned long long get(unsigned int r) const { return base[r * stride]; }
    GPUOS_HD void set(unsigned int r, unsigned long long v) const { base[r * stride] = v; }
};

// Number of instructions (header included) of a well-formed program, or 0.
GPUOS_HD unsigned int program_length(instr head) {
    const unsigned int n = head.a | ((unsigned int)head.b << 8);
    const bool ok = head.op == GPUOS_IOP_PROGRAM && head.z == GPUOS_INTERP_MAGIC && head.y == GPUOS_INTERP_VERSION
                    && head.dst <= GPUOS_INTERP_MAX_REGS && n >= 1 && n <= GPUOS_INTERP_MAX_INSTRS;
    return ok ? n : 0u;
}

// Runs instructions [1, n) of a program for the element at offsets o.
GPUOS_HD void run_element(const instr* prog, unsigned int n, const regs& r, const gpuos_task* task,
                          const long long (&o)[GPUOS_MAX_REFS]) {
#pragma unroll 1
    for (unsigned int pc = 1; pc < n; ++pc) {
        const instr in = prog[pc];
        switch (in.op) {
            case GPUOS_IOP_LOAD:
                r.set(in.dst, load_raw(task->refs[in.a].data, pick(o, in.a), in.x));
                break;
            case GPUOS_IOP_CVT:
                r.set(in.dst, to_compute(r.get(in.a), in.x, in.y, in.z));
                break;
            case GPUOS_IOP_ARG:
                r.set(in.dst, arg_compute(task->args[in.a], in.z));
                break;
            case GPUOS_IOP_EVAL_F32:
                r.set(in.dst, f2u(eval_f32(in.x, u2f(r.get(in.a)), u2f(r.get(in.b)), u2f(r.get(in.c)),
                                           param(task, in.y), param(task, in.z))));
                break;
            case GPUOS_IOP_EVAL_F64:
                r.set(in.dst, d2u(eval_f64(in.x, u2d(r.get(in.a)), u2d(r.get(in.b)), u2d(r.get(in.c)),
                                           param(task, in.y), param(task, in.z))));
                break;
            case GPUOS_IOP_EVAL_I64:
                r.set(in.dst, (unsigned long long)eval_i64(in.x, (long long)r.get(in.a), (long long)r.get(in.b),
                                                           (long long)r.get(in.c), param(task, in.y), param(task, in.z)));
                break;
            case GPUOS_IOP_STORE: {
                const unsigned long long v = from_compute(r.get(in.a), in.z, in.x);
                store_raw(task->refs[in.b].data, pick(o, in.b), in.x, v);
                r.set(in.dst, v);
                break;
            }
            case GPUOS_IOP_STORE_RAW: {
                const unsigned long long v = r.get(in.a);
                store_raw(task->refs[in.b].data, pick(o, in.b), in.x, v);
                r.set(in.dst, v);
                break;
            }
            default:
                break;
        }
    }
}


// ---- reductions: the task interface of reduce.cu (refs[0] = input viewed as [kept..., reduced...], refs[1] =
// flat output; args 0 = op, 1 = kept dims, 2 = whole-block teams, 3 = groups), one REDUCE instruction
// (x = op, y = input dtype). Lanes accumulate elements lane, lane + team size, ... and teams combine exactly
// as gt::team_reduce does, so results equal the native operator's bit for bit (same order of operations).
// Floating inputs accumulate in double, integers in 64 bits; max/min: NaN if any element is NaN.
enum { GI_R_SUM = 0, GI_R_PROD = 1, GI_R_MEAN = 2, GI_R_MAX = 3, GI_R_MIN = 4 };

GPUOS_HD bool is_floating_dtype(unsigned int d) {
    return d == GPUOS_DTYPE_F32 || d == GPUOS_DTYPE_F64 || d == GPUOS_DTYPE_F16 || d == GPUOS_DTYPE_BF16;
}

// Element offset of row-major index idx over dims [from, to) of a ref (gt::offset_in).
GPUOS_HD long long offset_in(const gpuos_tensor_ref& r, int from, int to, long long idx) {
    long long off = 0;
    for (int d = to - 1; d >= from; --d) {
        const long long size = r.sizes[d];
        off += (idx % size) * r.strides[d];
        idx /= size;
    }
    return off;
}

GPUOS_HD long long extent(const gpuos_tensor_ref& r, int from, int to) {
    long long n = 1;
    for (int d = from; d < to; ++d) n *= r.sizes[d];
    return n;
}

GPUOS_HD double acc_load(double*, unsigned long long raw, unsigned int dtype) { return raw_to_f64(raw, dtype); }
GPUOS_HD long long acc_load(long long*, unsigned long long raw, unsigned int dtype) { return raw_to_i64(raw, dtype); }

template <typename Acc> GPUOS_HD Acc acc_lowest();
template <> GPUOS_HD double acc_lowest<double>() { return -u2d(0x7ff0000000000000ull); }
template <> GPUOS_HD long long acc_lowest<long long>() { return (long long)0x8000000000000000ull; }
template <typename Acc> GPUOS_HD Acc acc_highest();
template <> GPUOS_HD double acc_highest<double>() { return u2d(0x7ff0000000000000ull); }
template <> GPUOS_HD long long acc_highest<long long>() { return 0x7fffffffffffffffll; }

template <typename Acc> GPUOS_HD Acc reduce_init(unsigned int op) {
    return op == GI_R_PROD ? Acc(1) : op == GI_R_MAX ? acc_lowest<Acc>() : op == GI_R_MIN ? acc_highest<Acc>() : Acc(0);
}

template <typename Acc> GPUOS_HD Acc reduce_combine(unsigned int op, Acc p, Acc q) {
    if (op == GI_R_SUM || op == GI_R_MEAN) return p + q;
    if (op == GI_R_PROD) return p * q;
    if (p != p) return p;
    if (q != q) return q;
    if (op == GI_R_MAX) return p > q ? p : q;
    return p < q ? p : q;
}

// This lane's partial result for group g.
template <typename Acc>
GPUOS_HD Acc reduce_partial(const gpuos_task* task, unsigned int op, unsigned int dtype, long long g, unsigned int lane,
                            unsigned int size) {
    const gpuos_tensor_ref& in = task->refs[0];
    const int kept = (int)task->args[1];
    const long long len = extent(in, kept, in.ndim);
    const long long base = offset_in(in, 0, kept, g);
    Acc acc = reduce_init<Acc>(op);
    for (long long r = lane; r < len; r += size) {
        acc = reduce_combine<Acc>(op, acc, acc_load((Acc*)0, load_raw(in.data, base + offset_in(in, kept, in.ndim, r), dtype), dtype));
    }
    return acc;
}

// Stores group g's result (reduce.cu's lane-0 store).
GPUOS_HD void reduce_store(const gpuos_task* task, unsigned int op, unsigned int dtype, long long g, double acc) {
    const gpuos_tensor_ref& in = task->refs[0];
    const long long len = extent(in, (int)task->args[1], in.ndim);
    double v = acc;
    if (op == GI_R_MEAN) v = len == 0 ? u2d(0x7ff8000000000000ull) : v / (double)len;
    store_raw(task->refs[1].data, g, dtype, from_f64(v, dtype));
}
GPUOS_HD void reduce_store(const gpuos_task* task, unsigned int op, unsigned int dtype, long long g, long long acc) {
    if (op == GI_R_SUM || op == GI_R_PROD) store_raw(task->refs[1].data, g, GPUOS_DTYPE_I64, (unsigned long long)acc);
    else store_raw(task->refs[1].data, g, dtype, from_i64(acc, dtype));
}

}  // namespace gi
