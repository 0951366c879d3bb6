// Shared by the host harnesses that compile worker.cu itself (template_round_host.cu for TemplateRoundHostTest,
// probed_task_host.cu for ProbedTaskHostTest; WorkerHostHarness builds them): worker.cu with the operator table
// the device link would supply, a seeded xorshift generator, and the harnesses' SEED CASES command line.
#include "worker.cu"

extern "C" __device__ gpuos_op_fn gpuos_op_table[1] = {nullptr};
extern "C" __device__ unsigned int gpuos_op_count = 0;

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

unsigned long long rng_state;
unsigned long long next_u64() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
unsigned int below(unsigned int n) { return (unsigned int)(next_u64() % n); }

// "SEED CASES": seeds the generator and returns CASES; -1 (after the usage line) for any other command line.
int seed_and_cases(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SEED CASES\n", argv[0]);
        return -1;
    }
    rng_state = std::strtoull(argv[1], nullptr, 10) * 0x9E3779B97F4A7C15ull + 1;
    return std::atoi(argv[2]);
}

}  // namespace
