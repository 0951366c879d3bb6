// out = in.index_select(dim, index) for GT_T elements (a bit copy).
// refs[0]: input (its own shape); refs[1]: index, 1-D, I32 or I64; refs[2]: output, contiguous, the input's
// shape with size(dim) = index count; refs[3]: where a bad index is recorded (see below).
// args: 0 = dim, 1 = the task's stamp, or 0 in a captured program (then 2 = the task's number j in its program,
// 3 = the word where the program's fault log starts, 4 = the log's entries). tileSize = output elements per tile.
// An index outside [0, size(dim)) cannot throw here: the element is written as 0 and the first such index of the
// task is recorded for the host to raise when a tensor computed from this one is read.
// - Submitted alone (IndexFaults): refs[3] is the task's own slot, long long[4] = (stamp, index, size, dim); the
//   stamp is larger than any earlier stamp of the slot, and atomicMax makes the first faulting thread of this
//   task the only writer of the details, without clearing the slot first.
// - Captured (ReplayFaults): the same descriptor runs on every replay, so the stamp is the task's seq + 1 (new per
//   run). refs[3] is the program's block: word 0 counts log entries, word 1 + j is task j's atomicMax word, and
//   from word args[3] a ring of args[4] entries (stamp, j, index, size). The first faulting thread of this task in
//   this run appends one entry: the log keeps each run's faults apart, so a tensor computed by an older run still
//   finds its own run's fault after later runs.

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
                    const unsigned long long given = (unsigned long long)gpuos::arg_i64(task, 1);
                    if (given != 0) {
                        if (atomicMax(fault, given) < given) {
                            fault[1] = (unsigned long long)pick;
                            fault[2] = (unsigned long long)limit;
                            fault[3] = (unsigned long long)dim;
                        }
                    } else {
                        const unsigned long long stamp = task->seq + 1;
                        const long long j = gpuos::arg_i64(task, 2);
                        if (atomicMax(fault + 1 + j, stamp) < stamp) {
                            const unsigned long long at = atomicAdd(fault, 1ULL);
                            unsigned long long* e = fault + gpuos::arg_i64(task, 3)
                                    + (at % (unsigned long long)gpuos::arg_i64(task, 4)) * 4;
                            e[0] = stamp;
                            e[1] = (unsigned long long)j;
                            e[2] = (unsigned long long)pick;
                            e[3] = (unsigned long long)limit;
                        }
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
