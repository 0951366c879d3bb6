// Batched matrix product of GT_T: out[b] = a[b] @ b[b], accumulated in GT_ACC (float for F32/F16/BF16,
// double for F64, long long with wrap-around for integers), rounded once on store.
// refs[0]: a viewed as [batch..., n, k]; refs[1]: b as [batch..., k, m] (any strides, zero for broadcast batch
// dims); refs[2]: out, contiguous [batch..., n, m]. args: 0 = number of batch dims, 1 = output tiles in all.
// One block computes a 64x64 output tile (4x4 per thread) with 64x8 / 8x64 operand tiles staged in shared
// memory (8 KB of env->smem for 8-byte accumulators); task tile t handles output tiles t, t + ntiles, ...

namespace {

constexpr int BM = 64, BN = 64, BK = 8;

}  // namespace

GPUOS_OP {
    const gpuos_tensor_ref& A = task->refs[0];
    const gpuos_tensor_ref& B = task->refs[1];
    const gpuos_tensor_ref& C = task->refs[2];
    const GT_T* a = (const GT_T*)A.data;
    const GT_T* b = (const GT_T*)B.data;
    GT_T* c = (GT_T*)C.data;
    const int nb = (int)gpuos::arg_i64(task, 0);
    const long long total = gpuos::arg_i64(task, 1);
    const long long n = A.sizes[nb], k = A.sizes[nb + 1], m = B.sizes[nb + 1];
    const long long sa0 = A.strides[nb], sa1 = A.strides[nb + 1], sb0 = B.strides[nb], sb1 = B.strides[nb + 1];
    const long long tilesN = (n + BM - 1) / BM, tilesM = (m + BN - 1) / BN;
    GT_ACC* As = (GT_ACC*)env->smem;  // [BK][BM]
    GT_ACC* Bs = As + BK * BM;         // [BK][BN]
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (long long t = tile; t < total; t += task->ntiles) {
        const long long batch = t / (tilesN * tilesM);
        const long long rest = t % (tilesN * tilesM);
        const long long row0 = (rest / tilesM) * BM, col0 = (rest % tilesM) * BN;
        const long long oa = gt::offset_in(A, 0, nb, batch), ob = gt::offset_in(B, 0, nb, batch);
        GT_ACC acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = 0;
        for (long long k0 = 0; k0 < k; k0 += BK) {
            for (int e = threadIdx.x; e < BK * BM; e += blockDim.x) {
                const int r = e / BK, kk = e % BK;
                const long long gr = row0 + r, gk = k0 + kk;
                As[kk * BM + r] = gr < n && gk < k ? GT_TO_ACC(a[oa + gr * sa0 + gk * sa1]) : (GT_ACC)0;
            }
            for (int e = threadIdx.x; e < BK * BN; e += blockDim.x) {
                const int kk = e / BN, cc = e % BN;
                const long long gk = k0 + kk, gc = col0 + cc;
                Bs[kk * BN + cc] = gk < k && gc < m ? GT_TO_ACC(b[ob + gk * sb0 + gc * sb1]) : (GT_ACC)0;
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
        GT_T* out = c + batch * n * m;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const long long r = row0 + ty + 16 * i;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const long long col = col0 + tx + 16 * j;
                if (r < n && col < m) out[r * m + col] = GT_FROM_ACC<GT_T>(acc[i][j]);
            }
        }
    }
}
