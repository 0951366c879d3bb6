package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.gpu.Twins.LayoutKind;
import dev.gpuos.tensor.gpu.Twins.Twin;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.UploadNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How recorded work becomes submissions and tasks on the GPU (counts, fusion, operator reuse across shapes,
 * dependencies within and across submissions, join tasks, staged uploads, deferred index errors), and two
 * small models end to end against the CPU backend.
 */
@Tag("gpu")
class GpuBackendBatchingTest extends SharedGpuOS {

    private static GpuBackend backend() {
        // A long max age: only sync points (and maxNodes) submit, so counts are exact.
        return new GpuBackend(os, 1024, Duration.ofSeconds(60));
    }

    private static Twin chain(Twin x) {
        Twin y = x;
        for (int i = 0; i < 9; i++) {
            int op = i % 3;
            y = y.map(v -> op == 0 ? v.mul(1.01) : op == 1 ? v.add(0.5) : v.tanh());
        }
        return y;
    }

    @Test
    void nineElementwiseOpsAreOneSubmissionOfOneTaskAndReuseTheirOperatorOnOtherShapes() {
        GpuBackend b = backend();
        long seed = 1;
        try (Twins tw = new Twins(b)) {
            Twin x = tw.random(new SplittableRandom(seed), DType.F32, new long[]{64, 100}, false, LayoutKind.CONTIGUOUS);
            b.sync();
            GpuBackend.Stats before = b.stats();
            Twin y = chain(x);
            assertEquals(9, b.pendingCount());
            Twins.assertClose(y, 1e-5, "chain seed " + seed);
            GpuBackend.Stats after = b.stats();
            assertEquals(1, after.submissions() - before.submissions(), after.toString());
            // One connected run: one input and nine stored outputs, ten operands through an operand table (issue 12;
            // three tasks of four inline operands before).
            assertEquals(1, after.tasks() - before.tasks(), after.toString());
            assertEquals(0, after.joinTasks());
            assertEquals(1, after.directUploads());

            Twin z = chain(tw.random(new SplittableRandom(seed + 1), DType.F32, new long[]{7, 3, 11}, false, LayoutKind.PERMUTED));
            Twins.assertClose(z, 1e-5, "chain on another shape seed " + (seed + 1));
            GpuBackend.Stats again = b.stats();
            assertEquals(after.operatorsCompiled(), again.operatorsCompiled(), "a new shape must not compile anything");
            assertEquals(1, again.tasks() - after.tasks());
        }
    }

    @Test
    void manySmallSubmissionsStayInOrderWithoutWaiting() {
        GpuBackend b = new GpuBackend(os, 4, Duration.ofMillis(1));
        try (Twins tw = new Twins(b)) {
            Twin x = new Twin(tw.cpu.zeros(DType.F32, 1000), tw.dev.zeros(DType.F32, 1000));
            Twin sum = x;
            for (int i = 0; i < 200; i++) {
                x = x.map(v -> v.add(1.0));
                if (i % 7 == 0) {
                    Twin xi = x;
                    sum = new Twin(sum.cpu().add(xi.cpu().mul(0.5)), sum.dev().add(xi.dev().mul(0.5)));
                }
            }
            Twins.assertClose(x, 0, "200 chained adds over " + b.stats().submissions() + " submissions");
            Twins.assertClose(sum, 1e-6, "interleaved reads");
            assertTrue(b.stats().submissions() >= 50, b.stats().toString());
        }
    }

    @Test
    void aWriterAfterEightReadersWaitsThroughJoinTasks() {
        GpuBackend b = backend();
        long seed = 3;
        SplittableRandom r = new SplittableRandom(seed);
        try (Twins tw = new Twins(b)) {
            Twin x = tw.random(r, DType.F32, new long[]{8, 16}, false, LayoutKind.CONTIGUOUS);
            Twin z = tw.random(r, DType.F32, new long[]{8, 16}, false, LayoutKind.CONTIGUOUS);
            b.sync();
            GpuBackend.Stats before = b.stats();
            List<Twin> readers = new ArrayList<>();
            // Different shapes: no fusion, eight separate reading tasks.
            for (int i = 1; i <= 8; i++) {
                int len = i;
                readers.add(x.map(v -> v.narrow(1, 0, len).mul(2.0)));
            }
            // Overwrite x in place (as a cat slice copy would): it must wait for all eight readers.
            tw.cpu.backend().submit(new ElementwiseNode(ElementwiseOp.CAST, List.of(z.cpu()), x.cpu(), DType.F32, new double[0]));
            tw.dev.backend().submit(new ElementwiseNode(ElementwiseOp.CAST, List.of(z.dev()), x.dev(), DType.F32, new double[0]));
            for (int i = 0; i < readers.size(); i++) Twins.assertClose(readers.get(i), 0, "reader " + i + " seed " + seed);
            Twins.assertClose(x, 0, "overwritten x seed " + seed);
            GpuBackend.Stats after = b.stats();
            assertEquals(1, after.submissions() - before.submissions());
            // 8 deps: joins of 6 and 2, then the writer waits on the two joins.
            assertEquals(2, after.joinTasks() - before.joinTasks());
            assertEquals(8 + 2 + 1, after.tasks() - before.tasks());
        }
    }

