// Host harness for attention.cu (AttentionHostTest): runs the operator's block as 256 std::threads, with barriers
// for __syncthreads and the warp shuffles, over a few shapes (one and several query rows, S within one chunk of
// 256 keys and across chunks with a whole chunk masked -inf, value rows of 1-512: thread groups and threads owning
// several columns; with and without a bias; one tile looping over rows and two), each output compared with a
// double-precision softmax(q k^T * scale + bias) v of the same stored values. Values go through gt::from_f64 and
// gt::to_f64, so GT_T and GT_V may be double, float, bf16 or f16 (f16's PTX conversions replaced by AttentionHostTest).
//
// Then split S (args 4 and 5): every case runs as one chunk, then split, twice on the same scratch (a replay) with
// the tiles in two random orders, then with 3 tiles looping over the units. Each split output must be bit-identical
// across the three (the combine does not depend on which tile came last), every row counter must be back at 0, and
// the output must match the one-chunk run and the reference (NaN where a row is masked whole, as in one chunk).
// Prints "split cases N failures F". Argument "split": only these.
#include "block_host.h"

#define GPUOS_OP static void att_op(const gpuos_task* task, unsigned int tile, const gpuos_env* env)
//@OPERATOR@
template <class T> static T put(double d) { return gt::from_f64<T>(d); }
template <class T> static double get(T x) { return gt::to_f64(x); }
// a 16-bit output is rounded once to its 8 (bf16) bits of mantissa, for values within |2|
static const double TOL = sizeof(GT_V) == 2 ? 1e-2 : 1e-4;
// split vs one chunk: the same sums grouped otherwise (f32: a few ulps of values within |2|)
static const double SPLIT_TOL = sizeof(GT_V) == 2 ? 1e-2 : sizeof(GT_ACC) == 4 ? 2e-5 : 1e-12;

static int split_cases(std::mt19937& rng);
int main(int argc, char** argv) {
    const bool splitOnly = argc > 1 && std::string(argv[1]) == "split";  // AttentionHostTest's mutants
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(-2, 2);
    int fails = 0, cases = 0;
    long long shapes[][5] = {{2, 3, 7, 5, 9}, {1, 1, 600, 8, 64}, {2, 2, 300, 4, 300}, {1, 2, 257, 3, 512}, {3, 1, 1, 1, 1}};
    for (auto& sh : shapes) for (int hasBias = 0; hasBias < 2; ++hasBias) for (int ntiles = 1; ntiles <= 2 && !splitOnly; ++ntiles) {
        long long nb = sh[0], L = sh[1], S = sh[2], E = sh[3], Ev = sh[4];
        std::vector<GT_T> q(nb*L*E), k(nb*S*E), b(L*S); std::vector<GT_V> v(nb*S*Ev), o(nb*L*Ev);
        for (auto& x : q) x = put<GT_T>(u(rng)); for (auto& x : k) x = put<GT_T>(u(rng)); for (auto& x : v) x = put<GT_V>(u(rng));
        for (long long i = 0; i < L*S; ++i) b[i] = put<GT_T>((i % 7 == 0) ? -1e30 : u(rng));
        if (S > 256) for (long long s = 0; s < 256 && hasBias; ++s) b[s] = put<GT_T>(-INFINITY);   // a whole chunk masked
        gpuos_tensor_ref refs[5] = {};
        auto set = [&](gpuos_tensor_ref& r, void* d, long long s0, long long s1, long long s2, long long t0, long long t1, long long t2) {
            r.data = (unsigned long long)d; r.ndim = 3; r.sizes[0] = s0; r.sizes[1] = s1; r.sizes[2] = s2;
            r.strides[0] = t0; r.strides[1] = t1; r.strides[2] = t2; };
        set(refs[0], q.data(), nb, L, E, L*E, E, 1);
        set(refs[1], k.data(), nb, S, E, S*E, E, 1);
        set(refs[2], v.data(), nb, S, Ev, S*Ev, Ev, 1);
        if (hasBias) set(refs[3], b.data(), nb, L, S, 0, S, 1); else refs[3] = refs[0];
        set(refs[4], o.data(), nb, L, Ev, L*Ev, Ev, 1);
        gpuos_task task{};
        task.ntiles = ntiles;
        task.refs[0].data = (unsigned long long)refs;
        double scale = 0.7;
        long long args[4] = {1, hasBias, 0, nb * L};
        memcpy(&args[2], &scale, 8);
        for (int i = 0; i < 4; ++i) task.args[i] = (unsigned long long)args[i];
        run_blocks(task, att_op);
        cases++;
        double worst = 0;
        for (long long bb = 0; bb < nb; ++bb) for (long long l = 0; l < L; ++l) {
            std::vector<double> p(S); double mx = -INFINITY;
            for (long long s = 0; s < S; ++s) { double d = 0; for (long long e = 0; e < E; ++e) d += get(q[(bb*L+l)*E+e])*get(k[(bb*S+s)*E+e]);
                p[s] = d*scale + (hasBias ? get(b[l*S+s]) : 0); mx = std::max(mx, p[s]); }
            double sum = 0; for (auto& x : p) sum += x = std::exp(x - mx);
            for (long long e = 0; e < Ev; ++e) { double a = 0; for (long long s = 0; s < S; ++s) a += p[s]*get(v[(bb*S+s)*Ev+e]);
                double ref = a / sum, got = get(o[(bb*L+l)*Ev+e]); worst = std::max(worst, std::fabs(ref-got)); }
        }
        if (!(worst < TOL)) { fails++; printf("FAIL nb %lld L %lld S %lld E %lld Ev %lld bias %d ntiles %d: worst %g\n", nb, L, S, E, Ev, hasBias, ntiles, worst); }
    }
    printf("cases %d failures %d\n", cases, fails);
    int splitFails = split_cases(rng);
    return fails != 0 || splitFails != 0;
}

