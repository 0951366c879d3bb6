// Host harness for ProbedTaskHostTest: runs the agent's short path decisions from worker.cu (probe_stageable,
// probed_slot_vector, compiled __host__ __device__) on the CPU over random probed descriptors, and checks them
// against a plain reading of the protocol:
//   a probed task takes the short path iff op != OP_EXPAND, its seq is the one probed, 1 <= ntiles <=
//   MAX_TILES_PER_TASK, ndeps <= MAX_DEPS, nrefs <= MAX_REFS, tileBase == pubTiles, its tiles end within
//   tileCapacity of the tile floor, and each of its ndeps deps is an earlier seq;
//   its device-ring copy is the descriptor with the seal word zero and refs[r].data zero for r >= nrefs (unless
//   TASK_FLAG_REFS_IN_DEVICE: then the records are left as read), as the general path leaves a single task.
// Prints "cases N short R rejected J"; exits non-zero at the first disagreement.
// Usage: probed_task_host SEED CASES
#include "worker_host.h"

int main(int argc, char** argv) {
    const int cases = seed_and_cases(argc, argv);
    if (cases < 0) return 2;
    unsigned long long taken = 0, rejected = 0;
    for (int c = 0; c < cases; ++c) {
        const unsigned long long seq = 1 + below(1u << 30), pubTiles = 100 + below(1u << 30);
        const unsigned long long tileCapacity = 1ull << (10 + below(8));
        const unsigned long long tileFloor = pubTiles - below((unsigned int)tileCapacity);
        gpuos_task t;
        unsigned long long* words = (unsigned long long*)&t;
        for (unsigned int w = 0; w < sizeof t / 8; ++w) words[w] = next_u64();  // every word set: nulls must be written
        t.op = 1 + below(40);
        t.seq = seq;
        t.ntiles = below(4) == 0 ? 1 + below(GPUOS_MAX_TILES_PER_TASK) : 1;
        t.tileBase = pubTiles;
        t.ndeps = below(GPUOS_MAX_DEPS + 1);
        t.nrefs = below(GPUOS_MAX_REFS + 1);
        t.flags = (unsigned short)(below(2) ? GPUOS_TASK_FLAG_REFS_IN_DEVICE : 0) | (unsigned short)below(4);
        // Deps beyond ndeps hold anything (never read); a dep at or after seq is defect 6.
        for (unsigned int d = 0; d < GPUOS_MAX_DEPS; ++d) t.deps[d] = d < t.ndeps || below(2) ? seq - 1 - below(1000) : next_u64();
        // One defect in most cases (the first that applies decides), none in the others.
        switch (below(10)) {
            case 0: t.op = (unsigned int)GPUOS_OP_EXPAND; break;
            case 1: t.seq = seq + 1 + below(3); break;
            case 2: t.ntiles = below(2) ? 0 : GPUOS_MAX_TILES_PER_TASK + 1 + below(5); break;
            case 3: t.ndeps = GPUOS_MAX_DEPS + 1 + below(200); break;
            case 4: t.nrefs = GPUOS_MAX_REFS + 1 + below(200); break;
            case 5: t.tileBase = pubTiles + (below(2) ? 1 : -1ull); break;
            case 6: if (t.ndeps > 0) t.deps[below(t.ndeps)] = seq + below(3); break;
            default: break;
        }
        bool want = t.op != (unsigned int)GPUOS_OP_EXPAND && t.seq == seq && t.ntiles >= 1
                    && t.ntiles <= GPUOS_MAX_TILES_PER_TASK && t.ndeps <= GPUOS_MAX_DEPS && t.nrefs <= GPUOS_MAX_REFS
                    && t.tileBase == pubTiles && pubTiles + t.ntiles - tileFloor <= tileCapacity;
        for (unsigned int d = 0; want && d < t.ndeps; ++d) want = t.deps[d] < seq;
        const bool got = probe_stageable(t, seq, pubTiles, tileFloor, tileCapacity);
        if (got != want) {
            std::printf("case %d: short path %d, expected %d (ntiles %u ndeps %u nrefs %u floor gap %llu cap %llu)\n", c,
                        got, want, t.ntiles, (unsigned)t.ndeps, (unsigned)t.nrefs, pubTiles - tileFloor, tileCapacity);
            return 1;
        }
        (got ? taken : rejected)++;
        if (!got || t.nrefs > GPUOS_MAX_REFS) continue;
        // The slot image, against the general path's: a copy, the seal word zeroed, unused records' data nulled.
        gpuos_task expected = t;
        expected.seal = 0;
        if ((t.flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0) {
            for (unsigned int r = t.nrefs; r < GPUOS_MAX_REFS; ++r) expected.refs[r].data = 0;
        }
        gpuos_task slot;
        const bool refsHere = (t.flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0;
        for (unsigned int v = 0; v < kTaskVectors; ++v) {
            ((uint4*)&slot)[v] = probed_slot_vector(((const uint4*)&t)[v], v, t.nrefs, refsHere);
        }
        if (std::memcmp(&slot, &expected, sizeof slot) != 0) {
            for (unsigned int w = 0; w < sizeof slot / 8; ++w) {
                if (((unsigned long long*)&slot)[w] != ((unsigned long long*)&expected)[w]) {
                    std::printf("case %d: slot word %u is %llx, expected %llx (nrefs %u, refs here %d)\n", c, w,
                                ((unsigned long long*)&slot)[w], ((unsigned long long*)&expected)[w], (unsigned)t.nrefs, refsHere);
                    return 1;
                }
            }
        }
    }
    std::printf("cases %d short %llu rejected %llu\n", cases, taken, rejected);
    return 0;
}
