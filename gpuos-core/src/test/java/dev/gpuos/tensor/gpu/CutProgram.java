package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * An eager program whose recording a time bound may cut anywhere (StableCutsTest on the simulated device,
 * StableCutsGpuTest on the GPU): per layer a residual add into an rms_norm with its affine and activation (a row
 * op with prologue and epilogue), a product, a row max, a softmax with prologue and epilogue, transposed, selected
 * and narrowed views, a row sum, an independent elementwise chain. Between ops the host pauses a random time (a
 * busy wait, so the pause is on the recording thread's clock as a slow host's work would be).
 */
final class CutProgram {
    static final long ROWS = 16, COLS = 64;

    private final SplittableRandom pauses;
    private final long maxPauseNanos;

    /** @param maxPauseNanos each pause is uniform in 0..maxPauseNanos (0: no pauses, the CPU reference) */
    CutProgram(long seed, long maxPauseNanos) {
        this.pauses = new SplittableRandom(seed);
        this.maxPauseNanos = maxPauseNanos;
    }

    /** Records the program on {@code s}'s backend; returns the tensors to compare (no read: no sync point inside). */
    List<Tensor> record(TensorScope s, int layers) {
        Tensor x = s.randn(1, DType.F32, ROWS, COLS), r = s.randn(2, DType.F32, ROWS, COLS);
        Tensor w = s.randn(3, DType.F32, COLS, COLS).mul(0.125), g = s.randn(4, DType.F32, COLS);
        List<Tensor> out = new ArrayList<>();
        Tensor h = x;
        for (int layer = 0; layer < layers; layer++) {
            Tensor a = h.add(r);
            pause();
            Tensor y = a.rmsNorm(new long[]{COLS}, g, 1e-5);
            pause();
            y = y.mul(g).tanh();
            pause();
            Tensor p = y.matmul(w);
            pause();
            Tensor m = p.max(new int[]{1}, true);
            pause();
            Tensor sm = p.sub(m.expand(ROWS, COLS)).softmax(-1).mul(2.0);
            pause();
            Tensor v = sm.transpose(0, 1).contiguous().transpose(0, 1).add(a.select(0, layer % ROWS).expand(ROWS, COLS));
            pause();
            Tensor z = v.narrow(1, 0, COLS / 2).mul(v.narrow(1, COLS / 2, COLS / 2)).sum(new int[]{1}, true);
            pause();
            Tensor side = r.mul(0.5).add(1.0).sigmoid().sub(0.25);  // independent of the chain
            pause();
            h = v.add(z.expand(ROWS, COLS)).sigmoid().mul(a).add(side);
            pause();
            out.add(z);
            out.add(side);
        }
        out.add(h);
        return out;
    }

    private void pause() {
        if (maxPauseNanos == 0) return;
        long until = System.nanoTime() + pauses.nextLong(maxPauseNanos + 1);
        while (System.nanoTime() < until) Thread.onSpinWait();
    }
}
