// Batched matrix product of GT_T: out[b] = a[b] @ b[b], accumulated in GT_ACC (float for F32/F16/BF16,
// double for F64, long long with wrap-around for integers), rounded once on store.
// refs[0]: a viewed as [batch..., n, k]; refs[1]: b as [batch..., k, m] (any strides, zero for broadcast batch
// dims); refs[2]: out, contiguous [batch..., n, m]. args: 0 = number of batch dims, 1 = work units in all,
// 2 = path (M_TILED, M_SKINNY_K, M_SKINNY_M, M_MMA, M_GEMV, M_GEMV_GLU, M_MMA_ASYNC, M_MMA_ROWS), 3 = output
// columns per unit (skinny paths and M_GEMV; M_MMA_ROWS: 8-column tiles per unit), 4 = columns a warp takes at a
// time (M_SKINNY_K: 1 or 4; M_GEMV: 1, 2 or 4; M_GEMV_GLU: 1 or 2 gate/up pairs), 5 = M_GEMV_GLU only: whether
// the product is stored (refs[3]); M_GEMV_NORM (an rms_norm before the product, its operands in an operand table):
// see norm_prologue. Task tile t handles units t, t + ntiles, ...
// Arg 2's bits from 8 on are an epilogue (M_TILED and M_SKINNY_K only; see EPI_*): the product's elementwise
// successors computed on store, the operands then in an operand table.
//
// M_TILED, any shape: a unit is a 64x64 output tile (4x4 per thread) with 64x8 / 8x64 operand tiles staged in
// shared memory (8 KB of env->smem for 8-byte accumulators).
// M_MMA, F16/BF16 only: the same 64x64 units on tensor cores (mma.sync m16n8k16, f32 accumulation: products of
// two halves are exact in f32, so the contract is the tiled path's), operands staged 64x32 at a time, the next
// step's loads in flight while a step computes.
// M_MMA_ASYNC, F16/BF16 with both operands k-contiguous: M_MMA's units and fragments, operands staged by cp.async
// (16-byte chunks) several steps ahead and read with ldmatrix (see mma_async_tiles); falls back to M_MMA's code
// per task where the operands are not 16-byte aligned.
// M_MMA_ROWS, F16/BF16 with 17 to 32 rows, both operands k-contiguous: units of 8 or 16 columns, k split over the
// warps, fragments loaded straight from global memory (see mma_rows).
//
// The skinny paths (n <= 16 rows: decode, batch-1 inference, short prompts and sentences) are bound by reading b once: a unit is a run of
// output columns of one batch, all n rows at once, and the rows of a sit in shared memory as GT_ACC.
// M_SKINNY_K, b's k-stride is 1 (a transposed [m, k] weight, the HF Linear layout): each output column is a
// contiguous row of the weight; a warp streams it with 16-byte loads (element loads where a row is not
// 16-byte aligned), 8 loads in flight per lane, and reduces with shuffles. M_SKINNY_M, b's m-stride is 1
// (row-major [k, m]): lanes own consecutive columns (coalesced loads), the warps of the block split k and add
// their partial sums in shared memory.
// M_GEMV, one row of a (a decode step's x @ W^T) with k-stride 1 in both operands: nothing is staged. A warp
// takes C output columns at once (arg 4: 1, 2 or 4) and streams their weight rows with 16-byte loads, 16 of them
// in flight per lane (8 for one column), reading the matching 16 bytes of x from L1/L2 beside each; no barrier, so
// a long k (down's 8192) is one pass rather than chunks staged in turn, each behind two barriers.

namespace {

constexpr int BM = 64, BN = 64, BK = 8;

enum { M_TILED = 0, M_SKINNY_K = 1, M_SKINNY_M = 2, M_MMA = 3, M_GEMV = 4, M_GEMV_GLU = 5, M_GEMV_NORM = 6, M_MMA_ASYNC = 7,
       M_MMA_ROWS = 8 };

// Epilogue flags (arg 2 >> 8): the product's elementwise successors, done where the product is stored instead of
// in tasks of their own, with the separate tasks' roundings: the product rounded to GT_T as stored (and stored
// where EPI_PRODUCT says someone else reads it), widened to f32, then in f32: + bias[col] (EPI_BIAS), gelu in
// ElementwiseOp.GELU's erfc form (EPI_GELU), + residual[row][col] (EPI_RESIDUAL), stored as f32 or cast back to
// GT_T (EPI_CAST), each step one f32 operation as the elementwise task does it. Operand table: 0 = a, 1 = b,
// 2 = the product [batch..., n, m] (contiguous; where not stored, a placeholder), 3 = the value (contiguous like
// the product, F32 or GT_T), 4 = bias [m] (F32, any stride) or a placeholder, 5 = residual [batch..., n, m]
// (F32, any strides) or a placeholder.
enum { EPI_PRODUCT = 1, EPI_BIAS = 2, EPI_GELU = 4, EPI_RESIDUAL = 8, EPI_CAST = 16 };

__device__ __forceinline__ int epilogue_of(const gpuos_task* task) { return (int)(gpuos::arg_i64(task, 2) >> 8); }

__device__ __forceinline__ const gpuos_tensor_ref* refs_of(const gpuos_task* task) {
    return epilogue_of(task) != 0 ? (const gpuos_tensor_ref*)task->refs[0].data : task->refs;
}

struct MatmulView {
    const gpuos_tensor_ref& A;
    const gpuos_tensor_ref& B;
    const GT_T* a;
    const GT_T* b;
    GT_T* c;
    int nb;
    long long total, n, k, m, sa0, sa1, sb0, sb1;

    __device__ MatmulView(const gpuos_task* task) : MatmulView(task, task->refs, (int)gpuos::arg_i64(task, 0)) {}

