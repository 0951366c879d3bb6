// Host harness for attention.cu (AttentionHostTest): runs the operator's block as 256 std::threads, with barriers
// for __syncthreads and the warp shuffles, over a few shapes (one and several query rows, S within one chunk of
// 256 keys and across chunks with a whole chunk masked -inf, value rows of 1-512: thread groups and threads owning
// several columns; with and without a bias; one tile looping over rows and two), each output compared with a
// double-precision softmax(q k^T * scale + bias) v of the same stored values. GT_T and GT_V are the same floating
// type (the harness fills them as doubles).
#include "block_host.h"

#define GPUOS_OP static void att_op(const gpuos_task* task, unsigned int tile, const gpuos_env* env)
//@OPERATOR@
int main() {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(-2, 2);
    int fails = 0, cases = 0;
    long long shapes[][5] = {{2, 3, 7, 5, 9}, {1, 1, 600, 8, 64}, {2, 2, 300, 4, 300}, {1, 2, 257, 3, 512}, {3, 1, 1, 1, 1}};
    for (auto& sh : shapes) for (int hasBias = 0; hasBias < 2; ++hasBias) for (int ntiles = 1; ntiles <= 2; ++ntiles) {
        long long nb = sh[0], L = sh[1], S = sh[2], E = sh[3], Ev = sh[4];
        std::vector<GT_T> q(nb*L*E), k(nb*S*E), b(L*S); std::vector<GT_V> v(nb*S*Ev), o(nb*L*Ev);
        for (auto& x : q) x = u(rng); for (auto& x : k) x = u(rng); for (auto& x : v) x = u(rng);
        for (long long i = 0; i < L*S; ++i) b[i] = (i % 7 == 0) ? -1e30 : u(rng);
        if (S > 256) for (long long s = 0; s < 256 && hasBias; ++s) b[s] = -INFINITY;   // a whole chunk masked
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
            for (long long s = 0; s < S; ++s) { double d = 0; for (long long e = 0; e < E; ++e) d += (double)q[(bb*L+l)*E+e]*(double)k[(bb*S+s)*E+e];
                p[s] = d*scale + (hasBias ? (double)b[l*S+s] : 0); mx = std::max(mx, p[s]); }
            double sum = 0; for (auto& x : p) sum += x = std::exp(x - mx);
            for (long long e = 0; e < Ev; ++e) { double a = 0; for (long long s = 0; s < S; ++s) a += p[s]*(double)v[(bb*S+s)*Ev+e];
                double ref = a / sum, got = (double)o[(bb*L+l)*Ev+e]; worst = std::max(worst, std::fabs(ref-got)); }
        }
        if (!(worst < 1e-4)) { fails++; printf("FAIL nb %lld L %lld S %lld E %lld Ev %lld bias %d ntiles %d: worst %g\n", nb, L, S, E, Ev, hasBias, ntiles, worst); }
    }
    printf("cases %d failures %d\n", cases, fails);
    return fails != 0;
}