    @Test
    void anUploadIntoABufferStillBeingReadIsStagedBehindItsReaders() {
        GpuBackend b = backend();
        try (Twins tw = new Twins(b)) {
            Twin x = tw.random(new SplittableRandom(4), DType.F32, new long[]{3000}, false, LayoutKind.CONTIGUOUS);
            b.sync();
            Twin y = x.map(v -> v.mul(3.0));
            float[] fresh = new float[3000];
            for (int i = 0; i < fresh.length; i++) fresh[i] = i * 0.5f;
            tw.cpu.backend().submit(new UploadNode(MemorySegment.ofArray(fresh.clone()), x.cpu()));
            tw.dev.backend().submit(new UploadNode(MemorySegment.ofArray(fresh.clone()), x.dev()));
            Twins.assertClose(y, 0, "reader before the upload");
            Twins.assertClose(x, 0, "uploaded data");
            assertEquals(1, b.stats().stagedUploads());
        }
    }

    @Test
    void anIndexOutOfRangeIsRaisedAtTheNextSyncPointAndTheBackendStaysUsable() {
        GpuBackend b = backend();
        try (Twins tw = new Twins(b)) {
            Tensor weight = tw.dev.ones(DType.F32, 50, 8);
            Tensor bad = weight.embedding(tw.dev.tensor(new long[]{3, 99, 1}));
            IllegalStateException e = assertThrows(IllegalStateException.class, bad::toFloatArray);
            IndexOutOfBoundsException cause = assertInstanceOf(IndexOutOfBoundsException.class, e.getCause());
            assertTrue(cause.getMessage().contains("99") && cause.getMessage().contains("50"), cause.getMessage());
            float[] ok = weight.embedding(tw.dev.tensor(new long[]{49, 0})).sum().toFloatArray();
            assertEquals(16f, ok[0]);
        }
    }

    @Test
    void twoLayerMlpMatchesTheCpu() {
        long seed = 5;
        SplittableRandom r = new SplittableRandom(seed);
        GpuBackend b = backend();
        try (Twins tw = new Twins(b)) {
            UnaryOperator<Tensor> small = v -> v.mul(0.05);
            Twin x = tw.random(r, DType.F32, new long[]{4, 128}, false, LayoutKind.CONTIGUOUS).map(v -> v.mul(0.25));
            Twin w1 = tw.random(r, DType.F32, new long[]{256, 128}, false, LayoutKind.CONTIGUOUS).map(small);
            Twin b1 = tw.random(r, DType.F32, new long[]{256}, false, LayoutKind.CONTIGUOUS).map(small);
            Twin w2 = tw.random(r, DType.F32, new long[]{64, 256}, false, LayoutKind.CONTIGUOUS).map(small);
            Twin b2 = tw.random(r, DType.F32, new long[]{64}, false, LayoutKind.CONTIGUOUS).map(small);
            Twin h = new Twin(x.cpu().matmul(w1.cpu().transpose(0, 1)).add(b1.cpu()).gelu(),
                    x.dev().matmul(w1.dev().transpose(0, 1)).add(b1.dev()).gelu());
            Twin out = new Twin(h.cpu().matmul(w2.cpu().transpose(0, 1)).add(b2.cpu()),
                    h.dev().matmul(w2.dev().transpose(0, 1)).add(b2.dev()));
            Twins.assertClose(out, 1e-4, 1e-4 * maxAbs(out.cpu()), "mlp seed " + seed);
        }
    }

    @Test
    void attentionDecodeStepMatchesTheCpu() {
        long seed = 6;
        SplittableRandom r = new SplittableRandom(seed);
        GpuBackend b = backend();
        try (Twins tw = new Twins(b)) {
            int heads = 4, d = 64, t = 128;
            Twin q = tw.random(r, DType.F32, new long[]{heads, 1, d}, false, LayoutKind.CONTIGUOUS).map(v -> v.mul(0.25));
            Twin k = tw.random(r, DType.F32, new long[]{heads, t, d}, false, LayoutKind.CONTIGUOUS).map(v -> v.mul(0.25));
            Twin v = tw.random(r, DType.F32, new long[]{heads, t, d}, false, LayoutKind.CONTIGUOUS);
            Twin scores = new Twin(q.cpu().matmul(k.cpu().transpose(1, 2)), q.dev().matmul(k.dev().transpose(1, 2)));
            Twin p = scores.map(s -> s.div(8.0).softmax(-1));
            Twin out = new Twin(p.cpu().matmul(v.cpu()), p.dev().matmul(v.dev()));
            Twins.assertClose(p, 1e-4, 1e-6, "attention probabilities seed " + seed);
            Twins.assertClose(out, 1e-4, 1e-4 * maxAbs(out.cpu()), "attention output seed " + seed);
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (double v : t.toDoubleArray()) m = Math.max(m, Math.abs(v));
        return m;
    }
}