    // R: the operands (inline, or the task's operand table); nb: batch dims (args 0 holds it where R is inline)
    __device__ MatmulView(const gpuos_task* task, const gpuos_tensor_ref* R, int batchDims)
        : A(R[0]), B(R[1]), a((const GT_T*)R[0].data), b((const GT_T*)R[1].data), c((GT_T*)R[2].data),
          nb(batchDims), total(gpuos::arg_i64(task, 1)) {
        n = A.sizes[nb];
        k = A.sizes[nb + 1];
        m = B.sizes[nb + 1];
        sa0 = A.strides[nb];
        sa1 = A.strides[nb + 1];
        sb0 = B.strides[nb];
        sb1 = B.strides[nb + 1];
    }
};

// Stores the product's value s at [batch][r][col] through the epilogue epi (see EPI_*).
__device__ __forceinline__ void put(const MatmulView& v, const gpuos_task* task, int epi, long long batch, long long r,
                                    long long col, GT_ACC s) {
    const long long at = (batch * v.n + r) * v.m + col;
    const GT_T p = GT_FROM_ACC<GT_T>(s);
    if ((epi & EPI_PRODUCT) != 0) v.c[at] = p;
#if GT_DTYPE == GPUOS_DTYPE_BF16 || GT_DTYPE == GPUOS_DTYPE_F16 || GT_DTYPE == GPUOS_DTYPE_F32
    const gpuos_tensor_ref* R = (const gpuos_tensor_ref*)task->refs[0].data;
    float f = (float)GT_TO_ACC(p);
    if (epi & EPI_BIAS) f = f + ((const float*)R[4].data)[col * R[4].strides[R[4].ndim - 1]];
    if (epi & EPI_GELU) f = f * 0.5f * erfcf(-f * 0.70710678118654752440f);
    if (epi & EPI_RESIDUAL) {
        const gpuos_tensor_ref& q = R[5];
        f = f + ((const float*)q.data)[gt::offset_in(q, 0, v.nb, batch) + r * q.strides[v.nb] + col * q.strides[v.nb + 1]];
    }
    if (epi & EPI_CAST) ((GT_T*)R[3].data)[at] = GT_FROM_ACC<GT_T>((GT_ACC)f);
    else ((float*)R[3].data)[at] = f;
#endif
}

template <bool EPI>
__device__ __noinline__ void tiled(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task, EPI ? refs_of(task) : task->refs, (int)gpuos::arg_i64(task, 0));
    const long long n = v.n, k = v.k, m = v.m, sa0 = v.sa0, sa1 = v.sa1, sb0 = v.sb0, sb1 = v.sb1;
    const long long tilesN = (n + BM - 1) / BM, tilesM = (m + BN - 1) / BN;
    GT_ACC* As = (GT_ACC*)env->smem;  // [BK][BM]
    GT_ACC* Bs = As + BK * BM;         // [BK][BN]
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    // Consecutive threads stage consecutive elements along each operand's unit-stride dim where it has one (a row
    // of x along k; a transposed weight, the HF Linear layout, along k too), so a warp's loads are coalesced.
    const bool aRows = sa1 == 1 || sa0 != 1, bCols = !(sb0 == 1 && sb1 != 1);
    for (long long t = tile; t < v.total; t += task->ntiles) {
        const long long batch = t / (tilesN * tilesM);
        const long long rest = t % (tilesN * tilesM);
        const long long row0 = (rest / tilesM) * BM, col0 = (rest % tilesM) * BN;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch), ob = gt::offset_in(v.B, 0, v.nb, batch);
        GT_ACC acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = 0;
        for (long long k0 = 0; k0 < k; k0 += BK) {
            for (int e = threadIdx.x; e < BK * BM; e += blockDim.x) {
                const int r = aRows ? e / BK : e % BM, kk = aRows ? e % BK : e / BM;
                const long long gr = row0 + r, gk = k0 + kk;
                As[kk * BM + r] = gr < n && gk < k ? GT_TO_ACC(v.a[oa + gr * sa0 + gk * sa1]) : (GT_ACC)0;
            }
            for (int e = threadIdx.x; e < BK * BN; e += blockDim.x) {
                const int kk = bCols ? e / BN : e % BK, cc = bCols ? e % BN : e / BK;
                const long long gk = k0 + kk, gc = col0 + cc;
                Bs[kk * BN + cc] = gk < k && gc < m ? GT_TO_ACC(v.b[ob + gk * sb0 + gc * sb1]) : (GT_ACC)0;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                GT_ACC av[4], bv[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) av[i] = As[kk * BM + ty + 16 * i];
#pragma unroll
                for (int j = 0; j < 4; ++j) bv[j] = Bs[kk * BN + tx + 16 * j];
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
            }
            __syncthreads();
        }
        GT_T* out = v.c + batch * n * m;
        const int epi = EPI ? epilogue_of(task) : 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const long long r = row0 + ty + 16 * i;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const long long col = col0 + tx + 16 * j;
                if (r >= n || col >= m) continue;
                if constexpr (EPI) put(v, task, epi, batch, r, col, acc[i][j]);
                else out[r * m + col] = GT_FROM_ACC<GT_T>(acc[i][j]);
            }
        }
    }
}

#if GT_DTYPE == GPUOS_DTYPE_BF16 || GT_DTYPE == GPUOS_DTYPE_F16
// k per staged step: 64 rows x 32 halves of each operand, 8 KB in all (the shared memory every worker block
// offers). A shared row is 16 words; word w of row r lives at w ^ swz(r), so the 8 rows x 4 words one fragment
// load touches fall in 32 distinct banks (rows alternate halves of the 32 banks, swz spreads 4 row pairs).
constexpr int MK = 32;
// Elements of each operand a thread stages per step: the worker's blocks are 256 threads (Layouts.BLOCK_THREADS),
// 8 warps of 32 lanes, one k offset a lane.
constexpr int MT = 256, PER = BM * MK / MT;
static_assert(MK == 32 && MT / 32 == 8 && PER == BM / 8, "mma_load's thread mapping: lane = k offset, rows 8 apart");

__device__ __forceinline__ int swz(int r) { return ((r >> 1) & 3) << 2; }
__device__ __forceinline__ int word_at(int r, int w) { return r * (MK / 2) + (w ^ swz(r)); }

