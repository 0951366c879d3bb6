// The GPUOS persistent worker: one generation of it runs as a single cooperative launch.
//
// Block 0 is the AGENT, the only block that touches host memory. It
//   * reads the doorbell (gpuos_host_control.submittedSeq) over PCIe, and while idle, beside it, the next slot
//     of the host ring whole (the PROBE warp, probe_slot): a sealed first task of a submission is staged from
//     that one read,
//   * copies new descriptors from the host ring into the device ring at the same slots (an expansion's from its
//     template in device memory: headers only, its tasks' operand records stay there, see copy_template),
//   * fills the tile map (tile ticket -> task seq), resets the per-task tile counters,
//   * publishes them (pubTiles and pubSeq, in one 16-byte release store),
//   * advances the completion watermark and mirrors it (and faults) to host memory,
//   * honours park and abort requests.
// Its warp 1 is the COMPLETION warp (completion_warp): it advances the watermark and publishes completion on
// its own, polling the done flags, while the other seven warps (the stage threads, named barrier 1) wait for
// PCIe reads and stage; so a completion never waits for a doorbell read, nor staging for a completion. They
// share s_pubSeq (stage -> completion) and s_watermark (completion -> stage, written after completedSeq went to
// the host, so a parking agent that sees the watermark at pubSeq leaves with everything published).
// Every other block is a WORKER. It takes a tile ticket with one atomicAdd, waits until the ticket is
// published, looks its task up in the tile map, loads the descriptor into shared memory (a task flagged
// GPUOS_TASK_FLAG_REFS_IN_DEVICE: its operand records from refsAt, in device memory), waits for the task's
// dependencies, runs the operator for that tile with the whole block, and counts the tile done; the block
// finishing a task's last tile marks the task done (done[slot] = seq + 1, release).
//
// Runs (kRunMember): a task whose only dependency is the task before it, both single tiles, is run by the block
// that ran that task, right after it, with no hand-off at all; the block holding its ticket only marks it done.
// The dependent hand-off (what other dependent tasks pay). A block that waits for a dependency
// has already done everything else: ticket, publication, tile map, descriptor. Thread 0 then polls done[dep]
// with ld.acquire and no back-off (a sleep could only oversleep the dependency's completion; one poll is one L2
// round trip). Each flag has a 128-byte line of its own. So the hand-off is the dependency's release, one L2
// round trip to see it, and a barrier.
// (The protocol before issue 13, with exponential back-off in every poll, dense done flags and one agent loop
// paced by a doorbell read, was slower on every row measured on the H100 and is gone; see the README.)
//
// Why this cannot deadlock. Tickets are handed out in order, and ticket order is task order (tileBase is a
// prefix sum over seq). All blocks of the cooperative launch are co-resident, and a block that holds a
// published ticket never gives it up: it runs it to completion. Dependencies point only to smaller seqs
// (checked by the agent), whose tiles carry smaller tickets. Take the smallest ticket not yet finished: every
// ticket below it is finished, so its task's dependencies (all tiles of smaller seqs, hence smaller tickets)
// are complete, and the block holding it makes progress. By induction every published ticket finishes.
// Spinning without back-off changes none of this: a waiting block holds nothing but its own ticket, and
// co-resident blocks progress independently of how often their neighbours poll (a poll costs an issue slot
// per L2 round trip, not a lock). Aborts stay prompt: a dependency wait looks at the abort flag every 64
// polls, a publication wait every 16.
// Parking keeps this true: the agent stops publishing first, and a block leaves only while holding a ticket
// at or beyond the final pubTiles, so no published ticket is ever abandoned; the next generation restarts the
// cursor at pubTiles.
//
// Memory ordering. Host -> agent: Java stores the descriptors, then the doorbell with release; the agent reads
// the doorbell with ld.acquire.sys, then the descriptors (ordered behind it for the whole block by the barrier).
// While a doorbell read promised more tasks than are published, the agent stages them in later rounds without
// reading it again: the descriptors below that doorbell were ordered by that read's acquire. A probed task: the
// host writes its seal last with release, the agent reads the seal word with ld.acquire.sys (a warp of its own,
// see kProbeWarp), and takes the slot only when the seal matches every word the probe read (probe_slot says why
// that is enough).
// Agent -> workers: descriptors, tile map and counters, then pubSeq and pubTiles with st.release.gpu; workers
// poll pubTiles with ld.acquire.gpu. Worker -> worker (dependencies) and worker -> agent (watermark): operator
// stores, __syncthreads, __threadfence, the tile counter, then done[slot] with st.release.gpu; dependent blocks
// and the completion warp poll it with ld.acquire.gpu. Agent -> host: completedSeq with st.release.sys.
// Faults: a worker writes its fault record (tag last) before it counts the tile, so before the task's done flag,
// and marks the flag (kDoneFaulted); the agent mirrors every record reserved before the done flags it read when
// one of them is marked, and only then publishes completedSeq: the host never sees a faulted task complete
// without its fault.
#include "gpuos_device.cuh"

extern "C" __device__ gpuos_op_fn gpuos_op_table[];
extern "C" __device__ unsigned int gpuos_op_count;

using namespace gpuos;

