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

    __host__ __device__ __forceinline__ explicit Indexer(const gpuos_task* task) : Indexer(task->refs) {}

    __host__ __device__ __forceinline__ explicit Indexer(const gpuos_tensor_ref* refs) {
        ndim = refs[0].ndim;
        flat = true;
#pragma unroll
        for (int k = 0; k < N; ++k) flat = flat && (refs[k].flags & GPUOS_REF_CONTIGUOUS);
#pragma unroll
        for (int d = 0; d < GPUOS_MAX_DIMS; ++d) {
            size[d] = d < ndim ? refs[0].sizes[d] : 1;
#pragma unroll
            for (int k = 0; k < N; ++k) stride[k][d] = d < ndim ? refs[k].strides[d] : 0;
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

// ---- operand tables (more operands than the descriptor's GPUOS_MAX_REFS inline slots)
// A task of such a structure carries ONE inline operand whose data is the device address of a table of its
// gpuos_tensor_ref records, in operand order; the planner filled the table in device memory before submitting
// the task and leaves it unchanged while the task may run. Whether an operator reads its operands from a table
// is fixed by its structure (more than GPUOS_MAX_REFS operands), so the runtime and the worker never know.
__host__ __device__ __forceinline__ const gpuos_tensor_ref* operand_table(const gpuos_task* task) {
    return (const gpuos_tensor_ref*)task->refs[0].data;
}

// Offsets of one flat index in N table operands that share one shape. Unlike Indexer it keeps only the shape in
// registers and reads each operand's strides from the table when a strided walk needs them (N up to 16 operands
// of 8 strides would not fit the register file); a walk where every operand is contiguous reads none.
template <int N>
struct TableIndexer {
    const gpuos_tensor_ref* refs;
    int ndim;
    bool flat;
    long long size[GPUOS_MAX_DIMS];

    __host__ __device__ __forceinline__ explicit TableIndexer(const gpuos_tensor_ref* r) : refs(r) {
        ndim = r[0].ndim;
        flat = true;
#pragma unroll
        for (int k = 0; k < N; ++k) flat = flat && (r[k].flags & GPUOS_REF_CONTIGUOUS);
#pragma unroll
        for (int d = 0; d < GPUOS_MAX_DIMS; ++d) size[d] = d < ndim ? r[0].sizes[d] : 1;
    }

    __host__ __device__ __forceinline__ void offsets(long long i, long long (&o)[N]) const {
        if (flat) {
#pragma unroll
            for (int k = 0; k < N; ++k) o[k] = i;
            return;
        }
        long long c[GPUOS_MAX_DIMS];
        long long rest = i;
#pragma unroll
        for (int d = GPUOS_MAX_DIMS - 1; d >= 0; --d) {
            c[d] = 0;
            if (d < ndim) {
                c[d] = d == 0 ? rest : rest % size[d];
                rest = d == 0 ? 0 : rest / size[d];
            }
        }
#pragma unroll
        for (int k = 0; k < N; ++k) {
            long long off = 0;
#pragma unroll
            for (int d = 0; d < GPUOS_MAX_DIMS; ++d) {
                if (d < ndim) off += c[d] * refs[k].strides[d];
            }
            o[k] = off;
        }
    }
};

// Offsets in N operands that share one shape whose first rd dims are ROW dims and the rest COLUMN dims (the
// reduced or normalized dims, moved last by the planner): row-fused operators (RowFusedSource) add an
// operand's row part to its data pointer once per row (bases) and walk the row by column offsets. With exactly
// one column dim (what coalescing leaves for rows of dense or uniformly strided memory) an element costs one
// multiply per operand. Only the shape stays in registers across rows: the operators re-read data pointers
// and strides from the (cached) records per row, which keeps wide tasks within the register cap.
template <int N>
struct RowIndexer {
    const gpuos_tensor_ref* refs;
    int rd, nd;
    bool single;
    long long rows, len;

    __host__ __device__ __forceinline__ RowIndexer(const gpuos_tensor_ref* r, int rowDims) : refs(r), rd(rowDims) {
        nd = r[0].ndim;
        single = nd - rd == 1;
        rows = 1;
        len = 1;
        for (int d = 0; d < nd; ++d) {
            if (d < rd) rows *= r[0].sizes[d];
            else len *= r[0].sizes[d];
        }
    }

    // Row part of each operand's offset, and each operand's column stride (used only when single).
    __host__ __device__ __forceinline__ void row(long long index, long long (&b)[N], long long (&cs)[N]) const {
#pragma unroll
        for (int k = 0; k < N; ++k) {
            b[k] = 0;
            cs[k] = single ? refs[k].strides[rd] : 0;
        }
        long long rest = index;
        for (int d = rd - 1; d >= 0; --d) {
            const long long size = refs[0].sizes[d];
            const long long c = rest % size;
            rest /= size;
#pragma unroll
            for (int k = 0; k < N; ++k) b[k] += c * refs[k].strides[d];
        }
    }

    // Column part of element i's offset in each operand.
    __host__ __device__ __forceinline__ void offsets(const long long (&cs)[N], long long i, long long (&o)[N]) const {
        if (single) {
#pragma unroll
            for (int k = 0; k < N; ++k) o[k] = i * cs[k];
            return;
        }
#pragma unroll
        for (int k = 0; k < N; ++k) o[k] = 0;
        long long rest = i;
        for (int d = nd - 1; d >= rd; --d) {
            const long long size = refs[0].sizes[d];
            const long long c = rest % size;
            rest /= size;
#pragma unroll
            for (int k = 0; k < N; ++k) o[k] += c * refs[k].strides[d];
        }
    }
};

}  // namespace gt