__device__ __forceinline__ void mma16816(float* d, const unsigned int* a, const unsigned int* b) {
#if GT_DTYPE == GPUOS_DTYPE_BF16
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#endif
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Where a thread's staged elements come from: thread x takes k offset x % 32 of rows x / 32 + 8i (i < PER), so
// consecutive lanes take consecutive k (coalesced for k-contiguous operands: x, a transposed weight) and a
// thread's rows are one pointer stepped by 8 rows; a step moves the pointers MK along k.
struct MmaFeed {
    const GT_T* pa;
    const GT_T* pb;
    long long stepA, stepB, nextA, nextB, rowsLeft, colsLeft, kLeft;

    __device__ MmaFeed(const MatmulView& v, long long oa, long long ob, long long row0, long long col0) {
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        pa = v.a + oa + (row0 + warp) * v.sa0 + lane * v.sa1;
        pb = v.b + ob + lane * v.sb0 + (col0 + warp) * v.sb1;
        stepA = 8 * v.sa0;
        stepB = 8 * v.sb1;
        nextA = MK * v.sa1;
        nextB = MK * v.sb0;
        rowsLeft = v.n - row0 - warp;
        colsLeft = v.m - col0 - warp;
        kLeft = v.k - lane;   // this lane's k offset is inside the operands while kLeft > 0
    }

    // The step's elements into registers (zero outside the operands), then the pointers to the next step. All
    // PER loads of both operands are independent, so they are in flight together.
    __device__ __forceinline__ void load(unsigned short* ra, unsigned short* rb) {
        const GT_T* qa = pa;
        const GT_T* qb = pb;
#pragma unroll
        for (int i = 0; i < PER; ++i) {
            ra[i] = kLeft > 0 && 8 * i < rowsLeft ? qa->bits : (unsigned short)0;
            rb[i] = kLeft > 0 && 8 * i < colsLeft ? qb->bits : (unsigned short)0;
            qa += stepA;
            qb += stepB;
        }
        pa += nextA;
        pb += nextB;
        kLeft -= MK;
    }
};

// 8 warps as 4 x 2: a warp computes 16 rows x 32 columns of the unit's 64x64 tile (4 mma of 16x8 per k16).
// Fragment layouts are PTX's for m16n8k16 (g = lane / 4, t = lane % 4): a holds rows g and g + 8, k pairs
// 2t and 2t + 8; b holds column g, k pairs 2t and 2t + 8; d holds rows g and g + 8, columns 2t and 2t + 1.
// The next step's elements are loaded into registers while this step's products run.
__device__ __noinline__ void mma_tiles(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task);
    const long long n = v.n, k = v.k, m = v.m;
    const long long tilesN = (n + BM - 1) / BM, tilesM = (m + BN - 1) / BN;
    unsigned short* As = (unsigned short*)env->smem;  // [64 rows][MK], k contiguous, swizzled words
    unsigned short* Bs = As + BM * MK;                 // [64 columns][MK], likewise
    const unsigned int* Aw = (const unsigned int*)As;
    const unsigned int* Bw = (const unsigned int*)Bs;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tg = lane & 3;
    const int wr = (warp >> 1) * 16, wc = (warp & 1) * 32;
    for (long long t = tile; t < v.total; t += task->ntiles) {
        const long long batch = t / (tilesN * tilesM);
        const long long rest = t % (tilesN * tilesM);
        const long long row0 = (rest / tilesM) * BM, col0 = (rest % tilesM) * BN;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch), ob = gt::offset_in(v.B, 0, v.nb, batch);
        float acc[4][4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[j][i] = 0.0f;
        MmaFeed feed(v, oa, ob, row0, col0);
        unsigned short ra[PER], rb[PER];
        feed.load(ra, rb);
        for (long long k0 = 0; k0 < k; k0 += MK) {
            __syncthreads();  // the previous step's fragments are read
            // row warp + 8i, k offset lane: the swizzle of rows 8 apart is the same
            const int at = word_at(warp, lane >> 1) * 2 + (lane & 1);
#pragma unroll
            for (int i = 0; i < PER; ++i) {
                As[at + i * 8 * MK] = ra[i];
                Bs[at + i * 8 * MK] = rb[i];
            }
            __syncthreads();
            if (k0 + MK < k) feed.load(ra, rb);
#pragma unroll
            for (int s = 0; s < MK / 16; ++s) {
                const int w0 = s * 8 + tg;
                unsigned int af[4];
                af[0] = Aw[word_at(wr + g, w0)];
                af[1] = Aw[word_at(wr + g + 8, w0)];
                af[2] = Aw[word_at(wr + g, w0 + 4)];
                af[3] = Aw[word_at(wr + g + 8, w0 + 4)];
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = wc + j * 8 + g;
                    unsigned int bf[2];
                    bf[0] = Bw[word_at(col, w0)];
                    bf[1] = Bw[word_at(col, w0 + 4)];
                    mma16816(acc[j], af, bf);
                }
            }
        }
        GT_T* out = v.c + batch * n * m;
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const long long r = row0 + wr + g + (i >= 2 ? 8 : 0), col = col0 + wc + j * 8 + tg * 2 + (i & 1);
                if (r < n && col < m) out[r * m + col] = GT_FROM_ACC<GT_T>(acc[j][i]);
            }
    }
}

// ---- M_MMA_ASYNC (-Dgpuos.matmul.tensorCores=true): the 64x64 units of M_MMA, with both operands k-contiguous
// (x @ W^T with W the HF Linear layout [out, in]; activations row-major) staged by cp.async in 16-byte chunks
// into a ring of stages in env->smem, fragments read with ldmatrix. M_MMA moves 2 bytes a load through registers
// and has one step in flight; here a thread issues two 16-byte copies a step that land while earlier steps
// compute, S - 1 steps ahead (S = the stages env->smem holds: 2 in the worker's default 16 KB, up to 4).
// Operands the copies cannot take (a base or a row, column or batch stride off 16 bytes, less than 16 KB of
// shared memory) run M_MMA's code for the same unit, so the plan never depends on alignment.
constexpr int AK = 32;                          // k per stage: a staged row is 64 bytes, 4 chunks of 16
constexpr int STAGE_HALF = BM * AK * 2;         // bytes of one operand's stage: 4 KB
constexpr int STAGE_BYTES = 2 * STAGE_HALF;     // a then b: 8 KB
constexpr int MAX_STAGES = 4;
static_assert(BM == BN && BM * AK / 8 == MT, "one 16-byte chunk of each operand per thread and step");

// Chunk c of staged row r lives at chunk c ^ ((r >> 1) & 3) of that row: the 8 rows x 16 bytes an ldmatrix
// matrix reads (rows r..r+7, one chunk) then fall in the 8 distinct 16-byte bank groups of a 128-byte line
// (rows alternate halves of the line, the XOR spreads the 4 row pairs), and so do a warp's copies.
__device__ __forceinline__ int chunk_at(int r, int c) { return r * (AK * 2) + ((c ^ ((r >> 1) & 3)) << 4); }

// The PTX primitives; MatmulHostTest's harness defines GT_HOST_PRIMITIVES and brings host versions of the same.
#ifndef GT_HOST_PRIMITIVES
// bytes (0..16) from src, the rest of the 16 zero-filled; .cg: through L2 only, so never a stale L1 line of a
// buffer an earlier task of this worker launch wrote.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
    asm volatile("{\n\t.reg .u64 s;\n\tcvta.to.shared.u64 s, %0;\n\tcp.async.cg.shared.global [s], [%1], 16, %2;\n\t}"
                 :: "l"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory");
}
// Four 8x8 matrices of 16-bit elements; lanes 8i..8i+7 name matrix i's rows, and lane l receives row l / 4,
// elements 2 (l % 4) and 2 (l % 4) + 1 of each matrix, in r[i].
__device__ __forceinline__ void ldsm_x4(unsigned int* r, const void* p) {
    asm volatile("{\n\t.reg .u64 s;\n\t.reg .u32 t;\n\tcvta.to.shared.u64 s, %4;\n\tcvt.u32.u64 t, s;\n\t"
                 "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [t];\n\t}"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "l"(p) : "memory");
}
#endif

// All but the `pending` most recent groups of this thread's copies have landed (pending < MAX_STAGES - 1).
__device__ __forceinline__ void cp_async_wait_pending(int pending) {
    if (pending >= 2) cp_async_wait<2>();
    else if (pending == 1) cp_async_wait<1>();
    else cp_async_wait<0>();
}

__device__ __forceinline__ bool chunk_aligned(const void* p, long long stride, long long size) {
    return ((unsigned long long)p & 15) == 0 && (size <= 1 || stride % 8 == 0);
}

// Whether the copies can take the operands: k-contiguous, 16-byte aligned bases, rows, columns and batches.
__device__ __forceinline__ bool async_ready(const MatmulView& v) {
    if (!(v.sa1 == 1 || v.k == 1) || !(v.sb0 == 1 || v.k == 1)) return false;
    if (!chunk_aligned(v.a, v.sa0, v.n) || !chunk_aligned(v.b, v.sb1, v.m)) return false;
    for (int d = 0; d < v.nb; ++d) {
        if (!chunk_aligned(v.a, v.A.strides[d], v.A.sizes[d]) || !chunk_aligned(v.b, v.B.strides[d], v.B.sizes[d])) {
            return false;
        }
    }
    return true;
}

