// Host harness for matmul.cu (MatmulHostTest): runs the operator's blocks as 256 std::threads each, with
// barriers for __syncthreads and for the warp shuffles, and the m16n8k16 tensor-core product computed from PTX's
// fragment layouts, so the unit and column bookkeeping, staging chunks, vector/element load choice and tails, the
// reductions and the fragment indexing are checked without a GPU. Cases come on stdin, one a line, planned by
// FamilyTasks.matmulPlan:
//   name nbat sAb sBb n k m sa0 sa1 sb0 sb1 offA offB path units span warpCols ntiles smemBytes
// Every output is compared with a double-precision product of the same stored values.
#include "block_host.h"
#include <atomic>

// The tensor-core product, defined after the operator (whose macros say the element type).
static void host_mma(float* d, const unsigned* a, const unsigned* b);

// M_MMA_ASYNC's primitives (cp.async, ldmatrix) on the host, in place of their PTX (GT_HOST_PRIMITIVES).
// A copy's destination is undefined from its issue until the thread's wait_group retires its group: the host
// fills it with a pattern at issue and lands the bytes only at that wait, so a fragment read before the wait and
// barrier, or a copy issued into a stage some warp still reads, shows up as wrong products.
#define GT_HOST_PRIMITIVES 1
struct HostCopy { unsigned char* dst; const unsigned char* src; int bytes; };
thread_local std::vector<HostCopy> hostOpen;                  // issued, not yet committed
thread_local std::vector<std::vector<HostCopy>> hostGroups;   // committed, oldest first
static std::atomic<long> hostCopiesInFlight{0}, hostPrimitiveFaults{0};
static void host_fault(const char* what, const void* p) {
    if (hostPrimitiveFaults++ < 5) printf("FAULT %s at %p (thread %u)\n", what, p, threadIdx.x);
}
static bool in_smem(const void* p, int len) {
    const unsigned char* c = (const unsigned char*)p;
    return c >= hostSmem && c + len <= hostSmem + hostSmemBytes;
}
static void cp_async16(void* dst, const void* src, int bytes) {
    if (((unsigned long long)dst & 15) || !in_smem(dst, 16)) host_fault("cp.async destination", dst);
    if (((unsigned long long)src & 15) || bytes < 0 || bytes > 16) host_fault("cp.async source", src);
    memset(dst, 0x7f, 16);   // bf16 0x7f7f = 3.4e38, f16 0x7f7f = NaN
    hostOpen.push_back({(unsigned char*)dst, (const unsigned char*)src, bytes});
    hostCopiesInFlight++;
}
static void cp_async_commit() {
    hostGroups.push_back(std::move(hostOpen));
    hostOpen.clear();
}
template <int N> static void cp_async_wait() {
    while (hostGroups.size() > (size_t)N) {
        for (const HostCopy& c : hostGroups.front()) {
            memcpy(c.dst, c.src, c.bytes);
            memset(c.dst + c.bytes, 0, 16 - c.bytes);
            hostCopiesInFlight--;
        }
        hostGroups.erase(hostGroups.begin());
    }
}
static const unsigned char* ldsmRows[8][32];
static void ldsm_x4(unsigned* r, const void* p) {
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if (((unsigned long long)p & 15) || !in_smem(p, 16)) host_fault("ldmatrix row", p);
    ldsmRows[w][l] = (const unsigned char*)p;
    warpBarrier[w]->arrive_and_wait();
    for (int i = 0; i < 4; ++i) memcpy(&r[i], ldsmRows[w][i * 8 + l / 4] + (l % 4) * 4, 4);
    warpBarrier[w]->arrive_and_wait();
}

#define GPUOS_OP static void matmul_op(const gpuos_task* task, unsigned int tile, const gpuos_env* env)
//@OPERATOR@

// mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32 over the lanes of the calling warp (g = lane / 4, t = lane % 4):
// a regs {row g, k 2t..}, {row g+8, k 2t..}, {row g, k 2t+8..}, {row g+8, k 2t+8..}; b regs {k 2t.., col g},
// {k 2t+8.., col g}; d {row g, col 2t, 2t+1}, {row g+8, ...}; the lower k of a pair in the low half.
static unsigned fragA[8][32][4], fragB[8][32][2];
inline float half_value(unsigned word, int high) {
    const unsigned bits = high ? word >> 16 : word & 0xffffu;
#if GT_DTYPE == GPUOS_DTYPE_BF16
    return __uint_as_float(bits << 16);
#else
    // IEEE half to float (normal, subnormal, zero, inf/NaN).
    const unsigned s = (bits >> 15) << 31, e = (bits >> 10) & 31, m = bits & 1023;
    if (e == 31) return __uint_as_float(s | 0x7f800000u | (m << 13));
    if (e == 0) { float f = std::ldexp((float)m, -24); return s ? -f : f; }
    return __uint_as_float(s | ((e + 112) << 23) | (m << 13));
#endif
}
static void host_mma(float* d, const unsigned* a, const unsigned* b) {
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    for (int i = 0; i < 4; ++i) fragA[w][l][i] = a[i];
    for (int i = 0; i < 2; ++i) fragB[w][l][i] = b[i];
    warpBarrier[w]->arrive_and_wait();
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < 4; ++i) {
        const int row = g + (i >= 2 ? 8 : 0), col = t * 2 + (i & 1);
        float acc = d[i];
        for (int kk = 0; kk < 16; ++kk) {
            const int aLane = (row % 8) * 4 + (kk % 8) / 2, aReg = (row >= 8 ? 1 : 0) + (kk >= 8 ? 2 : 0);
            const int bLane = col * 4 + (kk % 8) / 2, bReg = kk >= 8 ? 1 : 0;
            acc += half_value(fragA[w][aLane][aReg], kk & 1) * half_value(fragB[w][bLane][bReg], kk & 1);
        }
        d[i] = acc;
    }
    warpBarrier[w]->arrive_and_wait();
}


// ---- storage <-> double for the reference (inputs are multiples of 1/4 in [-2, 2]: exact in every dtype)
#if GT_DTYPE == GPUOS_DTYPE_BF16
static GT_T store(double x) { return gt::bf16_t{(unsigned short)(__float_as_uint((float)x) >> 16)}; }
static double load(GT_T v) { return __uint_as_float((unsigned)v.bits << 16); }
static const double RTOL = 1e-2;
#elif GT_DTYPE == GPUOS_DTYPE_F32 || GT_DTYPE == GPUOS_DTYPE_F64
static GT_T store(double x) { return (GT_T)x; }
static double load(GT_T v) { return (double)v; }
static const double RTOL = GT_DTYPE == GPUOS_DTYPE_F32 ? 1e-4 : 1e-9;
#else
static GT_T store(double x) { return (GT_T)(x * 4); }
static double load(GT_T v) { return (double)v; }
static const double RTOL = 0;
#endif


