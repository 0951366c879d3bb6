// Host harness for ElementwiseWalkHostTest: runs GENERATED elementwise operators' index walks on the CPU.
// A tile is run as the worker runs it, by one block of 256 threads; the threads run one after another, which
// is equivalent because an elementwise operator's threads share nothing. Random cases vary numel, tile size
// (multiples of the pack and not), per-operand storage offsets (aligned and not), broadcast and strided
// inputs, and an output that aliases its input (processing an element twice would then show). Every output
// element is checked, and every byte around each output view must be untouched.
//
// Usage: walk SEED CASES. Prints "cases N wide W" (W: cases where every operand allowed packs and the tile
// held at least one) or a FAIL line naming seed and case.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <vector>
#include "gpuos_device.cuh"

// The conversions the walked operators use, for the host (gpuos_tensor.cuh's are device code; what is under
// test here is the walk, gpuos_walk.cuh and the generated loops, not the conversions).
namespace gt {
struct bool_t { unsigned char v; };
inline float to_f32(float v) { return v; }
inline long long to_i64(int v) { return v; }
template <typename S> S from_f32(float v);
template <> inline float from_f32<float>(float v) { return v; }
template <> inline double from_f32<double>(float v) { return v; }
template <> inline bool_t from_f32<bool_t>(float v) { return bool_t{(unsigned char)(v != 0.0f)}; }
template <typename S> S from_f64(double v);
template <> inline double from_f64<double>(double v) { return v; }
template <typename S> S from_i64(long long v);
template <> inline int from_i64<int>(long long v) { return (int)v; }
inline double to_f64(double v) { return v; }
}  // namespace gt
//@WALK@
static struct { unsigned int x; } walk_thread, walk_block;
#define threadIdx walk_thread
#define blockDim walk_block
//@OPERATORS@
#undef threadIdx
#undef blockDim

typedef void (*OpFn)(const gpuos_task*, unsigned int, const gpuos_env*);
enum Kind { KF32, KF64, KI32, KBOOL };

struct Spec {
    const char* name;
    OpFn fn;
    int nin, nout;
    Kind in[2], out[2];
};

// The structures ElementwiseWalkHostTest renders, in its order.
static const Spec SPECS[] = {
    {"add f32", walk_op_0, 2, 1, {KF32, KF32}, {KF32, KF32}},
    {"add f64", walk_op_1, 2, 1, {KF64, KF64}, {KF64, KF64}},
    {"cast f32->f64", walk_op_2, 1, 1, {KF32, KF32}, {KF64, KF64}},
    {"eq f32->bool", walk_op_3, 2, 1, {KF32, KF32}, {KBOOL, KBOOL}},
    {"add i32", walk_op_4, 2, 1, {KI32, KI32}, {KI32, KI32}},
    {"mul,add f32", walk_op_5, 2, 2, {KF32, KF32}, {KF32, KF32}},
};
static const int NSPECS = sizeof(SPECS) / sizeof(SPECS[0]);

static void expect(int s, const double* in, double* out) {
    switch (s) {
        case 2: out[0] = in[0]; break;
        case 3: out[0] = in[0] == in[1] ? 1 : 0; break;
        case 5: out[0] = in[0] * in[1]; out[1] = out[0] + in[0]; break;
        default: out[0] = in[0] + in[1]; break;
    }
}

static int bytesOf(Kind k) { return k == KF64 ? 8 : k == KBOOL ? 1 : 4; }

static int codeOf(Kind k) {
    return k == KF32 ? GPUOS_DTYPE_F32 : k == KF64 ? GPUOS_DTYPE_F64 : k == KI32 ? GPUOS_DTYPE_I32 : GPUOS_DTYPE_BOOL;
}

static double get(Kind k, const unsigned char* p) {
    float f; double d; int i;
    switch (k) {
        case KF32: memcpy(&f, p, 4); return f;
        case KF64: memcpy(&d, p, 8); return d;
        case KI32: memcpy(&i, p, 4); return i;
        default: return p[0];
    }
}

static void put(Kind k, unsigned char* p, double v) {
    float f = (float)v; int i = (int)v;
    switch (k) {
        case KF32: memcpy(p, &f, 4); break;
        case KF64: memcpy(p, &v, 8); break;
        case KI32: memcpy(p, &i, 4); break;
        default: p[0] = v != 0; break;
    }
}