// Warps as M_MMA's (4 x 2, 16 rows x 32 columns each). Thread x stages chunk x % 4 of row x / 4 of both operands
// (b's rows are its output columns) each step; a step's fragments: per k16, one ldmatrix.x4 of a (matrices: rows
// 0-7 and 8-15 at k 0-7, then at k 8-15: PTX's a0..a3) and two of b (per pair of 8-column tiles: k 0-7 then 8-15
// of each: b0, b1 of the first tile, then of the second).
__device__ __noinline__ void mma_async_tiles(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task);
    const int held = (int)(env->smemBytes / STAGE_BYTES), stages = held < MAX_STAGES ? held : MAX_STAGES;
    if (stages < 2 || !async_ready(v)) {
        mma_tiles(task, tile, env);
        return;
    }
    const long long n = v.n, k = v.k, m = v.m;
    const long long tilesN = (n + BM - 1) / BM, tilesM = (m + BN - 1) / BN;
    unsigned char* ring = (unsigned char*)env->smem;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tg = lane & 3;
    const int wr = (warp >> 1) * 16, wc = (warp & 1) * 32;
    const int sr = threadIdx.x >> 2, sc = threadIdx.x & 3;
    const int stageAt = chunk_at(sr, sc);
    // ldmatrix row addresses of this lane, relative to a stage: a's (rows wr + (l & 7) + 8 ((l >> 3) & 1), chunk
    // l >> 4) and b's for the pair of column tiles p (columns wc + 16p + 8 (mat >> 1) + (l & 7), chunk mat & 1)
    const int mat = lane >> 3;
    const int aRow = wr + (lane & 7) + ((lane >> 3) & 1) * 8, aChunk = lane >> 4;
    const int bCol = wc + (mat >> 1) * 8 + (lane & 7), bChunk = mat & 1;
    const long long nk = (k + AK - 1) / AK;
    for (long long t = tile; t < v.total; t += task->ntiles) {
        const long long batch = t / (tilesN * tilesM);
        const long long rest = t % (tilesN * tilesM);
        const long long row0 = (rest / tilesM) * BM, col0 = (rest % tilesM) * BN;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch), ob = gt::offset_in(v.B, 0, v.nb, batch);
        const bool rowIn = row0 + sr < n, colIn = col0 + sr < m;
        const GT_T* srcA = v.a + oa + (rowIn ? (row0 + sr) * v.sa0 : 0) + sc * 8;
        const GT_T* srcB = v.b + ob + (colIn ? (col0 + sr) * v.sb1 : 0) + sc * 8;
        // Step s's copies into stage slot: the chunk's elements inside k (0 past its end or outside the rows)
        auto stage = [&](long long s, int slot) {
            const long long left = k - s * AK - sc * 8;
            const int bytes = left <= 0 ? 0 : left >= 8 ? 16 : (int)left * 2;
            unsigned char* base = ring + slot * STAGE_BYTES + stageAt;
            // A copy of 0 bytes reads nothing; its source is the operand's base all the same (a valid address).
            cp_async16(base, rowIn && bytes != 0 ? srcA + s * AK : v.a, rowIn ? bytes : 0);
            cp_async16(base + STAGE_HALF, colIn && bytes != 0 ? srcB + s * AK : v.b, colIn ? bytes : 0);
        };
        float acc[4][4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[j][i] = 0.0f;
        // Warps whose 16 rows or 32 columns are all outside the product (a prompt of 32 rows in a 64-row unit)
        // skip the products; every thread still copies and meets every barrier.
        const bool live = row0 + wr < n && col0 + wc < m;
        // One group committed per step, empty past the last, so "step s landed" is always "all but the
        // stages - 2 most recent groups".
        for (int s = 0; s < stages - 1; ++s) {
            if (s < nk) stage(s, s);
            cp_async_commit();
        }
        for (long long s = 0; s < nk; ++s) {
            cp_async_wait_pending(stages - 2);
            // Step s is visible to the block, and every warp is done with step s - 1, whose slot the copies
            // issued next refill.
            __syncthreads();
            const long long ahead = s + stages - 1;
            if (ahead < nk) stage(ahead, (int)(ahead % stages));
            cp_async_commit();
            if (live) {
                const unsigned char* sa = ring + (int)(s % stages) * STAGE_BYTES;
                const unsigned char* sb = sa + STAGE_HALF;
#pragma unroll
                for (int h = 0; h < AK / 16; ++h) {
                    unsigned int af[4], bf[2][4];
                    ldsm_x4(af, sa + chunk_at(aRow, 2 * h + aChunk));
                    ldsm_x4(bf[0], sb + chunk_at(bCol, 2 * h + bChunk));
                    ldsm_x4(bf[1], sb + chunk_at(bCol + 16, 2 * h + bChunk));
#pragma unroll
                    for (int j = 0; j < 4; ++j) mma16816(acc[j], af, bf[j >> 1] + 2 * (j & 1));
                }
            }
        }
        cp_async_wait<0>();
        __syncthreads();   // every warp is done with the ring before the next unit's first copies
        if (!live) continue;
        GT_T* out = v.c + batch * n * m;
        // Two neighbouring columns in one 4-byte store where m is even (then col, even, and col + 1 are both in)
        const bool pairs = (m & 1) == 0 && ((unsigned long long)out & 3) == 0;
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; i += 2) {
                const long long r = row0 + wr + g + (i >= 2 ? 8 : 0), col = col0 + wc + j * 8 + tg * 2;
                if (r >= n || col >= m) continue;
                const GT_T lo = GT_FROM_ACC<GT_T>(acc[j][i]), hi = GT_FROM_ACC<GT_T>(acc[j][i + 1]);
                if (pairs) {
                    *(unsigned int*)(out + r * m + col) = (unsigned int)lo.bits | ((unsigned int)hi.bits << 16);
                } else {
                    out[r * m + col] = lo;
                    if (col + 1 < m) out[r * m + col + 1] = hi;
                }
            }
    }
}

// ---- M_MMA_ROWS (-Dgpuos.matmul.tensorCores=true): 17 to 32 rows (a prompt's prefill), both operands
// k-contiguous. 64-row units would leave most SMs idle (a unit per 64 columns: 32 of them for a 2048-wide weight)
// and half their rows empty, so a unit is 8 NT columns of one batch (arg 3: NT = 1 or 2) with all the rows, and its
// k is split over the block's 8 warps: warp w takes the 32-wide k chunks w, w + 8, ... Nothing is staged: the k
// order inside an m16n8k16 product is free so long as a and b agree, so lane (g, t) loads 8 consecutive k
// (16 bytes) at 8t of a chunk for each of its rows (g + 8q) and columns (g of each 8-column tile) and feeds
// them as the fragments' k slots {2t, 2t + 1} = k 8t + 4s + {0, 1} and {2t + 8, 2t + 9} = 8t + 4s + {2, 3} of
// k16 step s. Weight bytes are read once, 64 contiguous bytes a row a chunk; the rows of a (32 x k) come from L1/L2.
// The warps' sums meet in shared memory (3 rounds, halving), warp 0 stores.
constexpr int ROW_CHUNK = 32;

// 8 elements of a row at k0 (the lane's 16 bytes): one 16-byte load where the row allows it, else element by
// element; 0 past k or outside the operand.
__device__ __forceinline__ uint4 row_load8(const GT_T* row, long long k0, long long k, long long sk, bool in,
                                           bool vec) {
    uint4 r = {0u, 0u, 0u, 0u};
    if (!in || k0 >= k) return r;
    if (vec && k0 + 8 <= k) return *(const uint4*)(row + k0);
    unsigned int h[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) h[e] = k0 + e < k ? (unsigned int)row[(k0 + e) * sk].bits : 0u;
    r.x = h[0] | (h[1] << 16);
    r.y = h[2] | (h[3] << 16);
    r.z = h[4] | (h[5] << 16);
    r.w = h[6] | (h[7] << 16);
    return r;
}