// The epilogue (bias, gelu, residual, cast; EPI_* in matmul.cu) over the product the plain task stored in c: the
// same task again with the epilogue's flags and its operand table, its value compared BIT FOR BIT with what the
// separate elementwise tasks compute from c (f32 add, ElementwiseOp.GELU's erfc form, f32 add, the cast's
// rounding), and the product it stores (EPI_PRODUCT) with c itself. Bias [m] with stride 2; residual
// [nbat, n, m] with padded rows.
static int check_epilogue(const char* name, const gpuos_task& plain, int epi, long long path, long long nbat,
                          long long n, long long k, long long m, long long sAb, long long sBb, long long sa0,
                          long long sa1, long long sb0, long long sb1, const std::vector<GT_T>& c, unsigned smemBytes,
                          std::mt19937& rng) {
#if GT_DTYPE == GPUOS_DTYPE_BF16 || GT_DTYPE == GPUOS_DTYPE_F16 || GT_DTYPE == GPUOS_DTYPE_F32
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    const long long total = nbat * n * m, rp = m + 3;
    std::vector<float> bias(2 * m), res(nbat * n * rp), valueF(total + 1, 0.0f);
    std::vector<GT_T> product(total + 1), valueT(total + 1);
    for (float& x : bias) x = u(rng);
    for (float& x : res) x = u(rng);
    memset(product.data(), 0, product.size() * sizeof(GT_T));
    memset(valueT.data(), 0, valueT.size() * sizeof(GT_T));
    auto ref3 = [](void* data, int dtype, long long s0, long long s1, long long s2, long long t0, long long t1, long long t2) {
        gpuos_tensor_ref r{};
        r.data = (unsigned long long)data;
        r.dtype = (unsigned char)dtype;
        r.ndim = 3;
        r.sizes[0] = (int)s0; r.sizes[1] = (int)s1; r.sizes[2] = (int)s2;
        r.strides[0] = t0; r.strides[1] = t1; r.strides[2] = t2;
        return r;
    };
    const bool cast = (epi & 16) != 0;
    gpuos_tensor_ref table[6];
    table[0] = plain.refs[0];
    table[1] = plain.refs[1];
    table[2] = ref3(product.data(), GT_DTYPE, nbat, n, m, n * m, m, 1);
    table[3] = cast ? ref3(valueT.data(), GT_DTYPE, nbat, n, m, n * m, m, 1)
                    : ref3(valueF.data(), GPUOS_DTYPE_F32, nbat, n, m, n * m, m, 1);
    table[4] = gpuos_tensor_ref{};
    table[4].data = (unsigned long long)bias.data();
    table[4].dtype = GPUOS_DTYPE_F32;
    table[4].ndim = 1;
    table[4].sizes[0] = (int)m;
    table[4].strides[0] = 2;
    table[5] = ref3(res.data(), GPUOS_DTYPE_F32, nbat, n, m, n * rp, rp, 1);
    gpuos_task task = plain;
    task.args[2] = (unsigned long long)(path | ((long long)epi << 8));
    task.refs[0].data = (unsigned long long)table;
    for (int i = 1; i < 4; ++i) task.refs[i] = gpuos_tensor_ref{};   // everything comes through the table
    run_blocks(task, matmul_op, smemBytes);
    int bad = 0;
    for (long long bi = 0; bi < nbat; ++bi)
        for (long long i = 0; i < n; ++i)
            for (long long j = 0; j < m; ++j) {
                const long long at = (bi * n + i) * m + j;
                float f = (float)GT_TO_ACC(c[at]);
                f = f + bias[2 * j];
                if (epi & 4) f = f * 0.5f * erfcf(-f * 0.70710678118654752440f);
                if (epi & 8) f = f + res[(bi * n + i) * rp + j];
                bool ok;
                if (cast) {
                    const GT_T want = GT_FROM_ACC<GT_T>((GT_ACC)f);
                    ok = memcmp(&want, &valueT[at], sizeof(GT_T)) == 0;
                } else {
                    ok = memcmp(&f, &valueF[at], sizeof(float)) == 0;
                }
                const GT_T zero{};
                const bool productOk = memcmp((epi & 1) ? &c[at] : &zero, &product[at], sizeof(GT_T)) == 0;
                if ((!ok || !productOk) && bad++ < 3) {
                    printf("FAIL %s epilogue %d nbat %lld n %lld k %lld m %lld path %lld: [%lld][%lld][%lld] value %g, "
                           "the separate tasks' %g; product %s\n", name, epi, nbat, n, k, m, path, bi, i, j,
                           cast ? (double)GT_TO_ACC(valueT[at]) : (double)valueF[at], (double)f,
                           productOk ? "ok" : "differs");
                }
            }
    return bad;
#else
    printf("FAIL %s: an epilogue on a non-float product\n", name);
    return 1;
#endif
}