namespace {

constexpr unsigned int kTaskVectors = sizeof(gpuos_task) / 16;
constexpr int kCopyDepth = 8;
constexpr unsigned int kPublisherThread = 32;  // lane 0 of warp 1: the agent's completion publisher
constexpr unsigned int kHeaderVectors = (unsigned int)(sizeof(gpuos_task) - sizeof(gpuos_tensor_ref) * GPUOS_MAX_REFS) / 16;
constexpr unsigned int kRefVectors = sizeof(gpuos_tensor_ref) / 16;
constexpr unsigned long long kWholeCopyMax = 32;
// A small batch (a whole-descriptor copy) keeps the headers it copied in shared memory too, and the rest of the
// round (expansion check, validation, tile map, publication) reads them there instead of making one L2 round
// trip after another to the ring it just wrote: a round trip's latency is what a single submission waits for.
constexpr unsigned int kStagedHeaderVectors = (unsigned int)kWholeCopyMax * kHeaderVectors;
static_assert(sizeof(gpuos_task) % 16 == 0, "descriptors are copied as 16-byte vectors");

// CMD_PROBED: the probe's task alone, by the short path (see probe_stageable).
enum : int { CMD_IDLE = 0, CMD_STAGE = 1, CMD_EXIT = 2, CMD_PROBED = 3 };

// done[] has GPUOS_DONE_STRIDE_BYTES per task: each flag has its own 128-byte line, so that the block that marks a
// task done and the block spinning on it share the line with nobody (a dense array put 16 flags, and up to 16
// spinning blocks of a dependent chain, on one line).
constexpr unsigned long long kDoneStride = GPUOS_DONE_STRIDE_BYTES / 8;
__device__ __forceinline__ unsigned long long done_slot(unsigned long long seq, unsigned long long mask) {
    return (seq & mask) * kDoneStride;
}

// A task a worker reported a fault for (report_fault: a bad operator slot) is marked done with the top bit set,
// (seq + 1) | kDoneFaulted, so the completion warp reads the fault count (one more L2 round trip before the host
// sees completion) only when a task it passes carries it. Every dependency wait compares done >= seq + 1, which the
// bit keeps true. A many-tile task's tiles pass it on through their counter (kTileFaulted). The agent's own fault
// (a bad descriptor) ends the generation, and its exit path mirrors everything.
constexpr unsigned long long kDoneFaulted = 1ull << 63;
constexpr unsigned int kTileFaulted = 1u << 31;
static_assert(GPUOS_MAX_TILES_PER_TASK < kTileFaulted, "the tile counter's top bit is free");

// RUNS. A task whose only dependency is the task before it, both single tiles and staged in the same round, is a
// run MEMBER: the block running the task before it (the run's leader, which has its inputs in hand the moment its
// own operator's barrier passed) runs it right after, with no hand-off through L2 (no release, no poll, no
// pickup), and the chain goes on while the next task is a member too. The agent marks the device ring's copy of
// each task in its seal word (the host ring's seal, the probe's, means nothing there): kRunMember, and kRunNext
// when the task after it is a member published with it (so a leader that sees kRunNext may load the next slot
// at once: that task is published, and cannot complete before the leader runs it). The block that takes a member's ticket does not run it: it waits until the
// leader has (tileDone[slot] gets kRunRan, with release), then marks it done. So a task completes only once its
// ticket was looked up (the tile map entry of a completed task may be reused), and the deadlock argument stands:
// a member's block waits for a smaller ticket's holder, the leader, which waits for nothing but its own first
// task's dependencies. The leader releases what it ran in batches (kRunBatch tasks, one fence), not one fence
// per task; a traced task, the run's end and a full batch flush them.
// kRunTemplate: with kRunNext, in an expansion: the next task's operand records follow this one's in the template.
constexpr unsigned long long kRunMember = 1, kRunNext = 2, kRunTemplate = 4;
constexpr unsigned int kRunRan = 1u << 30;
constexpr unsigned int kRunBatch = 16;
static_assert(GPUOS_MAX_TILES_PER_TASK < kRunRan, "the tile counter's bit 30 is free");

__device__ __forceinline__ void st_relaxed_gpu(unsigned long long* p, unsigned long long v) {
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" :: "l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ void st_relaxed_gpu(unsigned int* p, unsigned int v) {
    asm volatile("st.relaxed.gpu.global.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}
// One 16-byte global -> shared copy that does not wait (cp.async, L2 only: never a stale L1 line).
__device__ __forceinline__ void cp_async16(void* sharedDst, const void* globalSrc) {
    asm volatile("{\n\t.reg .u64 s;\n\tcvta.to.shared.u64 s, %0;\n\tcp.async.cg.shared.global [s], [%1], 16;\n\t}"
                 :: "l"(sharedDst), "l"(globalSrc) : "memory");
}

// The polls (publication, dependencies, the completion warp's scan): each an ld.acquire, so
// the value seen is usable at once. Measured on the H100 (handoff-3): relaxed polls with one fence.acq_rel.gpu
// after the awaited value saw a dependency 0.38 us sooner but paid 0.35 us (p99 1-3 us) for the fence.
__device__ __forceinline__ unsigned long long poll_gpu(const unsigned long long* p) { return ld_acquire_gpu(p); }
__device__ __forceinline__ ulonglong2 poll_gpu_v2(const unsigned long long* p) {
    ulonglong2 v;
    asm volatile("ld.acquire.gpu.global.v2.u64 {%0, %1}, [%2];" : "=l"(v.x), "=l"(v.y) : "l"(p) : "memory");
    return v;
}

// The agent's STAGE threads: those that read the host ring and publish, every warp but warp 1 (the completion warp, see agent_loop), synchronized by named barrier 1 so
// that the completion warp never waits for them nor they for it.
constexpr unsigned int kStageThreads = GPUOS_BLOCK_THREADS - 32;
__device__ __forceinline__ unsigned int stage_tid() { return threadIdx.x < 32 ? threadIdx.x : threadIdx.x - 32; }
__device__ __forceinline__ void stage_sync() { asm volatile("bar.sync 1, %0;" :: "n"(kStageThreads) : "memory"); }

// Faults are logged, not fatal: the task still counts as finished (so nothing waits forever) and the host
// fails its future from the log the agent mirrors. An entry is claimed by a CAS of its tag to index + 1 with
// kFaultBusy set, only from an older, finished record; the fields follow, the tag's release store last. A writer
// the log lapped (a record GPUOS_FAULT_LOG newer already holds the entry, e.g. 264 blocks faulting at once) drops
// its own record: storing its older tag there left the agent waiting for a tag that could never come, and its
// older fields under the newer tag would have mirrored another task's fault. Waiting for an older writer between
// its claim and its tag is waiting a few stores.
constexpr unsigned long long kFaultBusy = 1ull << 63;
__device__ void report_fault(gpuos_queue_state* st, unsigned long long seq, unsigned int code, unsigned int op) {
    const unsigned long long index = atomicAdd(&st->faultCount, 1ull);
    __threadfence();  // the reservation is visible before the entry changes (mirror_faults relies on it)
    gpuos_fault_entry* e = &st->faultLog[index % GPUOS_FAULT_LOG];
    const unsigned long long want = index + 1;
    for (;;) {
        const unsigned long long tag = ld_acquire_gpu(&e->tag);
        if ((tag & ~kFaultBusy) >= want) return;  // a newer record holds the entry: ours is lost, the host sees the gap
        if (tag & kFaultBusy) {
            __nanosleep(32);
        } else if (atomicCAS(&e->tag, tag, want | kFaultBusy) == tag) {
            break;
        }
    }
    __threadfence();  // the claim is visible before the fields change (mirror_faults rereads the tag after them)
    e->seq = seq;
    e->word = ((unsigned long long)code << 32) | op;
    st_release_gpu(&e->tag, want);
}

__device__ __forceinline__ uint4 ld_volatile_v4(const uint4* p) {
    uint4 v;
    asm volatile("ld.volatile.global.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p) : "memory");
    return v;
}

// Copies device fault records [mirrored, reserved) to the host page in order; returns the new count. An entry
// still being written (reserved, tag not yet stored) is waited for: its writer is a few stores away. Records a
// newer one overwrote before they were copied are skipped: the host sees the gap and counts them as lost, and
// mirroring goes on (waiting for a tag that can no longer appear would stop it for good). An entry is read as a
// seqlock (report_fault): its tag, the fields, the tag again.
__device__ unsigned long long mirror_faults(gpuos_queue_state* st, gpuos_host_control* ctrl,
                                            unsigned long long mirrored, unsigned long long reserved,
                                            unsigned int spinMaxNs) {
    const unsigned long long before = mirrored;
    unsigned int ns = 32;
    while (mirrored < reserved) {
        if (reserved - mirrored > GPUOS_FAULT_LOG) {
            mirrored = reserved - GPUOS_FAULT_LOG;
            continue;
        }
        const unsigned long long want = mirrored + 1;
        const gpuos_fault_entry* e = &st->faultLog[mirrored % GPUOS_FAULT_LOG];
        const unsigned long long tag = ld_acquire_gpu(&e->tag);
        if ((tag & ~kFaultBusy) > want) {  // overwritten (or being overwritten) by a record GPUOS_FAULT_LOG newer
            ++mirrored;
            ns = 32;
            continue;
        }
        if (tag != want) {  // reserved, not yet written (or being written)
            __nanosleep(ns);
            if (ns < spinMaxNs) ns *= 2;
            continue;
        }
        const unsigned long long seq = *(volatile const unsigned long long*)&e->seq;
        const unsigned long long word = *(volatile const unsigned long long*)&e->word;
        __threadfence();
        if (ld_relaxed_gpu(&e->tag) != want) continue;  // claimed by a newer record meanwhile: counted lost next look
        gpuos_fault_entry* m = &ctrl->faultLog[mirrored % GPUOS_FAULT_LOG];
        st_relaxed_sys(&m->seq, seq);
        st_relaxed_sys(&m->word, word);
        st_relaxed_sys(&m->tag, mirrored + 1);
        ++mirrored;
        ns = 32;
    }
    if (mirrored != before) st_release_sys(&ctrl->faultCount, mirrored);
    return mirrored;
}

// Copies vectors [first, first + count) of each descriptor in [from, from + n) from the host ring to the device
// ring. Beyond the header, a vector is copied only if it belongs to one of the task's nrefs operands (the
// header, already in the device ring, says how many); unused operand records are not read at all. A task
// flagged GPUOS_TASK_FLAG_REFS_IN_DEVICE has its operand records in device memory at refsAt (a replayed batch),
// and the host ring holds only its header: the worker running it reads them there.
__device__ void copy_vectors(const gpuos_task* hostRing, gpuos_task* ring, unsigned long long from,
                             unsigned long long n, unsigned int count, unsigned int first, unsigned long long mask,
                             uint4* headers = nullptr) {
    const unsigned long long vectors = n * count;
    for (unsigned long long base = stage_tid(); base < vectors; base += kCopyDepth * kStageThreads) {
        uint4 v[kCopyDepth];
        bool take[kCopyDepth];
#pragma unroll
        for (int j = 0; j < kCopyDepth; ++j) {
            const unsigned long long k = base + (unsigned long long)j * kStageThreads;
            const unsigned long long seq = from + k / count;
            const unsigned int vec = first + (unsigned int)(k % count);
            take[j] = k < vectors;
            const uint4* src = (const uint4*)(hostRing + (seq & mask)) + vec;
            if (take[j] && first > 0) {
                const gpuos_task* t = ring + (seq & mask);
                take[j] = (vec - kHeaderVectors) / kRefVectors < t->nrefs;
                take[j] = take[j] && (t->flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0;
            }
            if (take[j]) v[j] = ld_volatile_v4(src);
        }
#pragma unroll
        for (int j = 0; j < kCopyDepth; ++j) {
            const unsigned long long k = base + (unsigned long long)j * kStageThreads;
            if (take[j]) ((uint4*)(ring + (from + k / count & mask)))[first + k % count] = v[j];
            // A copy of the headers for the rest of the round (see kStagedHeaderVectors).
            if (take[j] && headers != nullptr && first + k % count < kHeaderVectors) {
                headers[(k / count) * kHeaderVectors + first + k % count] = v[j];
            }
        }
    }
}


// A 64-bit word held in two 32-bit lanes of a vector, plus d.
__host__ __device__ __forceinline__ void add_u64(unsigned int& lo, unsigned int& hi, unsigned long long d) {
    const unsigned long long x = (((unsigned long long)hi << 32) | lo) + d;
    lo = (unsigned int)x;
    hi = (unsigned int)(x >> 32);
}

// Tasks of an expansion staged per round, at most: what copy_template learns of each, for validation and the tile
// map, so that neither reads the ring it just wrote (an L2 round trip per pass).
constexpr unsigned int kTemplateRound = 512;
struct template_round {
    unsigned long long tileBase[kTemplateRound];  // absolute
    unsigned int ntiles[kTemplateRound];          // 0: the op is OP_EXPAND, or ntiles is out of range
    unsigned char ndeps[kTemplateRound];          // 0xFF: ndeps or nrefs out of range
    unsigned char depLate[3 * kTemplateRound];    // per dep vector v: bit k set when dep 2v + k is not an earlier task;
                                                  // vector 0's bit 2: dep 0 is the task just before
};

// Whether task i of an expansion's round is a run member (see kRunMember).
// (__host__ too, like the two functions below: TemplateRoundHostTest runs them on the CPU, see template_round_host.cu.)
__host__ __device__ __forceinline__ bool template_member(const template_round& r, unsigned int i) {
    return i > 0 && r.ntiles[i] == 1 && r.ntiles[i - 1] == 1 && r.ndeps[i] == 1 && (r.depLate[3 * i] & 4) != 0;
}

// Bit d set when dep d of task i does not name an earlier task of the template. Two bits per depLate byte: the
// third of the first byte is the run flag, not dep 2's (unmasked, it rejected every task with three or more deps
// whose first was the task just before as malformed, and the worker aborted; TemplateRoundHostTest).
__host__ __device__ __forceinline__ unsigned int template_late_deps(const template_round& r, unsigned int i) {
    return (r.depLate[3 * i] & 3u) | ((r.depLate[3 * i + 1] & 3u) << 2) | ((r.depLate[3 * i + 2] & 3u) << 4);
}

// Whether task i of an expansion's round may be published: a real op, a tile count in range, ndeps and nrefs in
// range, its tiles continuing the ticket prefix sum at expectedBase, and every dep an earlier task.
__host__ __device__ __forceinline__ bool template_task_ok(const template_round& r, unsigned int i,
                                                          unsigned long long expectedBase) {
    const unsigned int ntiles = r.ntiles[i], ndeps = r.ndeps[i];
    return ntiles != 0 && ndeps <= GPUOS_MAX_DEPS && r.tileBase[i] == expectedBase
           && (template_late_deps(r, i) & ((1u << ndeps) - 1)) == 0;
}

// Patches vector vec of the header of the expansion's task `index` (relative to its first seq `base`; staged at
// seq, entry `task` of the round *rd) as it goes from the template to the ring: what copy_template does to each
// vector on the way, and what it records in *rd for validation. `at` is the address of the task's operand
// records in the template.
__host__ __device__ __forceinline__ void patch_template_vector(uint4& v, unsigned int vec, unsigned int task,
                                                               unsigned long long index, unsigned long long seq,
                                                               unsigned long long base, unsigned long long tileBase,
                                                               unsigned long long at, template_round* rd) {
    if (vec == 0) {
        v.z = (unsigned int)seq;
        v.w = (unsigned int)(seq >> 32);
        const bool ok = v.x != (unsigned int)GPUOS_OP_EXPAND && v.y >= 1 && v.y <= GPUOS_MAX_TILES_PER_TASK;
        rd->ntiles[task] = ok ? v.y : 0;
    } else if (vec == 1) {
        add_u64(v.x, v.y, tileBase);
        v.z |= GPUOS_TASK_FLAG_REFS_IN_DEVICE;  // flags: bits 0-15 of .z, ndeps 16-23, nrefs 24-31
        const unsigned int ndeps = (v.z >> 16) & 0xFF, nrefs = v.z >> 24;
        rd->tileBase[task] = ((unsigned long long)v.y << 32) | v.x;
        rd->ndeps[task] = (unsigned char)(ndeps <= GPUOS_MAX_DEPS && nrefs <= GPUOS_MAX_REFS ? ndeps : 0xFF);
    } else if (vec == 2) {
        v.x = (unsigned int)at;
        v.y = (unsigned int)(at >> 32);
    } else if (vec >= 3 && vec <= 5) {
        // Relative deps must name earlier tasks of the template: dep < the task's index.
        const unsigned long long d0 = ((unsigned long long)v.y << 32) | v.x;
        const unsigned long long d1 = ((unsigned long long)v.w << 32) | v.z;
        // bit 2 (vector 3): dep 0 is the task just before (a run member if it is the only one)
        const unsigned int previous = vec == 3 && index >= 1 && d0 == index - 1 ? 4u : 0u;
        rd->depLate[3 * task + vec - 3] = (unsigned char)((d0 >= index ? 1u : 0u) | (d1 >= index ? 2u : 0u) | previous);
        add_u64(v.x, v.y, base);
        add_u64(v.z, v.w, base);
    }
}

// Stages seqs [from, from + n) of an expansion (see GPUOS_OP_EXPAND) from its template in device memory: the
// headers only. The relative fields are made absolute in registers on the way (seq; tileBase from the
// expansion's first tile; deps from its first seq: all six words, since the ones beyond ndeps are never read),
// and each task is flagged GPUOS_TASK_FLAG_REFS_IN_DEVICE with refsAt at its own operand records in the template:
// the worker that runs it reads them there (it loads its descriptor anyway), so the agent, one block staging for
// all the others, copies 144 bytes per task instead of up to 656. Volatile loads: the template's memory may have
// held an earlier template whose lines an L1 still caches. What validation needs of each task goes to *rd on the
// way (n <= kTemplateRound).
__device__ void copy_template(const gpuos_task* tmpl, gpuos_task* ring, unsigned long long from, unsigned long long n,
                              unsigned long long base, unsigned long long tileBase, unsigned long long mask,
                              template_round* rd) {
#ifndef __CUDACC_RTC__  // NVRTC has no offsetof; nvcc checks these in CI (NvccCompileTest)
    static_assert(kHeaderVectors == 9 && offsetof(gpuos_task, op) == 0 && offsetof(gpuos_task, ntiles) == 4
                  && offsetof(gpuos_task, seq) == 8 && offsetof(gpuos_task, tileBase) == 16
                  && offsetof(gpuos_task, ndeps) == 26 && offsetof(gpuos_task, nrefs) == 27
                  && offsetof(gpuos_task, flags) == 24 && offsetof(gpuos_task, refsAt) == 32
                  && offsetof(gpuos_task, deps) == 48 && offsetof(gpuos_task, refs) == 16 * kHeaderVectors
                  && GPUOS_MAX_DEPS == 6, "copy_template patches the header by vector: vector 0 holds seq, "
                  "vector 1 tileBase and flags, vector 2 refsAt, vectors 3-5 the six deps");
#endif
    // kCopyDepth loads in flight per thread before the first store, as in copy_vectors.
    const unsigned long long headers = n * kHeaderVectors;
    for (unsigned long long k0 = stage_tid(); k0 < headers; k0 += kCopyDepth * kStageThreads) {
        uint4 v[kCopyDepth];
#pragma unroll
        for (int j = 0; j < kCopyDepth; ++j) {
            const unsigned long long k = k0 + (unsigned long long)j * kStageThreads;
            if (k < headers) v[j] = ld_volatile_v4((const uint4*)(tmpl + (from - base + k / kHeaderVectors)) + k % kHeaderVectors);
        }
#pragma unroll
        for (int j = 0; j < kCopyDepth; ++j) {
            const unsigned long long k = k0 + (unsigned long long)j * kStageThreads;
            if (k >= headers) continue;
            const unsigned long long task = k / kHeaderVectors;
            const unsigned int vec = (unsigned int)(k % kHeaderVectors);
            const unsigned long long at = (unsigned long long)(tmpl + (from - base + task)) + 16 * kHeaderVectors;
            patch_template_vector(v[j], vec, (unsigned int)task, from - base + task, from + task, base, tileBase, at, rd);
            ((uint4*)(ring + ((from + task) & mask)))[vec] = v[j];
        }
    }
}

// The agent's PROBE warp (warp 2, stage threads): while the agent knows of nothing more to stage, each round
// reads the next slot of the host ring whole, beside the doorbell read, and the agent takes it when it holds that
// seq's descriptor, sealed by the host (TaskSeal: the first task of every submission is). A single submission
// then costs the agent ONE PCIe round trip (this read), not a doorbell read followed by a descriptor read.
// The 41 loads may be served in any order, so the new seq proves nothing about the rest; the seal, a hash of
// every word the task uses and of the queue's salt, does. The seal itself is read with ld.acquire.sys: once it
// is seen, everything the host wrote before it (with release, last) is ordered before the block's later work, as
// the doorbell's acquire orders it otherwise.
//
// ONE PCIe round trip per idle round, not two (issue 13, trip-4). The H100 legs said an idle round took two:
// the doorbell leg alone (thread 0: three relaxed loads, then the acquire) was 4.5 us where a 41-vector
// parallel read of a descriptor cost 2.3-2.5 us more. An acquire load makes its warp wait for it (its L1
// invalidation waits for the value), so whatever the warp issues after it, in program order or on the other
// side of a divergent branch, starts one round trip late. So every host read of a round is issued by a warp of
// its own, before anything waits: the doorbell line (submittedSeq, parkRequest, abortRequest) by thread 0 as ONE
// 16-byte acquire, traceSeq by kTraceWarp, the seal by kSealWarp (acquire, alone), the slot's vectors by the
// probe warp (volatile, all of them, none waiting). Thread 0 checks the seal against the probe's sum after the
// barrier. Measured on the H100 (GPU check trip-4-1): the round's reads 4.4-4.7 -> 3.2 us.
constexpr unsigned int kProbeWarp = 2;
constexpr unsigned int kTraceWarp = 3, kSealWarp = 4;
constexpr unsigned int kSealVector = GPUOS_SEAL_WORD / 2;
static_assert(kTaskVectors > 32 && kTaskVectors <= 64 && kSealVector < 64 - kTaskVectors,
              "probe_slot: lane L loads vector L, the top kTaskVectors - 32 lanes one more; the seal's lane only one");
static_assert(kTraceWarp * 32 < GPUOS_BLOCK_THREADS && kSealWarp * 32 < GPUOS_BLOCK_THREADS && kTraceWarp != 1
              && kSealWarp != 1 && kProbeWarp != 1, "the reading warps are stage warps (warp 1 is the completion warp)");

#ifndef __CUDACC_RTC__  // NVRTC has no offsetof; nvcc checks these in CI (NvccCompileTest)
static_assert(offsetof(gpuos_host_control, submittedSeq) % 16 == 0
              && offsetof(gpuos_host_control, parkRequest) == offsetof(gpuos_host_control, submittedSeq) + 8
              && offsetof(gpuos_host_control, abortRequest) == offsetof(gpuos_host_control, submittedSeq) + 12,
              "the agent reads the doorbell, parkRequest and abortRequest as one 16-byte vector");
#endif
__device__ __forceinline__ ulonglong2 ld_acquire_sys_v2(const unsigned long long* p) {
    ulonglong2 v;
    asm volatile("ld.acquire.sys.global.v2.u64 {%0, %1}, [%2];" : "=l"(v.x), "=l"(v.y) : "l"(p) : "memory");
    return v;
}

// The probe warp's part: every vector of the slot with a volatile load (none waits for another), into s_probe;
// lane 0 leaves the seq it read and the seal's sum over the sealed words it read (seal word excluded) in
// s_probeRead[0..1]. Whether they match the seal kSealWarp acquired is thread 0's check, after the barrier.
__device__ void probe_slot(const gpuos_task* hostRing, unsigned long long seq, unsigned long long mask,
                           uint4* s_probe, volatile unsigned long long* s_probeRead) {
    const unsigned int lane = threadIdx.x & 31;
    constexpr unsigned int kExtra = kTaskVectors - 32;  // vectors 32.. go to the top kExtra lanes
    const uint4* src = (const uint4*)(hostRing + (seq & mask));
    const bool two = lane >= 32 - kExtra;
    const uint4 a = ld_volatile_v4(src + lane);
    uint4 b = make_uint4(0, 0, 0, 0);
    if (two) b = ld_volatile_v4(src + lane + kExtra);
    s_probe[lane] = a;
    if (two) s_probe[lane + kExtra] = b;
    // Vector 1 holds flags (bits 0-15 of .z) and nrefs (bits 24-31), vector 0 the seq (.z, .w).
    const unsigned int v1z = __shfl_sync(~0u, a.z, 1);
    const unsigned int words = gpuos_sealed_words(v1z & 0xFFFFu, v1z >> 24);
    unsigned long long sum = 0;
    const unsigned int vectors[2] = {lane, lane + kExtra};
    const uint4 vs[2] = {a, b};
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        if (k == 1 && !two) break;
        const unsigned int w0 = 2 * vectors[k];
        const unsigned long long lo = ((unsigned long long)vs[k].y << 32) | vs[k].x;
        const unsigned long long hi = ((unsigned long long)vs[k].w << 32) | vs[k].z;
        if (w0 < words && w0 != GPUOS_SEAL_WORD) sum += gpuos_seal_mix(lo, w0);
        if (w0 + 1 < words && w0 + 1 != GPUOS_SEAL_WORD) sum += gpuos_seal_mix(hi, w0 + 1);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(~0u, sum, o);
    if (lane == 0) {
        s_probeRead[0] = ((unsigned long long)a.w << 32) | a.z;
        s_probeRead[1] = sum;
    }
}

// Whether the probe's task (what the probe read, in s_probe) may be published by the SHORT PATH (CMD_PROBED): a
// real task (not an expansion header), valid as the general path validates (seq, tile counts and the ticket
// prefix sum, deps), whose tiles fit in the tile map above the floor already known. The general path (CMD_STAGE)
// takes everything else, expansions and malformed descriptors (its fault) included. Why a short path: a single
// task through the general one paid four phases of thread-0 bookkeeping between ten barriers (copy 0.70 +
// validate 0.48 + map 0.67 + publish 0.38 us on the H200 legs) for work one barrier and one release can do: write
// the slot and its tile-map entries, then publish. Measured on the H100 (trip-4-1): the probed task's copy,
// validation and tile map 2.2 -> 0.26 us.
// (__host__ too, like probed_slot_vector: ProbedTaskHostTest runs both on the CPU, see probed_task_host.cu.)
__host__ __device__ __forceinline__ bool probe_stageable(const gpuos_task& t, unsigned long long seq,
                                                         unsigned long long pubTiles, unsigned long long tileFloor,
                                                         unsigned long long tileCapacity) {
    const unsigned int ntiles = t.ntiles, ndeps = t.ndeps;
    bool ok = t.op != GPUOS_OP_EXPAND && t.seq == seq && ntiles >= 1 && ntiles <= GPUOS_MAX_TILES_PER_TASK
              && ndeps <= GPUOS_MAX_DEPS && t.nrefs <= GPUOS_MAX_REFS && t.tileBase == pubTiles
              && pubTiles + ntiles - tileFloor <= tileCapacity;
    for (unsigned int d = 0; ok && d < ndeps; ++d) ok = t.deps[d] < seq;
    return ok;
}

// Vector v of the device ring's copy of a probed task x, as the short path writes it: what the general path leaves
// in the slot (the seal word cleared: no run marks for a task alone; gpuos_tensor_ref.data, a record's first
// word, zero in the records beyond nrefs, unless the records come from refsAt, whose worker nulls them).
__host__ __device__ __forceinline__ uint4 probed_slot_vector(uint4 x, unsigned int v, unsigned int nrefs, bool refsHere) {
    if (v == GPUOS_SEAL_WORD / 2) {
        if (GPUOS_SEAL_WORD & 1) {
            x.z = x.w = 0;
        } else {
            x.x = x.y = 0;
        }
    }
    if (refsHere && v >= kHeaderVectors && (v - kHeaderVectors) % kRefVectors == 0 && (v - kHeaderVectors) / kRefVectors >= nrefs) {
        x.x = x.y = 0;
    }
    return x;
}

// The agent's COMPLETION warp (warp 1), apart from the stage threads so that a task's completion reaches the host
// without waiting for a PCIe read of the doorbell or a staging round: it polls the done flags above the
// watermark (4 per lane, 128 per L2 round trip; while the oldest task runs, only its flag), and when the
// watermark moved, lane 0 mirrors the
// faults and publishes completedSeq (and the device watermark), then tells the stage threads through
// s_watermark, which they read for parking and the tile map's floor. Leaves when the stage threads set
// s_agentExit. faultsMirrored is lane 0's count, which the agent's exit path continues from.
__device__ void completion_warp(const gpuos_params& p, const unsigned long long* done, unsigned long long mask,
                                volatile unsigned long long& s_watermark, volatile unsigned long long& s_pubSeq,
                                volatile unsigned long long& s_traceSeq, volatile int& s_agentExit,
                                unsigned long long& faultsMirrored, volatile unsigned long long* s_prof) {
    gpuos_queue_state* st = (gpuos_queue_state*)p.state;
    gpuos_host_control* ctrl = (gpuos_host_control*)p.control;
    const unsigned int lane = threadIdx.x & 31;
    unsigned long long w = s_watermark, heartbeat = 0;
    bool waiting = false;  // the last scan found the oldest task incomplete
    bool faulted = false;  // a flag read since the last publication carried kDoneFaulted
    for (;;) {
        // Lane 0 reads the shared words, so that every lane acts on the same values.
        unsigned long long ps = 0;
        int leave = 0;
        if (lane == 0) {
            leave = s_agentExit;
            ps = s_pubSeq;
            if ((++heartbeat & 4095) == 0) st_relaxed_sys(&ctrl->heartbeat, heartbeat);
        }
        leave = __shfl_sync(~0u, leave, 0);
        ps = __shfl_sync(~0u, ps, 0);
        if (leave) return;
        if (w >= ps) {
            __nanosleep(64);  // nothing published is incomplete; the stage threads publish through s_pubSeq
            continue;
        }
        if (waiting) {
            // Only the oldest task's flag, which is what the watermark waits for: one load per round trip rather
            // than 128, so that the wait takes little from the stage threads' copies on this SM.
            unsigned long long v = 0;
            if (lane == 0) v = poll_gpu(&done[done_slot(w, mask)]);
            v = __shfl_sync(~0u, v, 0);
            if ((v & ~kDoneFaulted) != w + 1) continue;
            faulted = (v & kDoneFaulted) != 0;
        }
        // Up to 8 steps of 128 flags before publishing, so a flood of completions is published in few PCIe
        // writes; a step that finds an incomplete task ends the scan.
        const unsigned long long from = w;
        if (waiting) {
            ++w;  // the oldest, seen done just above
            waiting = false;
        } else {
            faulted = false;
        }
        for (int round = 0; round < 8 && w < ps; ++round) {
            const unsigned long long first = w + 4ull * lane;
            unsigned long long v[4];
#pragma unroll
            for (int j = 0; j < 4; ++j) v[j] = first + j < ps ? poll_gpu(&done[done_slot(first + j, mask)]) : 0;
            unsigned int complete = 0;  // leading complete flags of this lane's four
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                complete += (complete == (unsigned int)j && (v[j] & ~kDoneFaulted) == first + j + 1) ? 1u : 0u;
            }
            // (a stale flag's bit, of the slot's previous task, only costs an unneeded fault-count read)
            faulted |= __any_sync(~0u, ((v[0] | v[1] | v[2] | v[3]) & kDoneFaulted) != 0);
            const unsigned int partial = __ballot_sync(~0u, complete < 4);
            const int firstPartial = partial ? __ffs(partial) - 1 : 32;
            const unsigned int completeThere = __shfl_sync(~0u, complete, firstPartial & 31);
            w += firstPartial == 32 ? 128 : 4ull * firstPartial + completeThere;
            if (firstPartial != 32) break;
        }
        if (w == from) {
            waiting = true;  // the oldest task still runs: poll its flag again at once
            continue;
        }
        // Every lane's flags (each an acquire) before what lane 0 publishes.
        __syncwarp();
        if (lane == 0) {
            // Every fault of a task below the watermark was reserved before that task's done flag, read above:
            // mirror them all before the host may see the task complete. Only a flag marked kDoneFaulted says
            // there are any.
            const unsigned long long faultsBefore = faultsMirrored;
            if (faulted) {
                faultsMirrored = mirror_faults(st, ctrl, faultsMirrored, ld_acquire_gpu(&st->faultCount), p.spinMaxNs);
            }
            // The traced task's stamp goes out after completedSeq: a write to host memory before it would be
            // one more thing the fence waits for, in the very leg it measures.
            const unsigned long long traced = s_traceSeq;
            const unsigned long long tCompleted = traced >= from && traced < w ? global_ns() : 0;
            // The host reads results only through copies the device's engines make
            // after it saw this word, at gpu scope, so a gpu-scope fence suffices unless fault records went out.
            // An acq_rel fence (with the relaxed store after it, a release) is all that ordering asks for;
            // __threadfence(), a sequentially consistent fence, was stronger than needed on the path every
            // completion takes to the host. (Not measured on its own: trip-4-1 measured it with the changes above.)
            if (faultsMirrored != faultsBefore) {
                st_release_sys(&ctrl->completedSeq, w);
            } else {
                fence_acquire_gpu();
                st_relaxed_sys(&ctrl->completedSeq, w);
            }
            if (tCompleted != 0) st_relaxed_sys(&ctrl->traceCompleted, tCompleted);
            s_prof[7] = s_prof[7] + 1;
            // The device copy (st->watermark) is read only by the next generation: written once, at exit, so the
            // line the workers poll for publication takes no store per completion.
            s_watermark = w;
        }
        __syncwarp();
    }
}

__device__ void agent_loop(const gpuos_params& p) {
    __shared__ int s_cmd;
    __shared__ unsigned long long s_from, s_to, s_end, s_pubTiles, s_badSeq;
    // Read by one role while the other writes them (the completion warp runs apart from the stage threads).
    __shared__ volatile unsigned long long s_watermark, s_pubSeq, s_traceSeq;
    __shared__ volatile int s_agentExit;
    // The staging profile (HostControl.agentProfile): thread 0's, but for the completion count (word 7).
    __shared__ volatile unsigned long long s_prof[GPUOS_AGENT_PROFILE_WORDS];
    __shared__ unsigned long long s_lastEnd, s_expandAt, s_expBase, s_expTemplate, s_expTileBase;
    __shared__ int s_fromTemplate;
    __shared__ __align__(16) uint4 s_headers[kStagedHeaderVectors];
    __shared__ template_round s_round;

    gpuos_queue_state* st = (gpuos_queue_state*)p.state;
    gpuos_host_control* ctrl = (gpuos_host_control*)p.control;
    gpuos_task* ring = (gpuos_task*)p.ring;
    const gpuos_task* hostRing = (const gpuos_task*)p.hostRing;
    unsigned long long* tileMap = (unsigned long long*)p.tileMap;
    unsigned int* tileDone = (unsigned int*)p.tileDone;
    unsigned long long* done = (unsigned long long*)p.done;
    const unsigned long long mask = p.capacity - 1;
    const unsigned long long tileMask = p.tileCapacity - 1;

    // Agent-private copies; the device state is their published form. Thread 0 owns publication (pubSeq,
    // pubTiles, tileFloor, parking), thread kPublisherThread owns completion (completionPublished,
    // faultsMirrored, heartbeat); shared memory carries what one needs of the other's.
    unsigned long long pubSeq = 0, pubTiles = 0, tileFloor = 0;
    unsigned long long faultsMirrored = 0;
    // Thread 0: the expansion being staged (pubSeq < expEnd), continued from the state a parked generation left.
    unsigned long long expBase = 0, expEnd = 0, expTemplate = 0, expTileBase = 0;
    int parking = 0;
    // Thread 0's: the last doorbell and trace request read from the host page, and busy rounds since (shared
    // memory: registers are what the staging copies need).
    __shared__ unsigned long long s_knownSubmitted, s_knownTraceSeq;
    __shared__ unsigned int s_busyRounds;
    // The probe (probe_slot): the slot the probe warp reads this round (~0: none), whether it held that task,
    // sealed, and what it read; the queue's seal salt.
    __shared__ unsigned long long s_probeSlot, s_sealSalt;
    __shared__ int s_probeOk, s_fromProbe;
    __shared__ __align__(16) uint4 s_probe[kTaskVectors];
    // A round's host reads, each by a warp of its own (see kProbeWarp): whether this round reads the host line
    // (thread 0 plans it at the end of the round before), traceSeq as read, and the probe's seq, sum and the
    // acquired seal.
    __shared__ int s_readHost;
    __shared__ unsigned long long s_hostTraceSeq;
    __shared__ volatile unsigned long long s_probeRead[3];
    if (threadIdx.x == 0) s_readHost = 1;
    if (threadIdx.x == 0) {
        s_knownSubmitted = 0;
        s_knownTraceSeq = ~0ull;
        s_busyRounds = 0;
        s_probeSlot = ~0ull;
        s_probeOk = 0;
        s_fromProbe = 0;
        s_sealSalt = ld_relaxed_sys(&ctrl->sealSalt);
    }
    if (threadIdx.x == 0) {
        pubSeq = ld_acquire_gpu(&st->pubSeq);
        pubTiles = ld_acquire_gpu(&st->pubTiles);
        const unsigned long long watermark = ld_acquire_gpu(&st->watermark);
        tileFloor = watermark < pubSeq ? ring[watermark & mask].tileBase : pubTiles;
        parking = ld_acquire_gpu(&st->parking) != 0;
        expBase = ld_acquire_gpu(&st->expBase);
        expEnd = ld_acquire_gpu(&st->expEnd);
        expTemplate = ld_acquire_gpu(&st->expTemplate);
        expTileBase = ld_acquire_gpu(&st->expTileBase);
        st_relaxed_sys(&ctrl->generation, p.generation);
        st_relaxed_sys(&ctrl->agentState, (unsigned int)GPUOS_AGENT_RUNNING);
        s_watermark = watermark;
        s_pubSeq = pubSeq;
        s_traceSeq = ~0ull;
        s_agentExit = 0;
        for (int i = 0; i < GPUOS_AGENT_PROFILE_WORDS; ++i) s_prof[i] = 0;
    }
    if (threadIdx.x == kPublisherThread) {
        faultsMirrored = ld_acquire_sys(&ctrl->faultCount);
    }
    __syncthreads();

    // Thread 0, at the end of a round: whether the next one reads the host line. While an earlier doorbell read
    // promised more tasks than are published it need not (see step 1), but every 8th such round still does, so
    // park, abort and trace requests are seen within 8 rounds.
    auto plan_host_read = [&](unsigned long long published) -> int {
        return !(s_knownSubmitted > published && (++s_busyRounds & 7) != 0);
    };
    if ((threadIdx.x >> 5) == kPublisherThread / 32) {
        completion_warp(p, done, mask, s_watermark, s_pubSeq, s_traceSeq, s_agentExit, faultsMirrored, s_prof);
    } else
    for (;;) {
        // 1. This round's host reads, each issued by a warp of its own so that none waits for another (see
        //    kProbeWarp): one PCIe round trip for the round.
        unsigned long long submitted = 0, traceSeq = ~0ull, roundStart = 0;
        unsigned int parkRequest = 0, abortRequest = 0;
        {
            const bool readHost = s_readHost != 0;
            const unsigned long long probeSlot = s_probeSlot;
            const unsigned int warp = threadIdx.x >> 5;
            if (threadIdx.x == 0) {
                roundStart = global_ns();
                if (readHost) {
                    // Acquire: the descriptors this round copies are ordered after it. The line's first 16 bytes in
                    // one load: the doorbell, and the park and abort requests beside it.
                    const ulonglong2 line = ld_acquire_sys_v2(&ctrl->submittedSeq);
                    submitted = line.x;
                    parkRequest = (unsigned int)line.y;
                    abortRequest = (unsigned int)(line.y >> 32);
                } else {
                    // While an earlier doorbell read promised more tasks than are published, stage them without
                    // waiting for another PCIe round trip: that read's acquire already orders their descriptors.
                    submitted = s_knownSubmitted;
                    traceSeq = s_knownTraceSeq;
                }
            } else if (warp == kTraceWarp) {
                if ((threadIdx.x & 31) == 0 && readHost) s_hostTraceSeq = ld_relaxed_sys(&ctrl->traceSeq);
            } else if (warp == kSealWarp) {
                if ((threadIdx.x & 31) == 0 && probeSlot != ~0ull) {
                    s_probeRead[2] = ld_acquire_sys(&((const unsigned long long*)(hostRing + (probeSlot & mask)))[GPUOS_SEAL_WORD]);
                }
            } else if (warp == kProbeWarp && probeSlot != ~0ull) {
                probe_slot(hostRing, probeSlot, mask, s_probe, s_probeRead);
            }
        }
        stage_sync();
        if (threadIdx.x == 0) {
            if (s_readHost) traceSeq = s_hostTraceSeq;
            // The probe's verdict: the slot held that seq, and the seal it acquired is the one of the words it read.
            s_probeOk = s_probeSlot != ~0ull && s_probeRead[0] == s_probeSlot && s_probeRead[2] == s_sealSalt + s_probeRead[1];
        }

        if (threadIdx.x == 0) {
            const unsigned long long watermark = s_watermark;
            s_traceSeq = traceSeq;
            // An expansion's tasks come from device memory: its header promised them, doorbell or not (the header
            // may have come from a probe, before its doorbell).
            if (pubSeq < expEnd && submitted < expEnd) submitted = expEnd;
            s_knownSubmitted = submitted;
            s_knownTraceSeq = traceSeq;
            const bool probed = s_probeOk != 0 && s_probeSlot == pubSeq;
            s_probeOk = 0;
            s_probeSlot = ~0ull;
            s_fromProbe = 0;
            int cmd = CMD_IDLE;
            if (abortRequest != 0) {
                st_release_gpu(&st->abort, 1u);
                cmd = CMD_EXIT;
            } else {
                if (!parking && parkRequest == p.generation) {
                    parking = 1;
                    st_release_gpu(&st->parking, 1u);
                }
                if (!parking && probed) {
                    // The probe found the next task, sealed (the first of a submission): stage it from what the
                    // probe read, whatever the doorbell says. A doorbell read in the same round usually shows it
                    // too (the host rings right after sealing), and copying it again would cost a second PCIe
                    // round trip (measured: the agent's read leg 8.5 us when it did). The rest of a longer
                    // submission follows in the next round, which needs no doorbell read for it.
                    s_from = pubSeq;
                    s_to = pubSeq + 1;
                    s_fromTemplate = 0;
                    s_fromProbe = 1;
                    s_pubTiles = pubTiles;
                    // (the traced task's stamps go out after its publication, see there)
                    cmd = probe_stageable(*(const gpuos_task*)s_probe, pubSeq, pubTiles, tileFloor, p.tileCapacity)
                              ? CMD_PROBED : CMD_STAGE;
                } else
                if (!parking && submitted > pubSeq) {
                    s_from = pubSeq;
                    unsigned long long to = submitted - pubSeq > p.stageChunk ? pubSeq + p.stageChunk : submitted;
                    // Inside an expansion the next tasks come from its template; the host never wrote their slots.
                    s_fromTemplate = pubSeq < expEnd;
                    if (pubSeq < expEnd && to > expEnd) to = expEnd;
                    if (pubSeq < expEnd && to - pubSeq > kTemplateRound) to = pubSeq + kTemplateRound;
                    s_to = to;
                    s_expBase = expBase;
                    s_expTemplate = expTemplate;
                    s_expTileBase = expTileBase;
                    s_pubTiles = pubTiles;
                    cmd = CMD_STAGE;
                } else if (parking && watermark == pubSeq) {
                    cmd = CMD_EXIT;
                }
            }
            // Idle and nothing known beyond pubSeq: probe the next slot in the next round.
            if (cmd == CMD_IDLE && !parking && submitted <= pubSeq) s_probeSlot = pubSeq;
            if (cmd != CMD_STAGE && cmd != CMD_PROBED) s_readHost = plan_host_read(pubSeq);  // a staging round plans at its end
            s_cmd = cmd;
            s_badSeq = ~0ull;
            // Otherwise no sleep: the PCIe read of the doorbell paces an idle round, and a new submission
            // should be seen by the read that follows it, not one a sleep later.
        }
        stage_sync();
        const int cmd = s_cmd;
        if (cmd == CMD_EXIT) break;

        // 3. The probe's task alone, by the short path (probe_stageable said it is valid and fits): its slot, with
        //    the seal word cleared (no run marks: a task alone is no run member) and null pointers in the operand
        //    records beyond nrefs (unless they come from refsAt, whose worker nulls them), its tile-map entries and
        //    tile counter; one barrier; the publication, as the general path makes it.
        if (cmd == CMD_PROBED) {
            const unsigned long long seq = s_from;
            unsigned long long tDecided = 0;
            if (threadIdx.x == 0) tDecided = global_ns();
            const gpuos_task* t = (const gpuos_task*)s_probe;
            const unsigned int nrefs = t->nrefs, ntiles = t->ntiles;
            const bool refsHere = (t->flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0;
            const unsigned long long tileBase = t->tileBase;
            uint4* slot = (uint4*)(ring + (seq & mask));
            for (unsigned int v = stage_tid(); v < kTaskVectors; v += kStageThreads) {
                slot[v] = probed_slot_vector(s_probe[v], v, nrefs, refsHere);
            }
            for (unsigned int j = stage_tid(); j < ntiles; j += kStageThreads) tileMap[(tileBase + j) & tileMask] = seq;
            if (threadIdx.x == 0) tileDone[seq & mask] = 0;
            stage_sync();
            if (threadIdx.x == 0) {
                const unsigned long long tCopied = global_ns();
                pubSeq = seq + 1;
                pubTiles = tileBase + ntiles;
                // One release store, as the general path's (the barrier above put every stage thread's stores before it).
                asm volatile("st.release.gpu.global.v2.u64 [%0], {%1, %2};"
                             :: "l"(&st->pubTiles), "l"(pubTiles), "l"(pubSeq) : "memory");
                s_pubSeq = pubSeq;
                const unsigned long long tPublished = global_ns();
                s_prof[0] = s_prof[0] + 1;
                s_prof[1] = s_prof[1] + 1;
                s_prof[2] = s_prof[2] + (tDecided - roundStart);
                s_prof[3] = s_prof[3] + (tCopied - tDecided);
                s_prof[6] = s_prof[6] + (tPublished - tCopied);
                if (traceSeq == seq) {
                    st_relaxed_sys(&ctrl->traceDoorbell, roundStart);
                    st_relaxed_sys(&ctrl->traceRead, tCopied);
                    st_relaxed_sys(&ctrl->tracePublished, tPublished);
                    for (int i = 0; i < GPUOS_AGENT_PROFILE_WORDS; ++i) st_relaxed_sys(&ctrl->agentProfile[i], s_prof[i]);
                }
                if (!parking && s_knownSubmitted <= pubSeq && pubSeq >= expEnd) s_probeSlot = pubSeq;
                s_readHost = plan_host_read(pubSeq);
            }
            stage_sync();
            continue;
        }

        // 4. Stage: copy descriptors, fill the tile map, publish.
        if (cmd == CMD_STAGE) {
            const unsigned long long from = s_from;
            // Thread 0's stamps for the profile: decided, copied, validated, mapped.
            unsigned long long tDecided = 0, tCopied = 0, tValidated = 0, tMapped = 0;
            if (threadIdx.x == 0) tDecided = global_ns();
            // Whether s_headers holds the headers of [from, s_to) (and header(seq) may read them there).
            bool staged = false;
            auto header = [&](unsigned long long seq) -> const gpuos_task* {
                return staged ? (const gpuos_task*)(s_headers + (seq - from) * kHeaderVectors) : ring + (seq & mask);
            };
            if (!s_fromTemplate) {
                const unsigned long long n = s_to - from;
                // 16-byte vectors, kCopyDepth loads in flight per thread before the first store, to cover PCIe
                // latency. Small batches copy whole descriptors in one pass (latency); larger ones copy the
                // headers, then only the operand records each task uses (bandwidth: a 0-operand task is 128
                // bytes, not 640).
                const bool probed = s_fromProbe != 0;
                const bool whole = probed || n <= kWholeCopyMax;
                staged = whole;
                if (probed) {
                    // The descriptor the probe read (n == 1): no second read over PCIe.
                    for (unsigned int v = stage_tid(); v < kTaskVectors; v += kStageThreads) {
                        ((uint4*)(ring + (from & mask)))[v] = s_probe[v];
                        if (v < kHeaderVectors) s_headers[v] = s_probe[v];
                    }
                } else
                copy_vectors(hostRing, ring, from, n, whole ? kTaskVectors : kHeaderVectors, 0, mask,
                             staged ? s_headers : nullptr);
                if (threadIdx.x == 0) s_expandAt = ~0ull;
                stage_sync();
                // An expansion header ends what the host ring holds: the host never wrote the slots of its tasks.
                for (unsigned long long seq = from + stage_tid(); seq < from + n; seq += kStageThreads) {
                    if (header(seq)->op == GPUOS_OP_EXPAND) atomicMin(&s_expandAt, seq);
                }
                stage_sync();
                if (threadIdx.x == 0 && s_expandAt != ~0ull) {
                    const gpuos_task* h = header(from);
                    const unsigned long long count = h->args[0];
                    if (s_expandAt != from) {
                        s_to = s_expandAt;  // stage up to it; the next round starts with it
                    } else if (count >= 1 && count <= p.capacity && h->refsAt != 0 && (h->refsAt & 15) == 0) {
                        expBase = from;
                        expEnd = from + count;
                        expTemplate = h->refsAt;
                        expTileBase = h->tileBase;
                        // Kept in device memory: a generation parked mid-expansion hands it to the next one.
                        st_release_gpu(&st->expBase, expBase);
                        st_release_gpu(&st->expEnd, expEnd);
                        st_release_gpu(&st->expTemplate, expTemplate);
                        st_release_gpu(&st->expTileBase, expTileBase);
                        s_fromTemplate = 1;
                        // A probed header came alone; its tasks are in device memory: stage a chunk of them.
                        if (probed) s_to = from + p.stageChunk;
                        s_to = s_to < expEnd ? s_to : expEnd;
                        if (s_to - from > kTemplateRound) s_to = from + kTemplateRound;
                        // Known work: the next rounds stage it without reading the doorbell (see step 1).
                        if (s_knownSubmitted < expEnd) s_knownSubmitted = expEnd;
                        s_expBase = expBase;
                        s_expTemplate = expTemplate;
                        s_expTileBase = expTileBase;
                    }
                    // else: a malformed header stays in the ring, and validation below rejects it.
                }
                stage_sync();
                staged = staged && !s_fromTemplate;  // an expansion's tasks come from its template
                if (!s_fromTemplate) {
                    const unsigned long long m = s_to - from;
                    if (!whole) {
                        copy_vectors(hostRing, ring, from, m, kTaskVectors - kHeaderVectors, kHeaderVectors, mask);
                    }
                }
            }
            if (s_fromTemplate) {
                copy_template((const gpuos_task*)s_expTemplate, ring, from, s_to - from, s_expBase, s_expTileBase, mask,
                              &s_round);
            }
            stage_sync();
            const unsigned long long to = s_to;
            if (threadIdx.x == 0) tCopied = global_ns();
            // One thread per task (many tasks in flight, not one L2 round trip after another): validate, tile
            // bases included (each must continue the ticket prefix sum). An expansion's round checks what
            // copy_template kept in shared memory (the template's relative deps, the rest as in the ring).
            const bool fromTemplate = s_fromTemplate != 0;
            unsigned long long runMarks = 0;  // 2 bits per seq this thread validates (host rounds)
            if (fromTemplate) {
                for (unsigned long long seq = from + stage_tid(); seq < to; seq += kStageThreads) {
                    const unsigned int i = (unsigned int)(seq - from);
                    const unsigned long long expectedBase =
                        i == 0 ? s_pubTiles : s_round.tileBase[i - 1] + s_round.ntiles[i - 1];
                    if (!template_task_ok(s_round, i, expectedBase)) atomicMin(&s_badSeq, seq);
                    if (seq == to - 1) s_lastEnd = s_round.tileBase[i] + s_round.ntiles[i];
                }
            } else
            for (unsigned long long seq = from + stage_tid(); seq < to; seq += kStageThreads) {
                const gpuos_task* t = header(seq);
                const gpuos_task* prev = seq == from ? t : header(seq - 1);
                const unsigned long long expectedBase = seq == from ? s_pubTiles : prev->tileBase + prev->ntiles;
                const unsigned int ntiles = t->ntiles;
                const unsigned int ndeps = t->ndeps;
                bool ok = t->seq == seq && t->op != GPUOS_OP_EXPAND && ntiles >= 1 && ntiles <= GPUOS_MAX_TILES_PER_TASK
                          && ndeps <= GPUOS_MAX_DEPS && t->nrefs <= GPUOS_MAX_REFS && t->tileBase == expectedBase;
                for (unsigned int d = 0; ok && d < ndeps; ++d) ok = t->deps[d] < seq;
                if (!ok) atomicMin(&s_badSeq, seq);
                if (seq == to - 1) s_lastEnd = t->tileBase + ntiles;  // saves thread 0 a dependent L2 read
                // Run marks (see kRunMember), kept for the tile-map pass (same thread, same seqs); none in a round
                // too long for 32 per thread (stageChunk > 7168), so that every mark is consistent with its neighbour's.
                const unsigned long long iter = (seq - from) / kStageThreads;
                if (to - from <= 32 * kStageThreads) {
                    const bool member = seq > from && ntiles == 1 && ndeps == 1 && t->deps[0] == seq - 1 && prev->ntiles == 1;
                    bool next = false;
                    if (seq + 1 < to && ntiles == 1) {
                        const gpuos_task* n = header(seq + 1);
                        next = n->ntiles == 1 && n->ndeps == 1 && n->deps[0] == seq;
                    }
                    runMarks |= ((member ? kRunMember : 0) | (next ? kRunNext : 0)) << (2 * iter);
                }
            }
            stage_sync();
            if (threadIdx.x == 0) {
                tValidated = global_ns();
                s_end = from;
                if (s_badSeq != ~0ull) {
                    // A malformed descriptor would break the ticket prefix sum: stop everything, loudly.
                    report_fault(st, s_badSeq, GPUOS_FAULT_BAD_DESCRIPTOR, 0);
                    st_release_gpu(&st->abort, 1u);
                    s_cmd = CMD_EXIT;
                } else {
                    // Publish the longest prefix whose tiles fit in the tile map (tickets below the first tile
                    // of the oldest incomplete task are finished, so their map entries may be reused). The floor
                    // only grows, so a remembered one is a safe bound; it is re-read only when that bound fails.
                    unsigned long long end = to;
                    if (s_lastEnd - tileFloor > p.tileCapacity) {
                        const unsigned long long watermark = s_watermark;
                        tileFloor = watermark < pubSeq ? ring[watermark & mask].tileBase : pubTiles;
                        while (end > from) {
                            const gpuos_task* last = header(end - 1);
                            if (last->tileBase + last->ntiles - tileFloor <= p.tileCapacity) break;
                            --end;
                        }
                    }
                    s_end = end;
                }
            }
            stage_sync();
            if (s_cmd == CMD_EXIT) break;
            // Only now claim tile-map entries, and only for that prefix: the entries the rest would take may
            // still belong to published tickets that no block has looked up yet.
            const unsigned long long end = s_end;
            if (fromTemplate) {
                // Every task of an expansion has its records at refsAt: nothing to null in the ring.
                for (unsigned long long seq = from + stage_tid(); seq < end; seq += kStageThreads) {
                    const unsigned int i = (unsigned int)(seq - from);
                    const unsigned int ntiles = s_round.ntiles[i];
                    const unsigned long long tileBase = s_round.tileBase[i];
                    for (unsigned int j = 0; j < ntiles; ++j) tileMap[(tileBase + j) & tileMask] = seq;
                    tileDone[seq & mask] = 0;
                    // (kRunNext only toward a task published with this one: see kRunMember)
                    const bool next = seq + 1 < end && template_member(s_round, i + 1);
                    ring[seq & mask].seal = (template_member(s_round, i) ? kRunMember : 0) | (next ? kRunNext | kRunTemplate : 0);
                }
            } else
            for (unsigned long long seq = from + stage_tid(); seq < end; seq += kStageThreads) {
                const gpuos_task* h = header(seq);
                const unsigned int ntiles = h->ntiles;
                const unsigned long long tileBase = h->tileBase;
                for (unsigned int j = 0; j < ntiles; ++j) tileMap[(tileBase + j) & tileMask] = seq;
                tileDone[seq & mask] = 0;
                const unsigned long long iter = (seq - from) / kStageThreads;
                const unsigned long long marks = to - from <= 32 * kStageThreads ? (runMarks >> (2 * iter)) & 3 : 0;
                ring[seq & mask].seal = seq + 1 < end ? marks : marks & ~kRunNext;
                // Operand records beyond nrefs were not copied: never let an operator see a stale pointer there.
                // (A task whose records are at refsAt gets them, and the null pointers, from its worker.)
                if ((h->flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0)
                for (unsigned int r = h->nrefs; r < GPUOS_MAX_REFS; ++r) ring[seq & mask].refs[r].data = 0;
            }
            stage_sync();
            if (threadIdx.x == 0) tMapped = global_ns();
            if (threadIdx.x == 0 && end > from) {
                // Both words in ONE release store (adjacent and 16-byte aligned, see wait_published): one fence
                // where a fence and two releases paid three, each waiting for the store before it. The barrier
                // above puts every stage thread's descriptor and tile-map stores before it (a release is
                // cumulative), as it does for a worker's operator stores before done.
                pubSeq = end;
                if (end == to) {
                    pubTiles = s_lastEnd;
                } else {
                    const gpuos_task* last = header(end - 1);
                    pubTiles = last->tileBase + last->ntiles;
                }
                asm volatile("st.release.gpu.global.v2.u64 [%0], {%1, %2};"
                             :: "l"(&st->pubTiles), "l"(pubTiles), "l"(pubSeq) : "memory");
                s_pubSeq = pubSeq;
                const unsigned long long tPublished = global_ns();
                s_prof[0] = s_prof[0] + 1;
                s_prof[1] = s_prof[1] + (end - from);
                s_prof[2] = s_prof[2] + (tDecided - roundStart);
                s_prof[3] = s_prof[3] + (tCopied - tDecided);
                s_prof[4] = s_prof[4] + (tValidated - tCopied);
                s_prof[5] = s_prof[5] + (tMapped - tValidated);
                s_prof[6] = s_prof[6] + (tPublished - tMapped);
                if (traceSeq >= from && traceSeq < end) {
                    // The round's stamps of the traced task, only now: a write to host memory before the
                    // publication would be one more thing its release waits for.
                    st_relaxed_sys(&ctrl->traceDoorbell, roundStart);
                    st_relaxed_sys(&ctrl->traceRead, tCopied);
                    st_relaxed_sys(&ctrl->tracePublished, tPublished);
                    for (int i = 0; i < GPUOS_AGENT_PROFILE_WORDS; ++i) st_relaxed_sys(&ctrl->agentProfile[i], s_prof[i]);
                }
                // Everything known is published: probe the next slot in the next round.
                if (!parking && s_knownSubmitted <= pubSeq && pubSeq >= expEnd) s_probeSlot = pubSeq;
            }
            if (threadIdx.x == 0) s_readHost = plan_host_read(pubSeq);
            stage_sync();
        }
    }

    if (threadIdx.x == 0) s_agentExit = 1;  // the completion warp leaves its loop
    __syncthreads();
    if (threadIdx.x == kPublisherThread) {
        // Whatever made the agent leave (a bad descriptor, an abort), the host should be able to read why.
        mirror_faults(st, ctrl, faultsMirrored, ld_acquire_gpu(&st->faultCount), p.spinMaxNs);
        *(volatile unsigned long long*)&st->watermark = s_watermark;  // for the next generation
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned int state = ld_acquire_gpu(&st->abort) ? GPUOS_AGENT_ABORTED : GPUOS_AGENT_PARKED;
        if (state == GPUOS_AGENT_PARKED) {
            __threadfence_system();
        }
        st_relaxed_sys(&ctrl->agentState, state);
        __threadfence_system();
    }
}

// Thread 0 of a worker block: waits until its ticket is published (or the generation ends); 1 = leave. Leaves
// in *hint the seq the ticket's task would have if every task published since were a single tile (a guess, see
// worker_loop).
__device__ __forceinline__ int wait_published(gpuos_queue_state* st, unsigned long long ticket, unsigned int spinMaxNs,
                                              unsigned long long* hint, unsigned long long* pubSeqSeen = nullptr) {
    *hint = ~0ull;
#ifndef __CUDACC_RTC__  // NVRTC has no offsetof; nvcc checks these in CI (NvccCompileTest)
    static_assert(offsetof(gpuos_queue_state, pubTiles) % 16 == 0
                  && offsetof(gpuos_queue_state, pubSeq) == offsetof(gpuos_queue_state, pubTiles) + 8
                  && offsetof(gpuos_queue_state, abort) == offsetof(gpuos_queue_state, parking) + 4
                  && offsetof(gpuos_queue_state, parking) % 8 == 0, "wait_published loads these words in pairs");
#endif
    for (unsigned int polls = 0;; ++polls) {
        // One load per poll (pubTiles and pubSeq together); parking and abort, one more, every 16th poll.
        const ulonglong2 pub = poll_gpu_v2(&st->pubTiles);
        const unsigned long long published = pub.x;
        if (ticket < published) {
            *hint = pub.y - (published - ticket);
            if (pubSeqSeen != nullptr) *pubSeqSeen = pub.y;
            return 0;
        }
        unsigned int abort = 0, parking = 0;
        if ((polls & 15) == 0) {
            const unsigned long long flags = ld_relaxed_gpu((const unsigned long long*)&st->parking);
            parking = (unsigned int)flags;
            abort = (unsigned int)(flags >> 32);
        }
        if (abort) return 1;
        if (parking) {
            // pubTiles is final once parking is set (the agent's release of parking comes after its last
            // publication): leave only with a ticket nobody published.
            fence_acquire_gpu();
            const ulonglong2 last = poll_gpu_v2(&st->pubTiles);
            if (pubSeqSeen != nullptr) *pubSeqSeen = last.y;
            return ticket < last.x ? 0 : 1;
        }
        // The block holding the next ticket spins (it is the one a new submission waits for); blocks further
        // back in line poll less.
        const unsigned long long distance = ticket - published;
        if (distance > 0) __nanosleep(distance >= spinMaxNs / 64 ? spinMaxNs : (unsigned int)distance * 64);
    }
}

// Thread 0 of a worker block: waits until every dependency of the task in s_task is done; 1 = leave (abort).
__device__ __forceinline__ int wait_dependencies(gpuos_queue_state* st, const gpuos_task& task,
                                                 const unsigned long long* done, unsigned long long mask,
                                                 unsigned int spinMaxNs, unsigned long long* seenAt) {
    const unsigned int ndeps = task.ndeps;
    // No back-off: a dependency is an earlier task that is running or about to (its tiles hold smaller tickets),
    // so the wait ends when that task does, and a sleep would only add to the chain. One poll is one L2 round
    // trip. Abort is looked at every 64 polls.
    (void)spinMaxNs;
    for (unsigned int d = 0; d < ndeps; ++d) {
        const unsigned long long dep = task.deps[d];
        const unsigned long long* flag = &done[done_slot(dep, mask)];
        unsigned int polls = 0;
        while (poll_gpu(flag) < dep + 1) {
            if ((++polls & 63) == 0 && ld_relaxed_gpu(&st->abort)) return 1;
        }
    }
    if (seenAt != nullptr) *seenAt = global_ns();
    return 0;
}

__device__ void worker_loop(const gpuos_params& p, const gpuos_env& env) {
    __shared__ unsigned long long s_seq, s_ticket;
    __shared__ unsigned int s_tile;
    __shared__ int s_exit;
    // The slot whose descriptor the block loads while thread 0 reads the tile map (see below), and the previous
    // task of this block with the ticket after its last tile.
    __shared__ unsigned long long s_hint, s_prevSeq, s_prevEnd;
    // Runs (see kRunMember): pubSeq as this block's acquire of its ticket saw it (every seq below is published),
    // the next task's descriptor (loaded while the current one runs), and the completions the leader has not
    // released yet: seqs [s_pendFirst, s_pendFirst + s_pendCount), the first the leader's own task when
    // s_pendOwn (done[]), the others members (tileDone[] gets kRunRan), fault bits by position.
    __shared__ unsigned long long s_pubSeqSeen, s_pendFirst;
    __shared__ unsigned int s_pendCount, s_pendFaults, s_pendOwn;
    __shared__ int s_runOn;
    if (threadIdx.x == 0) {
        s_prevEnd = 0;
        s_pendCount = 0;
    }
    // Thread 0's timestamps of a traced task (dependency wait begins, last dependency seen, after the acquire,
    // operator starts), written to the host page only after done: a store to host memory before the release would lengthen the
    // very hand-off it measures. Shared memory, not registers live across the operator call.
    __shared__ unsigned long long s_stamps[4];
    // The task's descriptor, copied once per tile: the operator (and the dependency check) read it from shared
    // memory instead of going back to L2 after every acquire has invalidated L1. It is loaded before the
    // dependency wait, so a dependent block waits with everything but its inputs in hand. Two buffers: the task in
    // hand (s_task, buffer cur) and the next one of a run, loaded while it runs (s_next); a member that follows
    // becomes the task in hand by swapping them (cur, uniform over the block), not by a copy and its barriers.
    __shared__ __align__(16) gpuos_task s_desc[2];
    unsigned int cur = 0;
#define s_task s_desc[cur]
#define s_next s_desc[cur ^ 1u]

    gpuos_queue_state* st = (gpuos_queue_state*)p.state;
    gpuos_host_control* ctrl = (gpuos_host_control*)p.control;
    const gpuos_task* ring = (const gpuos_task*)p.ring;
    const unsigned long long* tileMap = (const unsigned long long*)p.tileMap;
    unsigned int* tileDone = (unsigned int*)p.tileDone;
    unsigned long long* done = (unsigned long long*)p.done;
    const unsigned long long mask = p.capacity - 1;
    const unsigned long long tileMask = p.tileCapacity - 1;
    const unsigned int opCount = gpuos_op_count;

    // Thread 0: a traced task's stamps, after its completion was released (see s_stamps).
    auto write_stamps = [&](unsigned long long seq, unsigned long long tEnd) {
        const unsigned long long tReleased = global_ns();
        unsigned long long* stamps = &ctrl->traceTask[GPUOS_TRACE_TASK_STAMPS * (seq & 1)];
        static_assert(GPUOS_TRACE_TASK_STAMPS == 6, "wait, seen, ready, start, end, released");
        for (int i = 0; i < 4; ++i) st_relaxed_sys(&stamps[i], s_stamps[i]);
        st_relaxed_sys(&stamps[4], tEnd);
        st_relaxed_sys(&stamps[5], tReleased);
        st_relaxed_sys(&ctrl->traceStart, s_stamps[3]);
        st_relaxed_sys(&ctrl->traceEnd, tEnd);
    };
    // Thread 0, after the barrier that follows the operator: counts the tile, and marks the task done when it was
    // its last. The barrier puts the block's operator stores before this thread's release in causality order, so
    // the release (cumulative) publishes them with the task's completion.
    auto finish = [&](unsigned long long seq, unsigned int ntiles, bool faulted, bool traced, unsigned long long tEnd) {
        bool finished = ntiles == 1;
        if (finished) {
            st_release_gpu(&done[done_slot(seq, mask)], (seq + 1) | (faulted ? kDoneFaulted : 0));
        } else {
            __threadfence();
            const unsigned int add = 1u + (faulted ? kTileFaulted : 0u);
            const unsigned int counted = atomicAdd(&tileDone[seq & mask], add) + add;
            if ((counted & ~kTileFaulted) == ntiles) {
                __threadfence();
                const bool anyFaulted = (counted & kTileFaulted) != 0;
                st_release_gpu(&done[done_slot(seq, mask)], (seq + 1) | (anyFaulted ? kDoneFaulted : 0));
                finished = true;
            }
        }
        if (traced && finished) write_stamps(seq, tEnd);
    };
    // A task whose operand records are at refsAt (a template's own, or a replayed batch's), not in the ring slot:
    // one more L2 round trip, before any dependency wait, instead of a copy by the agent, which stages for every
    // block. Records beyond nrefs get a null pointer, as the agent gives them in the ring.
    auto load_device_refs = [&]() {
        if ((s_task.flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE) == 0) return;
        const uint4* src = (const uint4*)s_task.refsAt;
        const unsigned int nrefs = s_task.nrefs;
        for (unsigned int v = threadIdx.x; v < GPUOS_MAX_REFS * kRefVectors; v += blockDim.x) {
            if (v / kRefVectors < nrefs) {
                ((uint4*)s_task.refs)[v] = ld_volatile_v4(src + v);
            } else if (v % kRefVectors == 0) {
                ((uint4*)s_task.refs)[v] = make_uint4(0, 0, 0, 0);
            }
        }
        __syncthreads();
    };

    for (;;) {
        // The tile map read and the descriptor load are two dependent L2 round trips; guess the seq instead and
        // make them one: the block's previous task while the ticket is still among its tiles (a many-tile task),
        // else the seq the ticket has if the tasks since it are single tiles. The guess is kept only when it IS
        // the seq the tile map names (then the slot loaded is that task's: a published slot holds its task until
        // the task completes, and the task of a held ticket has not); otherwise the mapped slot is loaded again.
        // (Not "when the loaded seq field matches": a never-written slot reads seq 0, which matches task 0.)
        if (threadIdx.x == 0) {
            unsigned long long hint;
            const unsigned long long ticket = atomicAdd(&st->tileCursor, 1ull);
            unsigned long long seen = 0;
            const int leave = wait_published(st, ticket, p.spinMaxNs, &hint, &seen);
            s_pubSeqSeen = seen;
            s_hint = ticket < s_prevEnd ? s_prevSeq : hint;
            s_ticket = ticket;
            s_exit = leave;
        }
        __syncthreads();
        if (s_exit) return;
        {
            unsigned long long mapped = 0;
            if (threadIdx.x == 0) mapped = *(volatile const unsigned long long*)&tileMap[s_ticket & tileMask];
            // Ordered after thread 0's acquire of pubTiles by the barrier; volatile: L2, never a stale L1 line.
            const unsigned long long hint = s_hint;
            for (unsigned int v = threadIdx.x; v < kTaskVectors; v += blockDim.x) {
                ((uint4*)&s_task)[v] = ld_volatile_v4((const uint4*)(ring + (hint & mask)) + v);
            }
            if (threadIdx.x == 0) s_seq = mapped;
        }
        __syncthreads();
        if (s_hint != s_seq) {
            const unsigned long long mapped = s_seq;
            __syncthreads();  // every thread compared before any overwrites s_task
            for (unsigned int v = threadIdx.x; v < kTaskVectors; v += blockDim.x) {
                ((uint4*)&s_task)[v] = ld_volatile_v4((const uint4*)(ring + (mapped & mask)) + v);
            }
            __syncthreads();
        }
        const unsigned long long seq0 = s_seq;
        if (threadIdx.x == 0) {
            s_prevSeq = seq0;
            s_prevEnd = s_task.tileBase + s_task.ntiles;
        }
        if (s_task.seal & kRunMember) {
            // A run member: the block holding the ticket before runs it (see kRunMember). Mark it done once it
            // ran; the leader's release of kRunRan, acquired here, puts its operator's stores before ours.
            if (threadIdx.x == 0) {
                unsigned int polls = 0, ran;
                int leave = 0;
                while (((ran = ld_acquire_gpu(&tileDone[seq0 & mask])) & kRunRan) == 0) {
                    if ((++polls & 63) == 0 && ld_relaxed_gpu(&st->abort)) {
                        leave = 1;
                        break;
                    }
                }
                if (!leave) {
                    st_release_gpu(&done[done_slot(seq0, mask)], (seq0 + 1) | ((ran & kTileFaulted) ? kDoneFaulted : 0));
                }
                s_exit = leave;
            }
            __syncthreads();
            if (s_exit) return;
            continue;
        }
        load_device_refs();
        // A task, then the run members after it, if any: each pass of this loop runs s_task.
        unsigned long long seq = seq0;
        bool member = false;  // s_task is a run member this block runs as its leader
        for (;;) {
            const bool traced = (s_task.flags & GPUOS_TASK_FLAG_TRACE) != 0;
            const unsigned int op = s_task.op;
            // The operator's address, loaded before the dependency wait: the table is the generation's and never
            // changes, but the wait's acquire invalidates L1, and a load after it went to L2 between "dependency
            // seen" and "operator starts" (one more serialized round trip per dependent task).
            const gpuos_op_fn fn = op < opCount ? gpuos_op_table[op] : nullptr;
            if (!member) {
                if (threadIdx.x == 0) {
                    if (traced) s_stamps[0] = s_stamps[1] = global_ns();
                    const int leave = wait_dependencies(st, s_task, done, mask, p.spinMaxNs, traced ? &s_stamps[1] : nullptr);
                    if (traced) s_stamps[2] = global_ns();
                    s_tile = (unsigned int)(s_ticket - s_task.tileBase);
                    s_exit = leave;
                }
                __syncthreads();
                if (s_exit) return;
            } else if (traced && threadIdx.x == 0) {
                // A member's only dependency is the task this block ran just before it, and the barrier that ended
                // that task's pass set up this one (its tile, its records): it is ready at once.
                s_stamps[0] = s_stamps[1] = s_stamps[2] = global_ns();
            }
            const gpuos_task* task = &s_task;
            // Read before the tile is counted: once it is, the task may complete and its slot be reused.
            const unsigned int ntiles = task->ntiles;
            // The next task, if it may be a member, loads while this one runs (its seq is published: below what
            // this block's acquire saw, see kRunMember).
            // In an expansion (kRunTemplate) the next task's records follow this one's in the template: they load
            // from there at once (inside the template: that task exists), checked against its refsAt below.
            const bool prefetch = (s_task.seal & kRunNext) != 0 && seq + 1 < s_pubSeqSeen;
            const unsigned long long refsGuess = (s_task.seal & kRunTemplate) && (s_task.flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE)
                                                     ? s_task.refsAt + sizeof(gpuos_task) : 0;
            if (prefetch) {
                for (unsigned int v = threadIdx.x; v < kTaskVectors; v += blockDim.x) {
                    const uint4* src = refsGuess != 0 && v >= kHeaderVectors
                                           ? (const uint4*)refsGuess + (v - kHeaderVectors)
                                           : (const uint4*)(ring + ((seq + 1) & mask)) + v;
                    cp_async16((uint4*)&s_next + v, src);
                }
                asm volatile("cp.async.commit_group;" ::: "memory");
            }
            if (traced && threadIdx.x == 0) s_stamps[3] = global_ns();
            bool faulted = false;  // thread 0's
            if (fn != nullptr) {
                GPUOS_CALL_ABI  // the operators' ABI (gpuos_device.cuh): lean under -Dgpuos.jit.leanCalls=true
                fn(task, s_tile, &env);
            } else if (threadIdx.x == 0 && s_tile == 0) {
                report_fault(st, seq, GPUOS_FAULT_BAD_OP, op);  // one record per task, not one per tile
                faulted = true;
            }
            // Each thread waits for its own copies of the next descriptor, then ONE barrier publishes them and the
            // operator's stores to the block (a barrier for each cost one more per task of a run).
            if (prefetch) asm volatile("cp.async.wait_all;" ::: "memory");
            __syncthreads();
            // Whether the next task's operand records came with its header (the template guess was right).
            const bool guessed = prefetch && refsGuess != 0 && (s_next.flags & GPUOS_TASK_FLAG_REFS_IN_DEVICE)
                                 && s_next.refsAt == refsGuess;
            if (threadIdx.x == 0) {
                const unsigned long long tEnd = traced ? global_ns() : 0;
                const bool next = prefetch && s_next.seq == seq + 1 && (s_next.seal & kRunMember) != 0;
                if (next) {
                    // The member's set-up, before the barrier below (nobody reads its buffer until then): a single
                    // tile, and records beyond nrefs with their null pointer, as load_device_refs gives them.
                    s_tile = 0;
                    if (guessed) {
                        for (unsigned int r = s_next.nrefs; r < GPUOS_MAX_REFS; ++r) s_next.refs[r].data = 0;
                    }
                }
                if (next || member || s_pendCount != 0) {
                    // In a run: this task's completion waits in the batch (a member's always goes through it: its
                    // block waits for kRunRan).
                    if (s_pendCount == 0) {
                        s_pendFirst = seq;
                        s_pendOwn = member ? 0 : 1;
                        s_pendFaults = 0;
                    }
                    if (faulted) s_pendFaults |= 1u << s_pendCount;
                    ++s_pendCount;
                    int leave = 0;
                    if (!next || traced || s_pendCount == kRunBatch) {
                        // One fence for the batch: the barriers put every operator's stores before it.
                        fence_acquire_gpu();
                        for (unsigned int k = 0; k < s_pendCount; ++k) {
                            const unsigned long long q = s_pendFirst + k;
                            const bool f = (s_pendFaults >> k) & 1u;
                            if (k == 0 && s_pendOwn) {
                                st_relaxed_gpu(&done[done_slot(q, mask)], (q + 1) | (f ? kDoneFaulted : 0));
                            } else {
                                st_relaxed_gpu(&tileDone[q & mask], kRunRan | (f ? kTileFaulted : 0u));
                            }
                        }
                        s_pendCount = 0;
                        // A long run looks at abort between batches, as a dependency wait does every 64 polls.
                        leave = next && ld_relaxed_gpu(&st->abort) != 0;
                    }
                    if (traced) write_stamps(seq, tEnd);
                    s_runOn = next;
                    s_exit = leave;
                } else {
                    finish(seq, ntiles, faulted, traced, tEnd);
                    s_runOn = 0;
                    s_exit = 0;
                }
            }
            __syncthreads();
            if (s_exit) return;
            if (!s_runOn) break;
            // The member becomes the task in hand: the buffers swap (every thread's cur alike). Its records came
            // with it when the guess was right; otherwise they load now. Every read of the old buffer (the
            // operator's) and every copy into the new one are behind the barriers above, and the next prefetch
            // into the old one starts after them.
            cur ^= 1u;
            if (!guessed) load_device_refs();
            ++seq;
            member = true;
        }
    }
#undef s_task
#undef s_next
}

}  // namespace

// Two blocks per SM: the register budget (128) every operator is compiled to as well.
extern "C" __global__ void __launch_bounds__(GPUOS_BLOCK_THREADS, 2)
gpuos_worker(const gpuos_params* __restrict__ params) {
    extern __shared__ __align__(16) unsigned char gpuos_smem[];
    const gpuos_params p = *params;
    if (blockIdx.x == 0) {
        agent_loop(p);
    } else {
        gpuos_env env;
        env.smem = gpuos_smem;
        env.smemBytes = p.smemBytes;
        env.generation = p.generation;
        worker_loop(p, env);
    }
}