template <int NT>
__device__ __noinline__ void mma_rows(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task);
    const long long n = v.n, k = v.k, m = v.m;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tg = lane & 3;
    const long long perBatch = (m + 8 * NT - 1) / (8 * NT), chunks = (k + ROW_CHUNK - 1) / ROW_CHUNK;
    bool vec = v.sa1 == 1 && v.sb0 == 1 && chunk_aligned(v.a, v.sa0, n) && chunk_aligned(v.b, v.sb1, m);
    for (int d = 0; d < v.nb; ++d) {
        vec = vec && chunk_aligned(v.a, v.A.strides[d], v.A.sizes[d])
              && chunk_aligned(v.b, v.B.strides[d], v.B.sizes[d]);
    }
    float* red = (float*)env->smem;   // a round's sums: [4 warps][2 x NT x 4 values][32 lanes]
    for (long long t = tile; t < v.total; t += task->ntiles) {
        const long long batch = t / perBatch, col0 = (t % perBatch) * 8 * NT;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch), ob = gt::offset_in(v.B, 0, v.nb, batch);
        const GT_T* ra[4];
        bool rin[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            rin[q] = g + 8 * q < n;
            ra[q] = v.a + oa + (rin[q] ? (g + 8 * q) * v.sa0 : 0);
        }
        const GT_T* rb[NT];
        bool cin[NT];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            cin[j] = col0 + 8 * j + g < m;
            rb[j] = v.b + ob + (cin[j] ? (col0 + 8 * j + g) * v.sb1 : 0);
        }
        float acc[2][NT][4];
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
        // two chunks a pass, their loads issued together (the second is all zeros past the last chunk)
        for (long long c = warp; c < chunks; c += 16) {
            uint4 xa[2][4], xb[2][NT];
#pragma unroll
            for (int u = 0; u < 2; ++u) {
                const long long k0 = (c + 8 * u) * ROW_CHUNK + tg * 8;
#pragma unroll
                for (int q = 0; q < 4; ++q) xa[u][q] = row_load8(ra[q], k0, k, v.sa1, rin[q], vec);
#pragma unroll
                for (int j = 0; j < NT; ++j) xb[u][j] = row_load8(rb[j], k0, k, v.sb0, cin[j], vec);
            }
#pragma unroll
            for (int u = 0; u < 2; ++u)
#pragma unroll
                for (int s = 0; s < 2; ++s)
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        const uint4 lo = xa[u][2 * i], hi = xa[u][2 * i + 1];   // rows 16i + g and 16i + g + 8
                        const unsigned int af[4] = {s ? lo.z : lo.x, s ? hi.z : hi.x, s ? lo.w : lo.y, s ? hi.w : hi.y};
#pragma unroll
                        for (int j = 0; j < NT; ++j) {
                            const unsigned int bf[2] = {s ? xb[u][j].z : xb[u][j].x, s ? xb[u][j].w : xb[u][j].y};
                            mma16816(acc[i][j], af, bf);
                        }
                    }
        }
        for (int half = 4; half >= 1; half >>= 1) {
            if (warp >= half && warp < 2 * half) {
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < NT; ++j)
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            red[(((warp - half) * 2 + i) * NT * 4 + j * 4 + e) * 32 + lane] = acc[i][j][e];
                        }
            }
            __syncthreads();
            if (warp < half) {
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < NT; ++j)
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            acc[i][j][e] += red[((warp * 2 + i) * NT * 4 + j * 4 + e) * 32 + lane];
                        }
            }
            __syncthreads();
        }
        if (warp != 0) continue;
        GT_T* out = v.c + batch * n * m;
        const bool pairs = (m & 1) == 0 && ((unsigned long long)out & 3) == 0;
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; e += 2) {
                    const long long r = 16 * i + g + (e >= 2 ? 8 : 0), col = col0 + 8 * j + tg * 2;
                    if (r >= n || col >= m) continue;
                    const GT_T lo = GT_FROM_ACC<GT_T>(acc[i][j][e]), hi = GT_FROM_ACC<GT_T>(acc[i][j][e + 1]);
                    if (pairs) {
                        *(unsigned int*)(out + r * m + col) = (unsigned int)lo.bits | ((unsigned int)hi.bits << 16);
                    } else {
                        out[r * m + col] = lo;
                        if (col + 1 < m) out[r * m + col + 1] = hi;
                    }
                }
    }
}
#endif

// ---- skinny paths

// Elements of GT_T in one 16-byte load.
constexpr int VEC = 16 / (int)sizeof(GT_T);

union Pack {
    uint4 u;
    GT_T v[VEC];
};

// Rows [0, NR) of a, columns [k0, k0 + len), into shared memory as GT_ACC (rows from n on are zero).
// Element p of a row lives at (p % VEC) * stride + p / VEC: the lanes of a warp, each reading element e of its
// own 16-byte group of b, then read consecutive words (no bank conflicts). row pitch = VEC * stride.
template <int NR>
__device__ __forceinline__ void stage_rows(const MatmulView& v, long long oa, long long k0, int len, int stride,
                                           GT_ACC* xs) {
    const int pitch = VEC * stride;
    for (int e = threadIdx.x; e < NR * len; e += blockDim.x) {
        const int r = e / len, p = e % len;
        xs[r * pitch + (p % VEC) * stride + p / VEC] =
            r < v.n ? GT_TO_ACC(v.a[oa + r * v.sa0 + (k0 + p) * v.sa1]) : (GT_ACC)0;
    }
}

// Shared memory for staged rows: k is staged in chunks of kc elements (all of k when it fits: then once per
// unit). Chunks are whole 16-byte groups, so the next chunk's loads stay aligned.
template <int NR>
__device__ __forceinline__ long long chunk_of(long long k, unsigned int bytes) {
    const long long cap = (long long)(bytes / (NR * sizeof(GT_ACC))) / VEC * VEC;
    const long long whole = (k + VEC - 1) / VEC * VEC;
    return whole <= cap ? whole : cap;
}