int main() {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> quarter(-8, 8);
    char name[64];
    long long nbat, sAb, sBb, n, k, m, sa0, sa1, sb0, sb1, offA, offB, path, units, span, warpCols, ntiles, smemBytes;
    int cases = 0, failures = 0;
    while (scanf("%63s %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", name,
                 &nbat, &sAb, &sBb, &n, &k, &m, &sa0, &sa1, &sb0, &sb1, &offA, &offB, &path, &units, &span, &warpCols,
                 &ntiles, &smemBytes) == 19) {
        // arg 2's bits from 8 on: an epilogue (EPI_* in matmul.cu), run after the plain product (below)
        const int epi = (int)(path >> 8);
        path &= 255;
        const long long lenA = offA + (nbat - 1) * sAb + (n - 1) * sa0 + (k - 1) * sa1 + 1;
        const long long lenB = offB + (nbat - 1) * sBb + (k - 1) * sb0 + (m - 1) * sb1 + 1;
        // 64-byte aligned bases, like device allocations; a little slack past the end.
        GT_T* a = (GT_T*)aligned_alloc(64, ((lenA + 16) * sizeof(GT_T) + 63) / 64 * 64);
        GT_T* b = (GT_T*)aligned_alloc(64, ((lenB + 16) * sizeof(GT_T) + 63) / 64 * 64);
        // M_GEMV_GLU (path 5): c holds the unit's m / 2 values; the product goes to p where the name says "store"
        const bool glu = path == 5, storeProduct = glu && strstr(name, "store") != nullptr;
        std::vector<GT_T> c(nbat * n * m + 1), p(m + 1);
        for (long long i = 0; i < lenA + 16; ++i) a[i] = store(quarter(rng) / 4.0);
        for (long long i = 0; i < lenB + 16; ++i) b[i] = store(quarter(rng) / 4.0);
        gpuos_task task{};
        task.ntiles = (unsigned)ntiles;
        long long args[6] = {1, units, path, span, warpCols, storeProduct ? 1 : 0};
        for (int i = 0; i < 6; ++i) task.args[i] = (unsigned long long)args[i];
        if (storeProduct) task.refs[3].data = (unsigned long long)p.data();
        long long sizesA[3] = {nbat, n, k}, stridesA[3] = {sAb, sa0, sa1};
        long long sizesB[3] = {nbat, k, m}, stridesB[3] = {sBb, sb0, sb1};
        task.refs[0].data = (unsigned long long)(a + offA);
        task.refs[1].data = (unsigned long long)(b + offB);
        task.refs[2].data = (unsigned long long)c.data();
        for (int r = 0; r < 3; ++r) task.refs[r].ndim = 3;
        for (int d = 0; d < 3; ++d) {
            task.refs[0].sizes[d] = (int)sizesA[d]; task.refs[0].strides[d] = stridesA[d];
            task.refs[1].sizes[d] = (int)sizesB[d]; task.refs[1].strides[d] = stridesB[d];
        }
        // M_GEMV_NORM (path 6): x = cast(rms_norm(x0 + x1) * w) for k = H values, x0, w and the sum f32, x1 GT_T;
        // the operands in a table; "add", "sum" and "glu" in the name turn on those flags (the weight always)
        const bool norm = path == 6, normAdd = norm && strstr(name, "add"), normSum = norm && strstr(name, "sum"),
                   normGlu = norm && strstr(name, "glu");
        std::vector<float> x0(k), w(k), sum(k, 0.0f);
        std::vector<GT_T> x1(k);
        gpuos_tensor_ref table[7];
        if (norm) {
            for (long long i = 0; i < k; ++i) {
                x0[i] = quarter(rng) / 4.0f;
                x1[i] = store(quarter(rng) / 4.0);
                w[i] = (quarter(rng) + 9) / 8.0f;
            }
            auto ref = [](void* data, int dtype, long long len) {
                gpuos_tensor_ref r{};
                r.data = (unsigned long long)data;
                r.dtype = (unsigned char)dtype;
                r.ndim = 2;
                r.sizes[0] = 1; r.sizes[1] = (int)len;
                r.strides[0] = len; r.strides[1] = 1;
                return r;
            };
            table[0] = ref(x0.data(), GPUOS_DTYPE_F32, k);
            table[1] = task.refs[1];
            table[1].ndim = 2;
            table[1].sizes[0] = (int)k; table[1].sizes[1] = (int)m; table[1].strides[0] = sb0; table[1].strides[1] = sb1;
            table[2] = ref(c.data(), GT_DTYPE, normGlu ? m / 2 : m);
            table[3] = ref(p.data(), GT_DTYPE, m);
            table[4] = ref(x1.data(), GT_DTYPE, k);
            table[5] = ref(w.data(), GPUOS_DTYPE_F32, k);
            table[6] = ref(sum.data(), GPUOS_DTYPE_F32, k);
            task.refs[0].data = (unsigned long long)table;
            const double eps = 1e-5;
            unsigned long long epsBits;
            memcpy(&epsBits, &eps, 8);
            task.args[0] = epsBits;
            task.args[5] = (normGlu ? 1 : 0) | (normAdd ? 2 : 0) | (normSum ? 4 : 0) | 8 | (normGlu ? 16 : 0);
        }
        run_blocks(task, matmul_op, (unsigned)smemBytes);
        cases++;
        int epiFailures = 0;
        if (epi != 0) epiFailures = check_epilogue(name, task, epi, path, nbat, n, k, m, sAb, sBb, sa0, sa1, sb0, sb1, c,
                                                   (unsigned)smemBytes, rng);
        const double atol = RTOL * 16 * std::sqrt((double)k + 1);
        bool bad = false;
        if (hostCopiesInFlight != 0 || hostPrimitiveFaults != 0) {
            printf("FAIL %s: %ld copies never waited for, %ld faulting cp.async/ldmatrix addresses\n", name,
                   hostCopiesInFlight.load(), hostPrimitiveFaults.load());
            hostCopiesInFlight = 0;
            hostPrimitiveFaults = 0;
            bad = true;
        }
        if (norm) {
            std::vector<double> h(k);
            double sq = 0;
            for (long long i = 0; i < k; ++i) {
                const float v = normAdd ? x0[i] + (float)load(x1[i]) : x0[i];
                sq += (double)v * v;
                if (normSum && sum[i] != v) {
                    printf("FAIL %s: sum[%lld] = %g, expected %g\n", name, i, sum[i], v);
                    bad = true;
                }
                if (!normSum && sum[i] != 0) {
                    printf("FAIL %s: the sum was stored though not asked for\n", name);
                    bad = true;
                }
            }
            const double inv = 1.0 / std::sqrt(sq / (double)k + 1e-5);
            for (long long i = 0; i < k; ++i) {
                const float v = normAdd ? x0[i] + (float)load(x1[i]) : x0[i];
                h[i] = load(store((double)(float)((double)v * inv * w[i])));
            }
            auto dot = [&](long long j) {
                double r = 0;
                for (long long q = 0; q < k; ++q) r += h[q] * load(b[offB + q * sb0 + j * sb1]);
                return r;
            };
            const long long outs = normGlu ? m / 2 : m;
            for (long long j = 0; j < outs && !bad; ++j) {
                double ref = dot(j);
                if (normGlu) {
                    const double u = dot(j + outs);
                    ref = ref / (1 + std::exp(-ref)) * u;
                }
                const double got = load(c[j]);
                if (!(std::fabs(got - ref) <= atol + 3 * RTOL * std::fabs(ref))) {
                    printf("FAIL %s k %lld m %lld norm: out[%lld] = %g, expected %g\n", name, k, m, j, got, ref);
                    bad = true;
                }
            }
        }
        if (glu) {
            // silu(g) * u of the rounded halves: a relative error of the dtype's rounding, twice, and silu's
            const long long half = m / 2;
            auto dot = [&](long long j) {
                double ref = 0;
                for (long long q = 0; q < k; ++q) ref += load(a[offA + q * sa1]) * load(b[offB + q * sb0 + j * sb1]);
                return ref;
            };
            for (long long j = 0; j < half && !bad; ++j) {
                const double g = dot(j), u = dot(j + half), ref = g / (1 + std::exp(-g)) * u;
                const double got = load(c[j]);
                bool ok = std::fabs(got - ref) <= atol + 3 * RTOL * std::fabs(ref);
                if (storeProduct) {
                    ok = ok && std::fabs(load(p[j]) - g) <= atol + RTOL * std::fabs(g)
                            && std::fabs(load(p[j + half]) - u) <= atol + RTOL * std::fabs(u);
                }
                if (!ok) {
                    printf("FAIL %s k %lld m %lld glu: unit %lld = %g, expected %g (gate %g, up %g; stored %g %g)\n",
                           name, k, m, j, got, ref, g, u, storeProduct ? load(p[j]) : 0.0, storeProduct ? load(p[j + half]) : 0.0);
                    bad = true;
                }
            }
            if (!storeProduct) {
                for (long long j = 0; j < m && !bad; ++j) {
                    if (load(p[j]) != 0) {
                        printf("FAIL %s: the product was stored though not asked for\n", name);
                        bad = true;
                    }
                }
            }
        }
        for (long long bi = 0; !glu && !norm && bi < nbat && !bad; ++bi)
            for (long long i = 0; i < n && !bad; ++i)
                for (long long j = 0; j < m && !bad; ++j) {
                    double ref = 0;
                    for (long long q = 0; q < k; ++q)
                        ref += load(a[offA + bi * sAb + i * sa0 + q * sa1]) * load(b[offB + bi * sBb + q * sb0 + j * sb1]);
                    const double got = load(c[bi * n * m + i * m + j]);
                    if (!(std::fabs(got - ref) <= atol + RTOL * std::fabs(ref))) {
                        printf("FAIL %s nbat %lld n %lld k %lld m %lld path %lld: out[%lld][%lld][%lld] = %g, expected %g\n",
                               name, nbat, n, k, m, path, bi, i, j, got, ref);
                        bad = true;
                    }
                }
        failures += bad || epiFailures != 0;
        free(a);
        free(b);
    }
    printf("cases %d failures %d\n", cases, failures);
    return failures != 0;
}
