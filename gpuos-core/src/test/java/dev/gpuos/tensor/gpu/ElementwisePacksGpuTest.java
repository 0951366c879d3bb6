package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.gpu.Twins.Twin;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.function.BinaryOperator;

/**
 * The pack path of elementwise operators against the CPU backend, for every dtype: dense operands at storage
 * offset 0 (aligned: packs of 16 bytes of the widest operand), at offsets of 1..3 elements (misaligned, so the
 * task walks one element at a time; but 2 is aligned for the 8-byte dtypes, whose packs are 2 elements) and at
 * an offset of one whole pack (aligned again); lengths with tails (1, 7, 33, 1029) and one past 4096 tiles of
 * 1024 elements (tiles of 1040, a multiple of every pack); a broadcast single element (each pack reads it once);
 * a fused chain (members read earlier members' packs); outputs at offsets through copyFrom. Seeds in messages.
 */
@Tag("gpu")
class ElementwisePacksGpuTest extends SharedGpuOS {
    static GpuBackend gpu;
    static final long[] LENGTHS = {1, 7, 33, 1029, 4096L * 1024 + 4099};

    @BeforeAll
    static void backend() {
        gpu = new GpuBackend(os);
    }

    @Test
    void denseMisalignedTailedAndBroadcastOperandsMatchTheCpuForEveryDtype() {
        for (DType t : DType.values()) {
            int pack = 16 / t.byteSize();
            for (int li = 0; li < LENGTHS.length; li++) {
                long n = LENGTHS[li];
                boolean large = n > 1_000_000;
                int[] offsets = large ? new int[]{0, 1} : new int[]{0, 1, 2, 3, pack};
                for (int off : offsets) {
                    long seed = t.ordinal() * 1000L + li * 10L + off;
                    trial(t, n, off, seed);
                }
            }
        }
    }

    private static void trial(DType t, long n, int off, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String ctx = t + " n " + n + " offset " + off + " seed " + seed;
        try (Twins tw = new Twins(gpu)) {
            Twin a = tw.upload(t, new long[]{n + off + 3}, Twins.values(r, t, n + off + 3, true)).map(x -> x.slice(0, off, off + n));
            Twin b = tw.upload(t, new long[]{n}, Twins.values(r, t, n, true));
            Twin one = tw.upload(t, new long[]{1}, Twins.values(r, t, 1, false)).map(x -> x.expand(n));
            BinaryOperator<Tensor> op = t == DType.BOOL
                    ? (x, y) -> Tensor.elementwise(ElementwiseOp.EQ, new double[0], x, y)
                    : Tensor::add;
            double tol = Twins.elementwiseTolerance(t);
            Twins.assertClose(apply(op, b, b), tol, ctx + ": aligned dense");
            Twins.assertClose(apply(op, a, b), tol, ctx + ": offset input");
            Twins.assertClose(apply(op, b, one), tol, ctx + ": dense and broadcast element");
            Twins.assertClose(apply(op, one, a), tol, ctx + ": broadcast element and offset input");
            if (t != DType.BOOL) {
                // mul, add, neg fuse into one run: later members read earlier members' packs.
                Twin chain = new Twin(a.cpu().mul(b.cpu()).add(one.cpu()).neg(), a.dev().mul(b.dev()).add(one.dev()).neg());
                Twins.assertClose(chain, tol, ctx + ": fused chain");
            }
            // Outputs at an offset: a same-dtype copy (bits) and a conversion into slices of bigger tensors.
            Twin dst = tw.upload(t, new long[]{n + off + 2}, Twins.values(r, t, n + off + 2, false))
                    .map(x -> x.slice(0, off, off + n));
            dst.cpu().copyFrom(b.cpu());
            dst.dev().copyFrom(b.dev());
            Twins.assertClose(dst, 0, ctx + ": copy into an offset output");
            DType other = t == DType.F32 ? DType.F16 : DType.F32;
            Twin conv = tw.upload(other, new long[]{n + off + 1}, Twins.values(r, other, n + off + 1, false))
                    .map(x -> x.slice(0, off, off + n));
            conv.cpu().copyFrom(a.cpu());
            conv.dev().copyFrom(a.dev());
            Twins.assertClose(conv, Twins.elementwiseTolerance(other), ctx + ": conversion to " + other + " into an offset output");
        }
    }

    private static Twin apply(BinaryOperator<Tensor> op, Twin x, Twin y) {
        return new Twin(op.apply(x.cpu(), y.cpu()), op.apply(x.dev(), y.dev()));
    }
}
