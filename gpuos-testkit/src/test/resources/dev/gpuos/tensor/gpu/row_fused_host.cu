// Host harness for RowFusedHostTest: runs GENERATED row-fused operators (and wide elementwise ones) on the CPU.
// A tile runs as one team of ONE thread (lane 0 of size 1): it walks every row of the tile and every element of
// each row in order, so team reductions are the identity and the order of sums is the CPU backend's. What is
// under test is the generated walk: operand tables, row bases and column offsets, the prologue evaluated per
// pass, which members store, the epilogue on the row op's value, tiles of several rows. The conversions below are
// F32/F64 only (the cases use those dtypes); the team reductions and F16/BF16 conversions are the device's own,
// covered by RowFusionGpuTest.
//
// A RESIDENT row-fused operator (a block holds its row in registers, RowFusedSource) runs as the worker runs it: a
// block of 256 threads (std::thread) with __syncthreads and the warp shuffles emulated, so its per-thread element
// split, its guards and its block reduction with alternating scratch slices are what is under test.
//
// RowFusedHostTest fills in the walk, the operators and one function per case; the program prints
// "cases N fails F" and a FAIL line per wrong element.
#include <cstdio>
#include <cstring>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include "gpuos_device.cuh"

namespace gpuos {
inline double host_arg_f64(const gpuos_task* t, int i) {
    double d;
    memcpy(&d, &t->args[i], 8);
    return d;
}
inline long long host_arg_i64(const gpuos_task* t, int i) { return (long long)t->args[i]; }
}  // namespace gpuos
#define arg_f64 host_arg_f64
#define arg_i64 host_arg_i64

static inline double host_longlong_as_double(long long v) {
    double d;
    memcpy(&d, &v, 8);
    return d;
}
#define __longlong_as_double host_longlong_as_double

namespace gt {
inline float to_f32(float v) { return v; }
inline float to_f32(double v) { return (float)v; }
inline double to_f64(float v) { return v; }
inline double to_f64(double v) { return v; }
template <typename S> S from_f32(float v);
template <> inline float from_f32<float>(float v) { return v; }
template <> inline double from_f32<double>(float v) { return v; }
template <typename S> S from_f64(double v);
template <> inline float from_f64<float>(double v) { return (float)v; }
template <> inline double from_f64<double>(double v) { return v; }

struct Team {
    unsigned int lane, size, index, count;
    bool block;
};
inline Team make_team(bool wholeBlock) { return Team{0, 1, 0, 1, wholeBlock}; }
template <typename T, typename F> inline T team_reduce(const Team&, T v, F, T*) { return v; }

// The emulated block of a resident operator: its barrier (__syncthreads), and each warp's barrier and exchange
// slots for the warp shuffles.
struct HostBarrier {
    std::mutex m;
    std::condition_variable cv;
    unsigned int count = 0, waiting = 0, phase = 0;
    void wait() {
        std::unique_lock<std::mutex> lock(m);
        const unsigned int at = phase;
        if (++waiting == count) {
            waiting = 0;
            ++phase;
            cv.notify_all();
        } else {
            cv.wait(lock, [&] { return phase != at; });
        }
    }
};
static HostBarrier host_block_barrier, host_warp_barrier[GPUOS_BLOCK_THREADS / 32];
static thread_local unsigned int host_lane;
static double host_shuffle[GPUOS_BLOCK_THREADS / 32][32];

inline void host_syncthreads() { host_block_barrier.wait(); }

// Lane l gets lane (l ^ s)'s value: every lane writes, the warp waits, every lane reads, the warp waits again.
template <typename T> inline T host_shfl_xor_sync(unsigned int, T v, int s) {
    const unsigned int w = host_lane >> 5, l = host_lane & 31u;
    host_shuffle[w][l] = (double)v;
    host_warp_barrier[w].wait();
    const T r = (T)host_shuffle[w][l ^ (unsigned int)s];
    host_warp_barrier[w].wait();
    return r;
}
inline void tile_rows(const gpuos_task* task, unsigned int tile, long long rows, long long* begin, long long* end) {
    gpuos::tile_range(task, tile, rows, begin, end);
}
}  // namespace gt
//@WALK@
static thread_local struct { unsigned int x; } host_thread;
static struct { unsigned int x; } host_block;
#define threadIdx host_thread
#define blockDim host_block
#define __syncthreads gt::host_syncthreads
#define __shfl_xor_sync gt::host_shfl_xor_sync
//@OPERATORS@
#undef threadIdx
#undef blockDim
#undef __syncthreads
#undef __shfl_xor_sync

static int cases = 0, fails = 0;

static void check(int c, int out, const float* got, const double* want, long long n) {
    for (long long i = 0; i < n; ++i) {
        const double g = got[i], w = want[i];
        if (!(fabs(g - w) <= 1e-5 * fabs(w) + 1e-6)) {
            if (fails < 20) printf("FAIL case %d output %d element %lld: got %.9g want %.9g\n", c, out, i, g, w);
            fails++;
        }
    }
}

// Runs every tile; a thread of the elementwise walk is one of 256 run one after another.
static void run(void (*op)(const gpuos_task*, unsigned int, const gpuos_env*), const gpuos_task* task) {
    static double smem[1024];
    gpuos_env env{smem, sizeof smem, 0};
    host_block.x = 256;
    for (unsigned int t = 0; t < task->ntiles; ++t) {
        for (unsigned int x = 0; x < 256; ++x) {
            host_thread.x = x;
            op(task, t, &env);
        }
    }
}

// A row-fused operator's team is one thread: thread 0 only.
static void runRows(void (*op)(const gpuos_task*, unsigned int, const gpuos_env*), const gpuos_task* task) {
    static double smem[1024];
    gpuos_env env{smem, sizeof smem, 0};
    host_block.x = 1;
    host_thread.x = 0;
    for (unsigned int t = 0; t < task->ntiles; ++t) op(task, t, &env);
}
// A resident row-fused operator: every tile by a block of GPUOS_BLOCK_THREADS threads, as the worker runs it.
static void runBlockRows(void (*op)(const gpuos_task*, unsigned int, const gpuos_env*), const gpuos_task* task) {
    static double smem[1024];
    gpuos_env env{smem, sizeof smem, 0};
    host_block.x = GPUOS_BLOCK_THREADS;
    gt::host_block_barrier.count = GPUOS_BLOCK_THREADS;
    for (auto& w : gt::host_warp_barrier) w.count = 32;
    for (unsigned int t = 0; t < task->ntiles; ++t) {
        std::vector<std::thread> block;
        for (unsigned int x = 0; x < GPUOS_BLOCK_THREADS; ++x) {
            block.emplace_back([=, &env] {
                host_thread.x = x;
                gt::host_lane = x;
                op(task, t, &env);
            });
        }
        for (auto& th : block) th.join();
    }
}
//@CASES@
int main() {
//@CALLS@
    printf("cases %d fails %d\n", cases, fails);
    return fails != 0;
}