template <int NR, int C, bool EPI>
__device__ __noinline__ void skinny_k(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task, EPI ? refs_of(task) : task->refs, (int)gpuos::arg_i64(task, 0));
    const long long span = gpuos::arg_i64(task, 3);
    const long long unitsPerBatch = (v.m + span - 1) / span;
    const long long kc = chunk_of<NR>(v.k, env->smemBytes);
    const bool whole = kc >= v.k;
    GT_ACC* xs = (GT_ACC*)env->smem;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    // 16-byte loads in flight per lane: 8 (of one column, or 2 of each of 4 columns), fewer where the unrolled
    // body (U * VEC * NR staged values, U * C loads) would not fit 128 registers without spilling.
    constexpr int U0 = C == 1 ? 8 : (NR >= 4 ? 1 : 2), U1 = 64 / (VEC * NR) > 0 ? 64 / (VEC * NR) : 1;
    constexpr int U = U0 < U1 ? U0 : U1;
    const int epi = EPI ? epilogue_of(task) : 0;
    for (long long u = tile; u < v.total; u += task->ntiles) {
        const long long batch = u / unitsPerBatch;
        const long long c0 = (u % unitsPerBatch) * span, c1 = c0 + span < v.m ? c0 + span : v.m;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch);
        const GT_T* wb = v.b + gt::offset_in(v.B, 0, v.nb, batch);
        GT_T* out = v.c + batch * v.n * v.m;
        if (whole) {
            __syncthreads();  // the previous unit's warps may still read xs
            stage_rows<NR>(v, oa, 0, (int)v.k, (int)(kc / VEC), xs);
            __syncthreads();
        }
        for (long long g0 = c0; g0 < c1; g0 += (long long)warps * C) {
            const long long j0 = g0 + (long long)warp * C;
            GT_ACC acc[NR][C];
#pragma unroll
            for (int r = 0; r < NR; ++r)
#pragma unroll
                for (int q = 0; q < C; ++q) acc[r][q] = 0;
            for (long long k0 = 0; k0 < v.k; k0 += kc) {
                const int len = (int)(v.k - k0 < kc ? v.k - k0 : kc);
                const int stride = (len + VEC - 1) / VEC;
                if (!whole) {
                    __syncthreads();
                    stage_rows<NR>(v, oa, k0, len, stride, xs);
                    __syncthreads();
                }
                if (j0 >= c1) continue;  // warp-uniform: this warp has no column in the last group
                const GT_T* w[C];
#pragma unroll
                for (int q = 0; q < C; ++q) w[q] = wb + (j0 + q < c1 ? j0 + q : j0) * v.sb1 + k0;
                const int pitch = VEC * stride;
                const bool aligned =
                    (((unsigned long long)w[0] | (unsigned long long)(v.sb1 * (long long)sizeof(GT_T))) & 15) == 0;
                int p0 = 0;  // elements done by the vector loop
                if (aligned) {
                    const int groups = len / VEC;
                    int g = lane;
                    for (; g + (U - 1) * 32 < groups; g += U * 32) {
                        Pack pk[U][C];
#pragma unroll
                        for (int i = 0; i < U; ++i)
#pragma unroll
                            for (int q = 0; q < C; ++q) pk[i][q].u = *(const uint4*)(w[q] + (g + i * 32) * VEC);
#pragma unroll
                        for (int i = 0; i < U; ++i)
#pragma unroll
                            for (int e = 0; e < VEC; ++e)
#pragma unroll
                                for (int r = 0; r < NR; ++r) {
                                    const GT_ACC x = xs[r * pitch + e * stride + g + i * 32];
#pragma unroll
                                    for (int q = 0; q < C; ++q) acc[r][q] += x * GT_TO_ACC(pk[i][q].v[e]);
                                }
                    }
                    for (; g < groups; g += 32) {
                        Pack pk[C];
#pragma unroll
                        for (int q = 0; q < C; ++q) pk[q].u = *(const uint4*)(w[q] + g * VEC);
#pragma unroll
                        for (int e = 0; e < VEC; ++e)
#pragma unroll
                            for (int r = 0; r < NR; ++r) {
                                const GT_ACC x = xs[r * pitch + e * stride + g];
#pragma unroll
                                for (int q = 0; q < C; ++q) acc[r][q] += x * GT_TO_ACC(pk[q].v[e]);
                            }
                    }
                    p0 = groups * VEC;
                }
#pragma unroll 4
                for (int p = p0 + lane; p < len; p += 32) {
                    GT_ACC wv[C];
#pragma unroll
                    for (int q = 0; q < C; ++q) wv[q] = GT_TO_ACC(w[q][p]);
#pragma unroll
                    for (int r = 0; r < NR; ++r) {
                        const GT_ACC x = xs[r * pitch + (p % VEC) * stride + p / VEC];
#pragma unroll
                        for (int q = 0; q < C; ++q) acc[r][q] += x * wv[q];
                    }
                }
            }
            if (j0 >= c1) continue;
            if constexpr (!EPI) {
#pragma unroll
                for (int r = 0; r < NR; ++r)
#pragma unroll
                    for (int q = 0; q < C; ++q) {
                        GT_ACC s = acc[r][q];
#pragma unroll
                        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
                        if (lane == r * C + q && r < v.n && j0 + q < c1) out[r * v.m + j0 + q] = GT_FROM_ACC<GT_T>(s);
                    }
            } else {
                // lane r * C + q keeps (row r, column q)'s sum, then every lane stores its own: the epilogue's code
                // once, not NR * C times
                GT_ACC mine = 0;
#pragma unroll
                for (int r = 0; r < NR; ++r)
#pragma unroll
                    for (int q = 0; q < C; ++q) {
                        GT_ACC s = acc[r][q];
#pragma unroll
                        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
                        if (lane == r * C + q) mine = s;
                    }
                const int r = lane / C, q = lane % C;
                if (lane < NR * C && r < v.n && j0 + q < c1) put(v, task, epi, batch, r, j0 + q, mine);
            }
        }
    }
}

template <int NR>
__device__ __noinline__ void skinny_m(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const MatmulView v(task);
    const long long span = gpuos::arg_i64(task, 3);
    const long long unitsPerBatch = (v.m + span - 1) / span;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    // The warps' partial sums (one row at a time) after the staged rows: one value per thread.
    const unsigned int partialBytes = blockDim.x * sizeof(GT_ACC);
    const long long kc = chunk_of<NR>(v.k, env->smemBytes - partialBytes);
    const bool whole = kc >= v.k;
    GT_ACC* xs = (GT_ACC*)env->smem;
    GT_ACC* partial = (GT_ACC*)((char*)env->smem + (env->smemBytes - partialBytes));
    for (long long u = tile; u < v.total; u += task->ntiles) {
        const long long batch = u / unitsPerBatch;
        const long long c0 = (u % unitsPerBatch) * span, c1 = c0 + span < v.m ? c0 + span : v.m;
        const long long oa = gt::offset_in(v.A, 0, v.nb, batch);
        const GT_T* wb = v.b + gt::offset_in(v.B, 0, v.nb, batch);
        GT_T* out = v.c + batch * v.n * v.m;
        if (whole) {
            __syncthreads();
            stage_rows<NR>(v, oa, 0, (int)v.k, (int)(kc / VEC), xs);
            __syncthreads();
        }
        for (long long g0 = c0; g0 < c1; g0 += 32) {
            const long long j = g0 + lane;
            const bool live = j < c1;
            const GT_T* col = wb + (live ? j : g0) * v.sb1;
            GT_ACC acc[NR];
#pragma unroll
            for (int r = 0; r < NR; ++r) acc[r] = 0;
            for (long long k0 = 0; k0 < v.k; k0 += kc) {
                const int len = (int)(v.k - k0 < kc ? v.k - k0 : kc);
                const int stride = (len + VEC - 1) / VEC, pitch = VEC * stride;
                if (!whole) {
                    __syncthreads();
                    stage_rows<NR>(v, oa, k0, len, stride, xs);
                    __syncthreads();
                }
                const GT_T* wk = col + k0 * v.sb0;
                int p = warp;
                for (; p + 7 * warps < len; p += 8 * warps) {
                    GT_ACC wv[8];
#pragma unroll
                    for (int i = 0; i < 8; ++i) wv[i] = GT_TO_ACC(wk[(long long)(p + i * warps) * v.sb0]);
#pragma unroll
                    for (int i = 0; i < 8; ++i) {
                        const int q = p + i * warps, at = (q % VEC) * stride + q / VEC;
#pragma unroll
                        for (int r = 0; r < NR; ++r) acc[r] += xs[r * pitch + at] * wv[i];
                    }
                }
                for (; p < len; p += warps) {
                    const GT_ACC wv = GT_TO_ACC(wk[(long long)p * v.sb0]);
                    const int at = (p % VEC) * stride + p / VEC;
#pragma unroll
                    for (int r = 0; r < NR; ++r) acc[r] += xs[r * pitch + at] * wv;
                }
            }
            // Block-uniform loop: every thread reaches each barrier, including lanes past the last column.
#pragma unroll
            for (int r = 0; r < NR; ++r) {
                if (r >= v.n) break;
                partial[warp * 32 + lane] = acc[r];
                __syncthreads();
                if (warp == 0) {
                    GT_ACC s = 0;
                    for (int w = 0; w < warps; ++w) s += partial[w * 32 + lane];
                    if (live) out[r * v.m + j] = GT_FROM_ACC<GT_T>(s);
                }
                __syncthreads();
            }
        }
    }
}

