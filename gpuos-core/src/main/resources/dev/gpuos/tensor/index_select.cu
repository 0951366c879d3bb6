// out = in.index_select(dim, index) for GT_T elements (a bit copy).
// refs[0]: input (its own shape); refs[1]: index, 1-D, I32 or I64; refs[2]: output, contiguous, the input's
// shape with size(dim) = index count; refs[3]: this task's fault slot, long long[4] (IndexFaults).
// args: 0 = dim, 1 = the task's stamp (> 0, larger than any earlier stamp of the slot). tileSize = output
// elements per tile.
// An index outside [0, size(dim)) cannot throw here: the element is written as 0 and the first such index is
// recorded (stamp, index, size, dim) for the host to raise when a tensor computed from this one is read. atomicMax
// makes the first faulting thread of this task the only writer of the details, without clearing the slot first.

GPUOS_OP {
    const gpuos_tensor_ref& in = task->refs[0];
    const gpuos_tensor_ref& index = task->refs[1];
    const gpuos_tensor_ref& out = task->refs[2];
    const GT_T* src = (const GT_T*)in.data;
    GT_T* dst = (GT_T*)out.data;
    const int dim = (int)gpuos::arg_i64(task, 0);
    const long long limit = in.sizes[dim];
    long long begin, end;
    gpuos::tile_range(task, tile, out.numel, &begin, &end);
    for (long long e = begin + threadIdx.x; e < end; e += blockDim.x) {
        long long rest = e, off = 0;
        bool ok = true;
        for (int d = out.ndim - 1; d >= 0; --d) {
            const long long size = out.sizes[d];
            const long long coord = rest % size;
            rest /= size;
            if (d == dim) {
                const long long pick = gt::load_i64(index, coord * index.strides[0]);
                if (pick < 0 || pick >= limit) {
                    ok = false;
                    unsigned long long* fault = (unsigned long long*)task->refs[3].data;
                    const unsigned long long stamp = (unsigned long long)gpuos::arg_i64(task, 1);
                    if (atomicMax(fault, stamp) < stamp) {
                        fault[1] = (unsigned long long)pick;
                        fault[2] = (unsigned long long)limit;
                        fault[3] = (unsigned long long)dim;
                    }
                }
                off += pick * in.strides[d];
            } else {
                off += coord * in.strides[d];
            }
        }
        dst[e] = ok ? src[off] : gt::from_i64<GT_T>(0);
    }
}
