// Scaled dot-product attention: out = softmax(q @ k^T * scale + bias) @ v, q, k and bias of GT_T, v and out of GT_V
// (floating dtypes; OperatorSources.attention defines both), one task
// for what was three (scores, softmax, @ values), so a decode step's layer pays one dependent hand-off for its
// attention instead of three. Computed in GT_ACC (float; double for F64).
// Operands, from the task's operand table (5 of them: more than a descriptor holds inline): 0 = q viewed as
// [batch..., L, E], 1 = k [batch..., S, E], 2 = v [batch..., S, Ev], 3 = bias [batch..., L, S] (any strides,
// zero for broadcast; ignored unless arg 1), 4 = out, contiguous [batch..., L, Ev]. args: 0 = number of batch dims,
// 1 = 1 if there is a bias, 2 = scale (double bits), 3 = query rows in all (batches x L), 4 = chunks of S per row
// (C; 0 or 1: the whole row in one tile), 5 = keys per chunk (a multiple of CH; unused when C <= 1).
//
// A tile is one query row (tile t takes rows t, t + ntiles, ...), the whole block over it: the keys are taken
// CH at a time, one a thread (its dot product with q read straight from memory, 16-byte loads where both rows
// allow them), then the chunk's maximum and sum (block reductions) update a running maximum m and sum l as in
// flash attention: the accumulated output is scaled by exp(m_old - m_new) before the chunk's weighted value rows
// are added. The output's Ev columns are accumulated in shared memory by G = 256 / Ev groups of threads (each
// group a share of the chunk's keys; one thread a column), so that every thread works for Ev = 64, and the
// groups are added at the end. A row whose scores are all -inf comes out NaN (0 / 0), as PyTorch's does; a NaN
// score makes its row NaN (the maximum is NaN-sticky).
//
// Split S (flash decoding; C > 1, FamilyTasks' gpuos.attention.splitS): a decode step has one query row per head,
// 32 for Llama-3.2-1B, so one tile a row leaves 100 of 132 SMs idle while each of the 32 streams all S keys. Then
// a unit of work is (row, chunk of S) and tile t takes units t, t + ntiles, ...; each unit runs the loop above over
// its keys and writes its partial (m, sum, unnormalised output row) to the task's scratch, which FamilyTasks
// reserves in the operand table right after the 5 operand records (OperandTables.Scratch: zeroed by the
// table's upload, per submission or once for a captured program): [rows][C][2 + Ev] GT_ACC partials, then one
// unsigned counter per row. The tile whose increment brings a row's counter to C combines the C partials in chunk
// order (so the result does not depend on which tile came last) and puts the counter back to 0 for the next run
// of the same task (a replay). Memory order (the threadFenceReduction pattern of the CUDA samples): every thread
// fences its partial stores (__threadfence) before the barrier after which thread 0 increments the counter; the
// combining tile's threads fence again after seeing the count and read the partials with volatile loads (L1 is
// not coherent across SMs, and a replay's combiner may hold a stale line of an earlier run). A chunk whose scores
// are all -inf has m = -inf and weighs 0; a row with every chunk so has sum 0 and comes out 0 / 0 = NaN, as in
// one tile.

namespace {

// keys per chunk: one a thread of the worker's 256-thread block (Layouts.BLOCK_THREADS)
constexpr int CH = 256;
constexpr int VEC = 16 / (int)sizeof(GT_T);

union Pack {
    uint4 u;
    GT_T v[VEC];
};

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

__device__ __forceinline__ GT_ACC nan_max(GT_ACC p, GT_ACC q) {
    if (p != p) return p;
    if (q != q) return q;
    return p > q ? p : q;
}

// The dot product of q's row and one key row, e elements. Unrolled so that several of a thread's key loads are in
// flight at once: models-3-1 measured a layer at S = 4096 (16 chunks) at 235 us, ~15 us a chunk, as if every
// 16-byte load of a key row waited for the one before.
__device__ __forceinline__ GT_ACC dot_row(const GT_T* q, long long sq, const GT_T* k, long long sk, long long e) {
    GT_ACC d = 0;
    long long x = 0;
    if (sq == 1 && sk == 1 && (((unsigned long long)q | (unsigned long long)k) & 15) == 0) {
#pragma unroll 8
        for (; x + VEC <= e; x += VEC) {
            Pack a, b;
            a.u = *(const uint4*)(q + x);
            b.u = *(const uint4*)(k + x);
#pragma unroll
            for (int i = 0; i < VEC; ++i) d += GT_TO_ACC(a.v[i]) * GT_TO_ACC(b.v[i]);
        }
    }
    for (; x < e; ++x) d += GT_TO_ACC(q[x * sq]) * GT_TO_ACC(k[x * sk]);
    return d;
}

// C of the header (args 4)
__device__ __forceinline__ long long chunks(const gpuos_task* task) {
    const long long c = gpuos::arg_i64(task, 4);
    return c > 1 ? c : 1;
}

}  // namespace

