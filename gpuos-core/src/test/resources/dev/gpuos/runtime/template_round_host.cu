// Host harness for TemplateRoundHostTest: runs the worker's own template staging code (patch_template_vector,
// template_task_ok, template_member from worker.cu, compiled __host__ __device__) on the CPU over random
// templates, staged in rounds as the agent stages an expansion, and checks each task's verdict, run mark and
// patched header against a plain reading of the protocol:
//   a task is accepted iff op != OP_EXPAND, 1 <= ntiles <= MAX_TILES_PER_TASK, ndeps <= MAX_DEPS,
//   nrefs <= MAX_REFS, its tileBase continues the prefix sum, and each of its ndeps deps names an earlier task;
//   it is a run member iff it and the task before are single tiles and its only dep is that task.
// Prints "cases N tasks T rejected R members M"; exits non-zero at the first disagreement.
// Usage: template_round_host SEED CASES
#include "worker_host.h"

#include <vector>

namespace {

int fail(int c, unsigned long long i, const char* what, unsigned long long got, unsigned long long want) {
    std::printf("case %d task %llu: %s: got %llu, expected %llu\n", c, i, what, got, want);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    const int cases = seed_and_cases(argc, argv);
    if (cases < 0) return 2;
    static template_round round;
    unsigned long long tasks = 0, rejected = 0, members = 0;
    for (int c = 0; c < cases; ++c) {
        // A template of n tasks; shapes like a decode step's: many-tile matmuls, single-tile row tasks in
        // chains, tasks with several deps whose first is the task just before.
        const unsigned int n = 1 + below(c % 4 == 0 ? 1200 : 64);
        std::vector<gpuos_task> tmpl(n);
        const unsigned long long base = 1000 + below(1u << 20), expTileBase = 5000 + below(1u << 20);
        // Half the templates are well formed; the others have one malformed task, the first the agent must find.
        const unsigned int faultAt = below(2) ? below(n) : n;
        unsigned long long rel = 0;  // relative tileBase of the next task: the prefix sum
        for (unsigned int i = 0; i < n; ++i) {
            gpuos_task& t = tmpl[i];
            std::memset(&t, 0, sizeof t);
            t.op = 1 + below(40);
            t.ntiles = below(4) == 0 ? 1 + below(256) : 1;
            t.tileBase = rel;
            t.nrefs = below(GPUOS_MAX_REFS + 1);
            t.flags = (unsigned short)below(4);
            t.ndeps = i == 0 ? 0 : below(GPUOS_MAX_DEPS + 1);
            for (unsigned int d = 0; d < GPUOS_MAX_DEPS; ++d) t.deps[d] = i == 0 ? 0 : below(i);
            if (t.ndeps > 0 && below(2)) t.deps[0] = i - 1;  // the task just before (a chain)
            // Unused deps hold anything, "later" tasks too: never read.
            for (unsigned int d = t.ndeps; d < GPUOS_MAX_DEPS; ++d) {
                if (below(3) == 0) t.deps[d] = i + below(9);
            }
            for (unsigned int r = 0; r < GPUOS_MAX_REFS; ++r) t.refs[r].data = 0x1000ull * (i + 1) + r;
            if (i == faultAt) {
                switch (below(7)) {
                    case 0: t.op = GPUOS_OP_EXPAND; break;
                    case 1: t.ntiles = 0; break;
                    case 2: t.ntiles = GPUOS_MAX_TILES_PER_TASK + 1 + below(5); break;
                    case 3: t.ndeps = GPUOS_MAX_DEPS + 1 + below(3); break;
                    case 4: t.nrefs = GPUOS_MAX_REFS + 1 + below(3); break;
                    case 5: t.tileBase += 1 + below(3); break;
                    default:
                        if (t.ndeps == 0) t.ndeps = 1;
                        t.deps[below(t.ndeps)] = i + below(3);  // itself or a later task
                        break;
                }
            }
            rel += t.ntiles;
        }
        // Staged in rounds of at most kTemplateRound, as the agent does (one s_round, reused per round); every
        // task before the malformed one was published, so a round's first task continues the prefix sum.
        std::vector<gpuos_task> ring(n);
        unsigned long long published = expTileBase;
        for (unsigned int from = 0; from < n && from <= faultAt;) {
            const unsigned int len = 1 + below(kTemplateRound);
            const unsigned int to = from + len < n ? from + len : n;
            for (unsigned int i = from; i < to; ++i) {
                const unsigned long long at = (unsigned long long)(&tmpl[i]) + 16 * kHeaderVectors;
                for (unsigned int vec = 0; vec < kHeaderVectors; ++vec) {
                    uint4 v = ((const uint4*)&tmpl[i])[vec];
                    patch_template_vector(v, vec, i - from, i, base + i, base, expTileBase, at, &round);
                    ((uint4*)&ring[i])[vec] = v;
                }
            }
            // Up to the malformed task: the agent publishes nothing of a round with a malformed task in it.
            for (unsigned int i = from; i < to && i <= faultAt; ++i) {
                const unsigned int k = i - from;
                const unsigned long long expected = k == 0 ? published : round.tileBase[k - 1] + round.ntiles[k - 1];
                const bool ok = template_task_ok(round, k, expected);
                if (ok != (i != faultAt)) return fail(c, i, "template_task_ok", ok, i != faultAt);
                ++tasks;
                if (!ok) {
                    ++rejected;
                    break;
                }
                const gpuos_task& g = ring[i];
                const gpuos_task& t = tmpl[i];
                if (g.seq != base + i) return fail(c, i, "seq", g.seq, base + i);
                if (g.tileBase != expTileBase + t.tileBase) return fail(c, i, "tileBase", g.tileBase, expTileBase + t.tileBase);
                if (g.flags != (t.flags | GPUOS_TASK_FLAG_REFS_IN_DEVICE)) return fail(c, i, "flags", g.flags, t.flags);
                if (g.refsAt != (unsigned long long)t.refs) return fail(c, i, "refsAt", g.refsAt, (unsigned long long)t.refs);
                if (g.op != t.op || g.ntiles != t.ntiles || g.ndeps != t.ndeps || g.nrefs != t.nrefs) {
                    return fail(c, i, "op/ntiles/ndeps/nrefs", g.op, t.op);
                }
                for (unsigned int d = 0; d < GPUOS_MAX_DEPS; ++d) {
                    if (g.deps[d] != t.deps[d] + base) return fail(c, i, "dep", g.deps[d], t.deps[d] + base);
                }
                const bool member = k > 0 && t.ntiles == 1 && tmpl[i - 1].ntiles == 1 && t.ndeps == 1 && t.deps[0] == i - 1;
                const bool m = template_member(round, k);
                if (m != member) return fail(c, i, "template_member", m, member);
                members += m ? 1 : 0;
                published = g.tileBase + g.ntiles;
            }
            from = to;
        }
    }
    std::printf("cases %d tasks %llu rejected %llu members %llu\n", cases, tasks, rejected, members);
    return 0;
}