template <int NR>
__device__ __forceinline__ void skinny(const gpuos_task* task, unsigned int tile, const gpuos_env* env, int path) {
    // Up to 4 columns a warp: 4 * NR accumulators are too many for 128 registers from 8 rows on (8-byte ones
    // from 4 rows on): then a warp takes the unit's columns 2 or 1 at a time (16 rows: 2 or 1).
    constexpr int C4 = sizeof(GT_ACC) == 4 ? (NR <= 4 ? 4 : 2) : (NR <= 2 ? 4 : NR == 4 ? 2 : 1);
    if (path == M_SKINNY_M) skinny_m<NR>(task, tile, env);
    else if (epilogue_of(task) != 0) skinny_k<NR, 1, true>(task, tile, env);   // the planner gives it 1 column a warp
    else if (gpuos::arg_i64(task, 4) == 4) skinny_k<NR, C4, false>(task, tile, env);
    else skinny_k<NR, 1, false>(task, tile, env);
}

// One 16-byte load of a weight that does not take a place in L1: each weight byte is read once, while x, read
// beside every one of them, stays there. (Not ld.global.nc: a persistent worker may read a buffer that an earlier
// task of the same launch wrote, and the non-coherent path could serve a stale line.)
__device__ __forceinline__ uint4 stream16(const GT_T* p) {
#ifdef __CUDA_ARCH__
    uint4 r;
    asm("ld.global.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
#else
    return *(const uint4*)p;
#endif
}

// M_GEMV_NORM's operand table: 0 = x0 [1, H] (the rms_norm's input, or the first operand of the add that makes it;
// any floating dtype), 1 = b, 2 = out, 3 = the product where stored (GLU) else a placeholder, 4 = x1 (the add's
// second operand) or a placeholder, 5 = the norm's weight [H] or a placeholder, 6 = the add's sum [1, H] (F32) where
// stored or a placeholder. args: 0 = eps (double bits; the batch dims are 0), 1-4 as M_GEMV's (M_GEMV_GLU's with
// flag 16), 5 = flags (1: the product stored, 2: an add before the norm, 4: its sum stored, 8: the norm has a
// weight, 16: a GLU over the product as M_GEMV_GLU's).
//
// Every block computes the row once, as the row-fused task would have (norm.cu's statistics in double over the
// f32 values, y = from_f64<float>(s * inv * w), then the cast to GT_T), into shared memory after the reduction
// scratch; tile 0 stores the sum. Then x is read from there. FamilyTasks keeps H * sizeof(GT_T) within the 8 KB.
__device__ __forceinline__ float norm_input(const gpuos_tensor_ref* R, bool add, long long i) {
    const float x0 = (float)gt::load_f64(R[0], i * R[0].strides[R[0].ndim - 1]);
    return add ? x0 + (float)gt::load_f64(R[4], i * R[4].strides[R[4].ndim - 1]) : x0;
}

__device__ __noinline__ GT_T* norm_prologue(const gpuos_task* task, const gpuos_tensor_ref* R, unsigned int tile,
                                           const gpuos_env* env, long long h) {
    const long long flags = gpuos::arg_i64(task, 5);
    const bool add = (flags & 2) != 0, storeSum = (flags & 4) != 0 && tile == 0, hasWeight = (flags & 8) != 0;
    const double eps = gpuos::arg_f64(task, 0);
    double* scratch = (double*)env->smem;
    GT_T* xs = (GT_T*)(scratch + 32);
    float* sum = (float*)R[6].data;
    const gt::Team team = gt::make_team(true);
    __syncthreads();  // an earlier task's tile in this block may still read shared memory
    double sq = 0;
    for (long long i = threadIdx.x; i < h; i += blockDim.x) {
        const double d = norm_input(R, add, i);
        sq += d * d;
    }
    sq = gt::team_reduce(team, sq, [](double p, double q) { return p + q; }, scratch);
    const double inv = 1.0 / sqrt(sq / (double)h + eps);
    for (long long i = threadIdx.x; i < h; i += blockDim.x) {
        const float s = norm_input(R, add, i);
        if (storeSum) sum[i * R[6].strides[R[6].ndim - 1]] = s;
        const double w = hasWeight ? gt::load_f64(R[5], i * R[5].strides[R[5].ndim - 1]) : 1.0;
        xs[i] = GT_FROM_ACC<GT_T>((GT_ACC)gt::from_f64<float>((double)s * inv * w));
    }
    __syncthreads();
    return xs;
}

// GLU (M_GEMV_GLU): b's 2I columns are a gate half and an up half; the unit's columns are j < I, and a warp
// takes P = C / 2 of them at a time, streaming gate rows j.. (w[0, P)) and up rows I + j.. (w[P, C)) together.
// It stores silu(g) * u, with g and u rounded to GT_T first (as a stored product would be) and the rest in f32,
// into refs[2]; the product itself into refs[3] only where arg 5 says something else reads it.
// NORM (M_GEMV_NORM): x is an rms_norm's output that this task computes first, per block, into shared memory
// (norm_prologue); the operands come from the task's operand table, the product's own ones first.
template <int C, bool GLU, bool NORM>
__device__ __noinline__ void gemv(const gpuos_task* task, unsigned int tile, const gpuos_env* env) {
    const gpuos_tensor_ref* R = NORM ? (const gpuos_tensor_ref*)task->refs[0].data : task->refs;
    const MatmulView v(task, R, NORM ? 0 : (int)gpuos::arg_i64(task, 0));
    const long long span = gpuos::arg_i64(task, 3);
    constexpr int P = GLU ? C / 2 : C;  // output columns a warp takes at a time
    const long long cols = GLU ? v.m / 2 : v.m;
    const long long unitsPerBatch = (cols + span - 1) / span;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    // loads in flight per lane: U groups of each of C columns (16 registers of x and 4 * U * C of weights)
    constexpr int U = C == 1 ? 8 : 16 / C;
    const long long groups = v.k / VEC;
    GT_T* product = GLU && (gpuos::arg_i64(task, 5) & 1) != 0 ? (GT_T*)R[3].data : nullptr;
    GT_T* xs = nullptr;
    if constexpr (NORM) xs = norm_prologue(task, R, tile, env, v.k);
    for (long long u = tile; u < v.total; u += task->ntiles) {
        const long long batch = u / unitsPerBatch;
        const long long c0 = (u % unitsPerBatch) * span, c1 = c0 + span < cols ? c0 + span : cols;
        const GT_T* x = NORM ? xs : v.a + gt::offset_in(v.A, 0, v.nb, batch);
        const GT_T* wb = v.b + gt::offset_in(v.B, 0, v.nb, batch);
        GT_T* out = v.c + batch * cols;
        const bool xVec = NORM || (v.sa1 == 1 && ((unsigned long long)x & 15) == 0);
        for (long long j0 = c0 + (long long)warp * P; j0 < c1; j0 += (long long)warps * P) {
            const GT_T* w[C];
#pragma unroll
            for (int q = 0; q < C; ++q) {
                const int p = q % P;
                w[q] = wb + ((j0 + p < c1 ? j0 + p : j0) + (q >= P ? cols : 0)) * v.sb1;
            }
            GT_ACC acc[C];
#pragma unroll
            for (int q = 0; q < C; ++q) acc[q] = 0;
            long long p0 = 0;  // elements done by the vector loops
            if (xVec && (((unsigned long long)w[0] | (unsigned long long)(v.sb1 * (long long)sizeof(GT_T))) & 15) == 0) {
                long long g = lane;
                for (; g + (U - 1) * 32 < groups; g += U * 32) {
                    Pack pw[U][C], px[U];
#pragma unroll
                    for (int i = 0; i < U; ++i)
#pragma unroll
                        for (int q = 0; q < C; ++q) pw[i][q].u = stream16(w[q] + (g + i * 32) * VEC);
#pragma unroll
                    for (int i = 0; i < U; ++i) px[i].u = *(const uint4*)(x + (g + i * 32) * VEC);
#pragma unroll
                    for (int i = 0; i < U; ++i)
#pragma unroll
                        for (int e = 0; e < VEC; ++e) {
                            const GT_ACC xe = GT_TO_ACC(px[i].v[e]);
#pragma unroll
                            for (int q = 0; q < C; ++q) acc[q] += xe * GT_TO_ACC(pw[i][q].v[e]);
                        }
                }
                for (; g < groups; g += 32) {
                    Pack pw[C], px;
#pragma unroll
                    for (int q = 0; q < C; ++q) pw[q].u = stream16(w[q] + g * VEC);
                    px.u = *(const uint4*)(x + g * VEC);
#pragma unroll
                    for (int e = 0; e < VEC; ++e) {
                        const GT_ACC xe = GT_TO_ACC(px.v[e]);
#pragma unroll
                        for (int q = 0; q < C; ++q) acc[q] += xe * GT_TO_ACC(pw[q].v[e]);
                    }
                }
                p0 = groups * VEC;
            }
            // the tail past the last whole group, or everything where x or the weight rows are not 16-byte aligned
            for (long long p = p0 + lane; p < v.k; p += 32) {
                const GT_ACC xe = GT_TO_ACC(x[NORM ? p : p * v.sa1]);
#pragma unroll
                for (int q = 0; q < C; ++q) acc[q] += xe * GT_TO_ACC(w[q][p]);
            }
#pragma unroll
            for (int q = 0; q < C; ++q) {
#pragma unroll
                for (int o = 16; o > 0; o >>= 1) acc[q] += __shfl_xor_sync(0xffffffffu, acc[q], o);
            }
            if (GLU) {
#pragma unroll
                for (int p = 0; p < P; ++p) {
                    if (lane != p || j0 + p >= c1) continue;
                    const GT_T g = GT_FROM_ACC<GT_T>(acc[p]), up = GT_FROM_ACC<GT_T>(acc[p + P]);
                    if (product != nullptr) {
                        product[j0 + p] = g;
                        product[cols + j0 + p] = up;
                    }
                    const float gf = (float)GT_TO_ACC(g);
                    out[j0 + p] = GT_FROM_ACC<GT_T>((GT_ACC)((gf / (1.0f + expf(-gf))) * (float)GT_TO_ACC(up)));
                }
            } else {
#pragma unroll
                for (int q = 0; q < C; ++q) {
                    if (lane == q && j0 + q < c1) out[j0 + q] = GT_FROM_ACC<GT_T>(acc[q]);
                }
            }
        }
    }
}

}  // namespace