GPUOS_OP {
    // the operand table (gt::operand_table of gpuos_walk.cuh, which family operators do not include)
    const gpuos_tensor_ref* R = (const gpuos_tensor_ref*)task->refs[0].data;
    const gpuos_tensor_ref &Q = R[0], &K = R[1], &V = R[2], &B = R[3], &O = R[4];
    const int nb = (int)gpuos::arg_i64(task, 0);
    const bool hasBias = gpuos::arg_i64(task, 1) != 0;
    const GT_ACC scale = (GT_ACC)gpuos::arg_f64(task, 2);
    const long long total = gpuos::arg_i64(task, 3);
    const long long L = Q.sizes[nb], E = Q.sizes[nb + 1], S = K.sizes[nb], Ev = V.sizes[nb + 1];
    const long long sq0 = Q.strides[nb], sq1 = Q.strides[nb + 1], sk0 = K.strides[nb], sk1 = K.strides[nb + 1];
    const long long sv0 = V.strides[nb], sv1 = V.strides[nb + 1], sb0 = B.strides[nb], sb1 = B.strides[nb + 1];
    const GT_T* q = (const GT_T*)Q.data;
    const GT_T* k = (const GT_T*)K.data;
    const GT_V* v = (const GT_V*)V.data;
    const GT_T* b = (const GT_T*)B.data;
    GT_V* o = (GT_V*)O.data;
    const gt::Team team = gt::make_team(true);
    // shared memory: reduction scratch [32], the chunk's weights [CH], the output accumulators [G * Ev]
    // (FamilyTasks keeps Ev within what the worker's 8 KB hold)
    GT_ACC* scratch = (GT_ACC*)env->smem;
    GT_ACC* ps = scratch + 32;
    GT_ACC* acc = ps + CH;
    const long long G = Ev <= (long long)blockDim.x ? blockDim.x / Ev : 1, slots = G * Ev;
    const GT_ACC negInf = -(GT_ACC)__int_as_float(0x7f800000);
    // What only the split path needs is read from the task where it is used, not kept in registers: the loop over
    // keys is at the worker's cap of 128 (a C held through it spilled 8 bytes; the task's words are reloaded
    // because the loop stores to global memory).
    for (long long unit = tile; unit < total * chunks(task); unit += task->ntiles) {
        // only unit (and the row's pointers) live through the loop over keys: row, chunk and the output row are
        // worked out again after it
        const long long len = chunks(task) > 1 ? gpuos::arg_i64(task, 5) : S;
        const long long k0 = unit % chunks(task) * len, k1 = S - k0 < len ? S : k0 + len;
        const long long batch = unit / chunks(task) / L, l = unit / chunks(task) % L;
        const GT_T* qr = q + gt::offset_in(Q, 0, nb, batch) + l * sq0;
        const GT_T* kb = k + gt::offset_in(K, 0, nb, batch);
        const GT_V* vb = v + gt::offset_in(V, 0, nb, batch);
        const GT_T* br = b + gt::offset_in(B, 0, nb, batch) + l * sb0;
        __syncthreads();  // the previous row's final sums have read acc
        for (long long i = threadIdx.x; i < slots; i += blockDim.x) acc[i] = 0;
        GT_ACC m = negInf, sum = 0;  // the same in every thread: both come from block reductions
        for (long long c0 = k0; c0 < k1; c0 += CH) {
            const int n = (int)(k1 - c0 < CH ? k1 - c0 : CH);
            GT_ACC sc = negInf;
            if ((int)threadIdx.x < n) {
                const long long s = c0 + threadIdx.x;
                sc = dot_row(qr, sq1, kb + s * sk0, sk1, E) * scale;
                if (hasBias) sc += GT_TO_ACC(br[s * sb1]);
            }
            const GT_ACC mNew = nan_max(m, gt::team_reduce(team, sc, nan_max, scratch));
            // while every score so far is -inf nothing is weighed yet (exp(-inf - -inf) would be NaN)
            const bool none = mNew == negInf;
            const GT_ACC corr = none || m == negInf ? (GT_ACC)0 : exp_acc(m - mNew);
            const GT_ACC p = none || (int)threadIdx.x >= n ? (GT_ACC)0 : exp_acc(sc - mNew);
            ps[threadIdx.x] = p;
            sum = sum * corr + gt::team_reduce(team, p, [](GT_ACC x, GT_ACC y) { return x + y; }, scratch);
            m = mNew;
            // (team_reduce's barriers made every thread's ps visible)
            for (long long i = threadIdx.x; i < slots; i += blockDim.x) {
                const long long g = i / Ev, e = i % Ev;
                const GT_V* col = vb + e * sv1;
                GT_ACC a = acc[i] * corr;
#pragma unroll 8
                for (long long j = g; j < n; j += G) a += ps[j] * GT_TO_ACC(col[(c0 + j) * sv0]);
                acc[i] = a;
            }
            __syncthreads();  // ps and acc are rewritten by the next chunk
        }
        const long long C = chunks(task), row = unit / C, chunk = unit - row * C;  // batch * L + l
        GT_V* orow = o + row * Ev;
        if (C == 1) {
            for (long long e = threadIdx.x; e < Ev; e += blockDim.x) {
                GT_ACC a = 0;
                for (long long g = 0; g < G; ++g) a += acc[g * Ev + e];
                orow[e] = GT_FROM_ACC<GT_V>(a / sum);
            }
            continue;
        }
        GT_ACC* parts = (GT_ACC*)((char*)task->refs[0].data + 5 * sizeof(gpuos_tensor_ref));
        unsigned* counters = (unsigned*)(parts + total * C * (2 + Ev));
        GT_ACC* part = parts + (row * C + chunk) * (2 + Ev);
        for (long long e = threadIdx.x; e < Ev; e += blockDim.x) {
            GT_ACC a = 0;
            for (long long g = 0; g < G; ++g) a += acc[g * Ev + e];
            part[2 + e] = a;
        }
        if (threadIdx.x == 0) {
            part[0] = m;
            part[1] = sum;
        }
        __threadfence();  // this thread's partial stores before the count that publishes them
        __syncthreads();
        // the flag goes through ps (free until the next unit's first barrier): no static shared memory in an operator
        if (threadIdx.x == 0) ps[0] = atomicAdd(&counters[row], 1u) == (unsigned)(C - 1) ? 1 : 0;
        __syncthreads();
        if (ps[0] == 0) continue;
        __threadfence();  // the count seen before any other tile's partial is read
        const volatile GT_ACC* rp = parts + row * C * (2 + Ev);
        // the i-th partial added: chunk i, whichever tile combines (AttentionHostTest's mutant starts at its own)
        auto nth = [&](long long i) { return rp + i * (2 + Ev); };
        GT_ACC mAll = negInf;
        for (long long i = 0; i < C; ++i) mAll = nan_max(mAll, nth(i)[0]);
        GT_ACC sumAll = 0;
        for (long long i = 0; i < C; ++i) {
            const GT_ACC mc = nth(i)[0];
            sumAll += (mc == negInf ? (GT_ACC)0 : exp_acc(mc - mAll)) * nth(i)[1];
        }
        for (long long e = threadIdx.x; e < Ev; e += blockDim.x) {
            GT_ACC a = 0;
            for (long long i = 0; i < C; ++i) {
                const GT_ACC mc = nth(i)[0];
                a += (mc == negInf ? (GT_ACC)0 : exp_acc(mc - mAll)) * nth(i)[2 + e];
            }
            orow[e] = GT_FROM_ACC<GT_V>(a / sumAll);
        }
        if (threadIdx.x == 0) atomicExch(&counters[row], 0u);  // every chunk has counted: ready for the next run
    }
}