static int split_cases(std::mt19937& rng) {
    std::uniform_real_distribution<double> u(-2, 2);
    int cases = 0, fails = 0;
    // nb, L, S, E, Ev, keys a chunk, mask: 0 none, 1 scattered -inf, 2 chunk 1 whole, 3 row 0 whole, 4 chunks 0-1 whole
    long long shapes[][7] = {{1, 4, 1000, 64, 64, 256, 0}, {2, 3, 257, 8, 100, 256, 1}, {1, 2, 512, 5, 300, 256, 2},
                             {1, 2, 513, 4, 512, 256, 3}, {1, 3, 1500, 16, 1, 512, 2}, {2, 1, 700, 8, 64, 256, 4}};
    for (auto& sh : shapes) {
        const long long nb = sh[0], L = sh[1], S = sh[2], E = sh[3], Ev = sh[4], len = sh[5], mask = sh[6];
        const long long C = (S + len - 1) / len, rows = nb * L;
        std::vector<GT_T> q(nb*L*E), k(nb*S*E), b(nb*L*S); std::vector<GT_V> v(nb*S*Ev), o1(rows*Ev), o(rows*Ev), oA(rows*Ev);
        for (auto& x : q) x = put<GT_T>(u(rng)); for (auto& x : k) x = put<GT_T>(u(rng)); for (auto& x : v) x = put<GT_V>(u(rng));
        for (long long r = 0; r < rows; ++r) for (long long s = 0; s < S; ++s) {
            const bool off = (mask == 1 && s % 5 == 0) || (mask == 2 && s / len == 1) || (mask == 3 && r == 0)
                             || (mask == 4 && s / len < 2);
            b[r*S+s] = put<GT_T>(off ? -INFINITY : 0.3 * u(rng));
        }
        const bool hasBias = mask != 0;
        // the operand table: 5 records, then the scratch (partials, then a counter per row), zeroed as uploaded
        const size_t refBytes = 5 * sizeof(gpuos_tensor_ref);
        const size_t scratchBytes = rows * C * (2 + Ev) * sizeof(GT_ACC) + rows * sizeof(unsigned);
        std::vector<unsigned long long> table((refBytes + scratchBytes + 7) / 8);
        gpuos_tensor_ref* refs = (gpuos_tensor_ref*)table.data();
        auto set = [&](gpuos_tensor_ref& r, const void* d, long long s0, long long s1, long long s2, long long t0, long long t1, long long t2) {
            r.data = (unsigned long long)d; r.ndim = 3; r.sizes[0] = s0; r.sizes[1] = s1; r.sizes[2] = s2;
            r.strides[0] = t0; r.strides[1] = t1; r.strides[2] = t2; };
        set(refs[0], q.data(), nb, L, E, L*E, E, 1);
        set(refs[1], k.data(), nb, S, E, S*E, E, 1);
        set(refs[2], v.data(), nb, S, Ev, S*Ev, Ev, 1);
        if (hasBias) set(refs[3], b.data(), nb, L, S, L*S, S, 1); else refs[3] = refs[0];
        set(refs[4], o.data(), nb, L, Ev, L*Ev, Ev, 1);
        const unsigned* counters = (const unsigned*)((const char*)table.data() + refBytes + rows * C * (2 + Ev) * sizeof(GT_ACC));
        double scale = 0.4;
        auto run = [&](long long chunks, unsigned ntiles, bool shuffle) {
            for (auto& x : o) x = put<GT_V>(777);  // what a tile that never writes leaves
            gpuos_task task{};
            task.ntiles = ntiles;
            task.refs[0].data = (unsigned long long)table.data();
            long long args[6] = {1, hasBias, 0, rows, chunks, len};
            memcpy(&args[2], &scale, 8);
            for (int i = 0; i < 6; ++i) task.args[i] = (unsigned long long)args[i];
            std::vector<unsigned> order(ntiles);
            for (unsigned t = 0; t < ntiles; ++t) order[t] = t;
            if (shuffle) std::shuffle(order.begin(), order.end(), rng);
            run_blocks(task, att_op, 8192, &order);
        };
        // a tile per unit, in a random order; the same again (a replay on the same scratch); 3 tiles looping over
        // the units in another order: the combine's order is fixed, so all three are the same bits
        const unsigned ntiles = (unsigned)(rows * C);
        run(1, (unsigned)rows, false);
        o1 = o;
        run(C, ntiles, true);
        oA = o;
        bool counted = true;
        for (long long r = 0; r < rows; ++r) counted &= counters[r] == 0;
        run(C, ntiles, true);
        for (long long r = 0; r < rows; ++r) counted &= counters[r] == 0;
        bool sameBits = memcmp(oA.data(), o.data(), o.size() * sizeof(GT_V)) == 0;
        run(C, 3, true);
        for (long long r = 0; r < rows; ++r) counted &= counters[r] == 0;
        sameBits &= memcmp(oA.data(), o.data(), o.size() * sizeof(GT_V)) == 0;
        cases++;
        double worstSplit = 0, worstRef = 0;
        bool nanAgree = true;
        for (long long r = 0; r < rows; ++r) {
            std::vector<double> p(S); double mx = -INFINITY;
            for (long long s = 0; s < S; ++s) { double d = 0; for (long long e = 0; e < E; ++e) d += get(q[r*E+e])*get(k[((r/L)*S+s)*E+e]);
                p[s] = d*scale + (hasBias ? get(b[r*S+s]) : 0); mx = std::max(mx, p[s]); }
            double sum = 0; for (auto& x : p) sum += x = std::exp(x - mx);
            for (long long e = 0; e < Ev; ++e) {
                double a = 0; for (long long s = 0; s < S; ++s) a += p[s]*get(v[((r/L)*S+s)*Ev+e]);
                const double ref = a / sum, one = get(o1[r*Ev+e]), got = get(oA[r*Ev+e]);
                if (std::isnan(ref) || std::isnan(one) || std::isnan(got)) { nanAgree &= std::isnan(ref) && std::isnan(one) && std::isnan(got); continue; }
                worstSplit = std::max(worstSplit, std::fabs(one - got));
                worstRef = std::max(worstRef, std::fabs(ref - got));
            }
        }
        printf("split S %lld C %lld Ev %lld mask %lld: vs one chunk %.3g, vs reference %.3g\n", S, C, Ev, mask,
               worstSplit, worstRef);
        if (!(sameBits && counted && nanAgree && worstSplit <= SPLIT_TOL && worstRef < TOL)) {
            fails++;
            printf("SPLIT FAIL nb %lld L %lld S %lld E %lld Ev %lld C %lld mask %lld: same bits across orders %d, "
                   "counters reset %d, NaN rows agree %d, vs one chunk %g, vs reference %g\n", nb, L, S, E, Ev, C, mask,
                   sameBits, counted, nanAgree, worstSplit, worstRef);
        }
    }
    printf("split cases %d failures %d\n", cases, fails);
    return fails;
}