GPUOS_OP {
    const int path = (int)(gpuos::arg_i64(task, 2) & 255);
    if (path == M_TILED) {
        if (epilogue_of(task) != 0) tiled<true>(task, tile, env);
        else tiled<false>(task, tile, env);
        return;
    }
    if (path == M_GEMV) {
        const long long c = gpuos::arg_i64(task, 4);
        if (c == 4) gemv<4, false, false>(task, tile, env);
        else if (c == 2) gemv<2, false, false>(task, tile, env);
        else gemv<1, false, false>(task, tile, env);
        return;
    }
#if GT_DTYPE == GPUOS_DTYPE_BF16 || GT_DTYPE == GPUOS_DTYPE_F16 || GT_DTYPE == GPUOS_DTYPE_F32
    if (path == M_GEMV_GLU) {
        if (gpuos::arg_i64(task, 4) == 2) gemv<4, true, false>(task, tile, env);
        else gemv<2, true, false>(task, tile, env);
        return;
    }
    if (path == M_GEMV_NORM) {
        // flags bit 16: the GLU over the product (then arg 4 counts gate/up pairs), else M_GEMV's columns a warp
        const long long c = gpuos::arg_i64(task, 4);
        if ((gpuos::arg_i64(task, 5) & 16) != 0) {
            if (c == 2) gemv<4, true, true>(task, tile, env);
            else gemv<2, true, true>(task, tile, env);
        } else if (c == 4) gemv<4, false, true>(task, tile, env);
        else if (c == 2) gemv<2, false, true>(task, tile, env);
        else gemv<1, false, true>(task, tile, env);
        return;
    }
#endif
#if GT_DTYPE == GPUOS_DTYPE_BF16 || GT_DTYPE == GPUOS_DTYPE_F16
    if (path == M_MMA) {
        mma_tiles(task, tile, env);
        return;
    }
    if (path == M_MMA_ASYNC) {
        mma_async_tiles(task, tile, env);
        return;
    }
    if (path == M_MMA_ROWS) {
        if (gpuos::arg_i64(task, 3) == 2) mma_rows<2>(task, tile, env);
        else mma_rows<1>(task, tile, env);
        return;
    }
#endif
    const long long n = refs_of(task)[0].sizes[gpuos::arg_i64(task, 0)];
    if (n <= 1) skinny<1>(task, tile, env, path);
    else if (n <= 2) skinny<2>(task, tile, env, path);
    else if (n <= 4) skinny<4>(task, tile, env, path);
    else if (n <= 8) skinny<8>(task, tile, env, path);
    else skinny<16>(task, tile, env, path);
}
