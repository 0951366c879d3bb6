// How elementwise operators walk a tile: offsets of a flat index in strided operands (Indexer), and packs of
// several elements moved as one aligned access where every operand is dense. Prepended to elementwise operator
// sources after gpuos_tensor.cuh; header-only and free of includes like it.
//
// Everything here is __host__ __device__ and free of device intrinsics: CI compiles generated operators' walks
// into a host program and runs them over random tiles, offsets and layouts (ElementwiseWalkHostTest).

namespace gt {

// Offsets of one flat index in N operands that share one shape (the output's, broadcast inputs have zero
// strides). Sizes and strides are copied out of the descriptor once per tile into registers: the loop over
// elements then never re-reads task memory, which the compiler could not assume unchanged across stores.
template <int N>
struct Indexer {
    int ndim;
    bool flat;
    long long size[GPUOS_MAX_DIMS];
    long long stride[N][GPUOS_MAX_DIMS];

    __host__ __device__ __forceinline__ explicit Indexer(const gpuos_task* task) {
        ndim = task->refs[0].ndim;
        flat = true;
#pragma unroll
        for (int k = 0; k < N; ++k) flat = flat && (task->refs[k].flags & GPUOS_REF_CONTIGUOUS);
#pragma unroll
        for (int d = 0; d < GPUOS_MAX_DIMS; ++d) {
            size[d] = d < ndim ? task->refs[0].sizes[d] : 1;
#pragma unroll
            for (int k = 0; k < N; ++k) stride[k][d] = d < ndim ? task->refs[k].strides[d] : 0;
        }
    }

    __host__ __device__ __forceinline__ void offsets(long long i, long long (&o)[N]) const {
        if (flat) {
#pragma unroll
            for (int k = 0; k < N; ++k) o[k] = i;
            return;
        }
#pragma unroll
        for (int k = 0; k < N; ++k) o[k] = 0;
        long long rest = i;
#pragma unroll
        for (int d = GPUOS_MAX_DIMS - 1; d >= 0; --d) {
            if (d < ndim) {
                const long long c = d == 0 ? rest : rest % size[d];
                rest = d == 0 ? 0 : rest / size[d];
#pragma unroll
                for (int k = 0; k < N; ++k) o[k] += c * stride[k][d];
            }
        }
    }
};

// ---- wide (vector) access for dense operands
// V elements of one storage type moved as one access: alignas makes the copy a single ld/st.global.v2/v4
// (16 bytes for the widest operand of a run, fewer for narrower ones in the same run). The alignment is
// checked at run time (dense_aligned), so one compiled operator serves aligned and misaligned views alike.
template <typename S, int V>
struct alignas(sizeof(S) * V) Pack {
    S v[V];
};

// dense_aligned and broadcast_one read only the task, so every thread of the block gets the same answer: the
// branch they guard never diverges.
__host__ __device__ __forceinline__ bool dense_aligned(const gpuos_tensor_ref& r, unsigned int bytes) {
    return (r.flags & GPUOS_REF_CONTIGUOUS) && (r.data & (unsigned long long)(bytes - 1)) == 0;
}

// Every element is element 0 (all strides zero): a broadcast scalar-like tensor, read once per pack.
__host__ __device__ __forceinline__ bool broadcast_one(const gpuos_tensor_ref& r) {
    if (r.flags & GPUOS_REF_CONTIGUOUS) return false;
    for (int d = 0; d < r.ndim; ++d) {
        if (r.strides[d] != 0) return false;
    }
    return true;
}

// Elements [c, c + V) of a dense operand, or V copies of element 0 of a broadcast one.
template <typename S, int V>
__host__ __device__ __forceinline__ Pack<S, V> load_pack(const S* p, long long c, bool one) {
    Pack<S, V> r;
    if (one) {
        const S x = p[0];
#pragma unroll
        for (int j = 0; j < V; ++j) r.v[j] = x;
    } else {
        r = *(const Pack<S, V>*)(p + c);
    }
    return r;
}

template <typename S, int V>
__host__ __device__ __forceinline__ void store_pack(S* p, long long c, const Pack<S, V>& x) {
    *(Pack<S, V>*)(p + c) = x;
}

// The part [vb, ve) of [begin, end) whose bounds are multiples of V (empty: vb == ve). With every operand
// dense from an aligned address, element c of a multiple of V starts an aligned pack in every operand.
template <int V>
__host__ __device__ __forceinline__ void pack_range(long long begin, long long end, long long* vb, long long* ve) {
    const long long b = (begin + (V - 1)) & ~(long long)(V - 1);
    const long long e = end & ~(long long)(V - 1);
    *vb = b < end ? b : end;
    *ve = e > *vb ? e : *vb;
}

}  // namespace gt