static uint64_t rng;
static uint64_t next() {  // splitmix64
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static long long below(long long n) { return (long long)(next() % (uint64_t)n); }

// One operand: its buffer (64-byte aligned, GUARD bytes of canary either side), element 0, stride.
struct Operand {
    std::vector<unsigned char> mem;
    unsigned char* base = nullptr;
    size_t bytes = 0;
    long long off = 0, stride = 1;  // elements
    bool broadcast = false;
    Kind kind = KF32;
    unsigned char* elem(long long i) const { return base + (off + (broadcast ? 0 : i * stride)) * bytesOf(kind); }
};
static const size_t GUARD = 64;

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: walk SEED CASES\n"); return 2; }
    const unsigned long long seed = strtoull(argv[1], 0, 10);
    const int cases = atoi(argv[2]);
    rng = seed;
    int wide = 0;
    for (int c = 0; c < cases; ++c) {
        const int s = (int)below(NSPECS);
        const Spec& sp = SPECS[s];
        const long long numel = below(4) == 0 ? below(40) : below(3000);
        const long long tileSize = below(3) == 0 ? 16 * (1 + below(80)) : 1 + below(300);
        const long long ntiles = numel == 0 ? 1 : (numel + tileSize - 1) / tileSize;
        const int n = sp.nin + sp.nout;
        Operand ops[4];
        int widest = 1;
        for (int r = 0; r < n; ++r) widest = widest > bytesOf(r < sp.nin ? sp.in[r] : sp.out[r - sp.nin]) ? widest
                : bytesOf(r < sp.nin ? sp.in[r] : sp.out[r - sp.nin]);
        const int V = 16 / widest;
        bool packs = numel > 0;
        bool inPlace = s == 0 && below(4) == 0;
        for (int r = 0; r < n; ++r) {
            Operand& o = ops[r];
            const bool input = r < sp.nin;
            o.kind = input ? sp.in[r] : sp.out[r - sp.nin];
            const long long roll = below(8);
            o.broadcast = input && roll == 0;
            o.stride = o.broadcast ? 0 : input && roll == 1 ? 2 : 1;
            o.off = below(2) == 0 ? 0 : below(8);
            const int es = bytesOf(o.kind);
            const long long span = o.broadcast ? 1 : numel == 0 ? 0 : (numel - 1) * o.stride + 1;
            o.bytes = (size_t)(o.off + span) * es;
            o.mem.resize(o.bytes + 2 * GUARD + 64);
            for (auto& b : o.mem) b = (unsigned char)next();
            o.base = (unsigned char*)(((uintptr_t)o.mem.data() + GUARD + 63) & ~(uintptr_t)63);
            if (input) {
                for (long long i = 0; i < (o.broadcast ? 1 : numel); ++i) {
                    put(o.kind, o.elem(i), o.kind == KI32 ? (double)(below(2001) - 1000) : (double)(below(33) - 16) * 0.25);
                }
            }
            if (r == 0) inPlace = inPlace && !o.broadcast && o.stride == 1;
        }
        if (inPlace) {
            Operand& out = ops[sp.nin];
            out.mem = std::vector<unsigned char>();
            out.base = ops[0].base; out.off = ops[0].off; out.bytes = ops[0].bytes;
        }
        for (int r = 0; r < n; ++r) {
            const Operand& o = ops[r];
            const bool aligned = ((uintptr_t)o.elem(0) & (uintptr_t)(V * bytesOf(o.kind) - 1)) == 0;
            packs = packs && (o.broadcast || (o.stride == 1 && aligned));
        }
        // Expected outputs, from the inputs as they are before the run (an in-place output overwrites one).
        std::vector<double> want((size_t)(numel * sp.nout));
        for (long long i = 0; i < numel; ++i) {
            double in[2], out[2];
            for (int k = 0; k < sp.nin; ++k) in[k] = get(ops[k].kind, ops[k].elem(i));
            expect(s, in, out);
            for (int m = 0; m < sp.nout; ++m) want[(size_t)(m * numel + i)] = out[m];
        }
        std::vector<std::vector<unsigned char>> before(n);
        for (int r = sp.nin; r < n; ++r) {
            before[r].assign(ops[r].base - GUARD, ops[r].base + ops[r].bytes + GUARD);
        }
        gpuos_task task;
        memset(&task, 0, sizeof task);
        task.ntiles = (unsigned int)ntiles;
        task.tileSize = (unsigned int)tileSize;
        task.nrefs = (unsigned char)n;
        for (int r = 0; r < n; ++r) {
            gpuos_tensor_ref& ref = task.refs[r];
            ref.data = (unsigned long long)(uintptr_t)ops[r].elem(0);
            ref.numel = numel;
            ref.dtype = (unsigned char)codeOf(ops[r].kind);
            ref.ndim = 1;
            ref.flags = ops[r].stride == 1 || numel <= 1 ? GPUOS_REF_CONTIGUOUS : 0;
            ref.sizes[0] = (int)numel;
            ref.strides[0] = ops[r].stride;
        }
        gpuos_env env;
        memset(&env, 0, sizeof env);
        for (long long t = 0; t < ntiles; ++t) {
            for (unsigned int th = 0; th < GPUOS_BLOCK_THREADS; ++th) {
                walk_thread.x = th;
                walk_block.x = GPUOS_BLOCK_THREADS;
                sp.fn(&task, (unsigned int)t, &env);
            }
        }
        if (packs && numel >= 2 * V) ++wide;
        for (int m = 0; m < sp.nout; ++m) {
            const Operand& o = ops[sp.nin + m];
            for (long long i = 0; i < numel; ++i) {
                const double got = get(o.kind, o.elem(i)), w = want[(size_t)(m * numel + i)];
                if (got != w) {
                    printf("FAIL seed %llu case %d %s numel %lld tile %lld: output %d element %lld is %g, want %g"
                           " (offsets %lld %lld %lld, broadcast %d %d, stride %lld %lld, in place %d)\n",
                           seed, c, sp.name, numel, tileSize, m, i, got, w, ops[0].off, ops[1].off, ops[2].off,
                           ops[0].broadcast, ops[1].broadcast, ops[0].stride, ops[1].stride, inPlace);
                    return 1;
                }
            }
            const unsigned char* now = o.base - GUARD;
            const size_t lo = GUARD + (size_t)o.off * bytesOf(o.kind), hi = lo + (size_t)numel * bytesOf(o.kind);
            for (size_t b = 0; b < before[sp.nin + m].size(); ++b) {
                if ((b < lo || b >= hi) && now[b] != before[sp.nin + m][b]) {
                    printf("FAIL seed %llu case %d %s numel %lld tile %lld: output %d byte %lld outside the view"
                           " changed\n", seed, c, sp.name, numel, tileSize, m, (long long)b - (long long)lo);
                    return 1;
                }
            }
        }
    }
    printf("cases %d wide %d\n", cases, wide);
    return 0;
}
