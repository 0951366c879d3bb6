// What a host harness (attention_host.cpp, matmul_host.cpp) needs to run an operator's block on the CPU: the CUDA
// qualifiers defined away, a block of 256 std::threads with barriers for __syncthreads and the warp shuffles, the
// bit casts, the task layout and the worker's argument and tile helpers, and run_blocks, which runs every tile of
// a task as the worker runs a block.
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __align__(n) alignas(n)
#define asm(...)
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct Dim3 { unsigned x; };
thread_local Dim3 threadIdx;
static const Dim3 blockDim{256};
static std::barrier<>* blockBarrier;
static std::barrier<>* warpBarrier[8];
static unsigned long long shuffleSlots[8][32];
inline void __syncthreads() { blockBarrier->arrive_and_wait(); }
template <class T> T __shfl_xor_sync(unsigned, T v, int mask) {
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    memcpy(&shuffleSlots[w][l], &v, sizeof(T));
    warpBarrier[w]->arrive_and_wait();
    T r;
    memcpy(&r, &shuffleSlots[w][l ^ mask], sizeof(T));
    warpBarrier[w]->arrive_and_wait();
    return r;
}
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline double __longlong_as_double(long long u) { double f; memcpy(&f, &u, 8); return f; }
// The host runs a task's tiles one after another, so these are sequentially consistent stand-ins: a harness can
// check what a counter protocol computes (who combines, what is reset), not a missing fence's effect.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
#include "gpuos_layout.cuh"
struct gpuos_env { void* smem; unsigned int smemBytes; unsigned int generation; };
namespace gpuos {
inline long long arg_i64(const gpuos_task* task, int i) { return (long long)task->args[i]; }
inline double arg_f64(const gpuos_task* task, int i) { double d; memcpy(&d, &task->args[i], 8); return d; }
inline void tile_range(const gpuos_task* task, unsigned int tile, long long numel, long long* begin, long long* end) {
    const long long b = (long long)tile * task->tileSize, e = b + task->tileSize;
    *begin = b < numel ? b : numel;
    *end = e < numel ? e : numel;
}
}

// The shared memory of the block run_blocks is running (for harnesses that check an operator's shared accesses).
static unsigned char* hostSmem;
static unsigned hostSmemBytes;

// Every tile of task through op, on one block of 256 threads with smemBytes of shared memory (8 KB, what every
// worker offers, unless said); the block synchronizes after each call, as the worker does. order: the tiles in the
// order they are to run (a permutation of 0..ntiles-1; null: ascending), for operators whose tiles meet through
// counters.
template <class Op> static void run_blocks(gpuos_task& task, Op op, unsigned smemBytes = 8192,
                                           const std::vector<unsigned>* order = nullptr) {
    std::vector<unsigned long long> smem(smemBytes / 8);
    gpuos_env env{smem.data(), smemBytes, 0};
    hostSmem = (unsigned char*)smem.data();
    hostSmemBytes = smemBytes;
    std::barrier<> block(256);
    blockBarrier = &block;
    for (auto& w : warpBarrier) w = new std::barrier<>(32);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < 256; ++i) {
        threads.emplace_back([&, i] {
            threadIdx.x = i;
            for (unsigned t = 0; t < task.ntiles; ++t) {
                op(&task, order ? (*order)[t] : t, &env);
                __syncthreads();
            }
        });
    }
    for (auto& t : threads) t.join();
    for (auto& w : warpBarrier) delete w;
}
