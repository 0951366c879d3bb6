// Device-side support shared by the worker and every operator.
// The struct layouts come from gpuos_layout.cuh, generated from Layouts.java.
#pragma once
#include "gpuos_layout.cuh"

// What an operator sees besides its task: scratch shared memory and where it runs.
struct gpuos_env {
    void* smem;                 // dynamic shared memory of this block, smemBytes long
    unsigned int smemBytes;
    unsigned int generation;
};

typedef void (*gpuos_op_fn)(const gpuos_task* task, unsigned int tile, const gpuos_env* env);

// An operator is written as
//     GPUOS_OP { ...body using task, tile, env... }
// The JIT defines GPUOS_OP_SYMBOL per physical slot so that every version links under its own name.
// The whole block (blockDim.x == GPUOS_BLOCK_THREADS threads) calls the operator for one tile; the worker
// synchronizes the block before and after the call.
//
// Memory rule for operators: inputs may have been written by earlier tasks of the SAME running kernel, so
// never read them through the non-coherent path (__ldg, or const __restrict__ pointers the compiler may turn
// into LDG.CONSTANT). Plain loads are coherent here because the worker performs a gpu-scope acquire before
// calling the operator.
//
// The worker calls an operator through the generation's table: an indirect call under the ABI, where the callee
// saves every callee-saved register it uses. A big operator uses most of them (W7's row step: 48 registers, a
// 192-byte frame stored and loaded back on every call). With GPUOS_LEAN_CALLS (-Dgpuos.jit.leanCalls=true, which
// the JIT passes to EVERY unit of a generation), operators and the worker's call site agree on an ABI that
// preserves fewer data registers (nv_abi preserve_n_data, CUDA 13): the operator saves what little the worker
// keeps live across the call (W7's row step: 8 registers). Caller and callee must agree: a callee preserving fewer
// registers than its caller assumes would corrupt the caller, so the switch is all or nothing per generation.
// 14 is the smallest count under which the worker, compiled by NVRTC 13.0 as the JIT compiles it, spills nothing
// it does not spill under the table's ABI (SASS: at 12 it reloads two spilled words every task, at 10 it spills
// around the call); a small operator may then save a register pair the table's ABI let it use freely (scale4_f32:
// 0 -> 8 bytes). LeanCallCompileTest checks the worker and the frames with nvcc.
#ifdef GPUOS_LEAN_CALLS
#define GPUOS_CALL_ABI _Pragma("nv_abi preserve_n_data(14)")
#else
#define GPUOS_CALL_ABI
#endif
#ifdef GPUOS_OP_SYMBOL
#define GPUOS_OP GPUOS_CALL_ABI extern "C" __device__ __noinline__ void GPUOS_OP_SYMBOL( \
    const gpuos_task* task, unsigned int tile, const gpuos_env* env)
#endif

namespace gpuos {

__device__ __forceinline__ unsigned long long ld_acquire_gpu(const unsigned long long* p) {
    unsigned long long v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned int ld_acquire_gpu(const unsigned int* p) {
    unsigned int v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned long long ld_relaxed_gpu(const unsigned long long* p) {
    unsigned long long v;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned int ld_relaxed_gpu(const unsigned int* p) {
    unsigned int v;
    asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// Two adjacent words (16-byte aligned) in one load: one L2 request, one consistent pair.
__device__ __forceinline__ ulonglong2 ld_relaxed_gpu_v2(const unsigned long long* p) {
    ulonglong2 v;
    asm volatile("ld.relaxed.gpu.global.v2.u64 {%0, %1}, [%2];" : "=l"(v.x), "=l"(v.y) : "l"(p) : "memory");
    return v;
}

// With a preceding ld.relaxed of a flag, the acquire pattern of the PTX memory model: a spin polls with relaxed
// loads (no L1 invalidation per poll, several polls in flight at once) and pays for the acquire once.
__device__ __forceinline__ void fence_acquire_gpu() {
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
}

// Host memory written by Java: system scope, so the host's release store orders the descriptors before it.
__device__ __forceinline__ unsigned long long ld_acquire_sys(const unsigned long long* p) {
    unsigned long long v;
    asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned long long ld_relaxed_sys(const unsigned long long* p) {
    unsigned long long v;
    asm volatile("ld.relaxed.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned int ld_relaxed_sys(const unsigned int* p) {
    unsigned int v;
    asm volatile("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void st_release_gpu(unsigned long long* p, unsigned long long v) {
    asm volatile("st.release.gpu.global.u64 [%0], %1;" :: "l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void st_release_gpu(unsigned int* p, unsigned int v) {
    asm volatile("st.release.gpu.global.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ void st_release_sys(unsigned long long* p, unsigned long long v) {
    asm volatile("st.release.sys.global.u64 [%0], %1;" :: "l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void st_relaxed_sys(unsigned long long* p, unsigned long long v) {
    asm volatile("st.relaxed.sys.global.u64 [%0], %1;" :: "l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void st_relaxed_sys(unsigned int* p, unsigned int v) {
    asm volatile("st.relaxed.sys.global.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ unsigned long long global_ns() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// Element address of a strided operand for a flat (row-major) index, dims broadcast by stride 0.
__device__ __forceinline__ long long offset_of(const gpuos_tensor_ref& r, long long flat) {
    if (r.flags & GPUOS_REF_CONTIGUOUS) return flat;
    long long off = 0;
    for (int d = r.ndim - 1; d >= 0; --d) {
        long long size = r.sizes[d];
        long long i = flat % size;
        flat /= size;
        off += i * r.strides[d];
    }
    return off;
}

// [begin, end) of the elements a tile covers, for operators that tile a flat index space. Host too: tests
// run operators' index walks on the host.
__host__ __device__ __forceinline__ void tile_range(const gpuos_task* task, unsigned int tile, long long numel,
                                           long long* begin, long long* end) {
    long long b = (long long)tile * task->tileSize;
    long long e = b + task->tileSize;
    *begin = b < numel ? b : numel;
    *end = e < numel ? e : numel;
}

__device__ __forceinline__ double arg_f64(const gpuos_task* task, int i) {
    return __longlong_as_double((long long)task->args[i]);
}

__device__ __forceinline__ long long arg_i64(const gpuos_task* task, int i) {
    return (long long)task->args[i];
}

}  // namespace gpuos
