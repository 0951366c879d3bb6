package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.OpNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.gpuos.tensor.gpu.OperatorSourceCompileTest.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 6: operators are found by a structural key, and their native source is rendered (and hashed into the
 * name) only when asked for, once. Checked without a GPU; TieredPlanGpuTest checks the whole interpreted plan
 * path and the promotion's native compile on one.
 */
class OperatorStructureTest {

    @Test
    void theSourceIsRenderedOnFirstUseOnlyAndOnce() {
        AtomicInteger renders = new AtomicInteger();
        OperatorStructure s = new OperatorStructure("ew:k", "ew_test", "PREFIX\n", () -> {
            renders.incrementAndGet();
            return "BODY\n";
        });
        assertEquals("ew:k", s.key());
        assertEquals("ew_test", s.name());
        assertFalse(s.rendered());
        assertEquals(0, renders.get(), "making the structure and reading its key and name render nothing");
        assertEquals(OperatorLibrary.uniqueName("ew_test", "PREFIX\nBODY\n"), s.uniqueName(),
                "the registered name hashes the whole source, prefix included");
        assertEquals("PREFIX\nBODY\n", s.source());
        assertEquals("BODY\n", s.body());
        assertTrue(s.rendered());
        assertEquals(1, renders.get());
    }

    @Test
    void threadsAskingAtOnceRenderOnce() throws Exception {
        for (int round = 0; round < 50; round++) {
            AtomicInteger renders = new AtomicInteger();
            OperatorStructure s = new OperatorStructure("ew:r" + round, "ew_r", "", () -> {
                renders.incrementAndGet();
                return "body of round";
            });
            int threads = 4;
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<String>> names = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    names.add(pool.submit(() -> {
                        start.await();
                        return s.uniqueName();
                    }));
                }
                start.countDown();
                for (Future<String> f : names) assertEquals(OperatorLibrary.uniqueName("ew_r", "body of round"), f.get());
            } finally {
                pool.shutdownNow();
            }
            assertEquals(1, renders.get(), "round " + round);
        }
    }

    /** Elementwise runs: the task's operator comes from the key; rendering it later gives the eager source. */
    @Test
    void anElementwiseOperatorIsMadeWithoutRenderingAndRendersTheRunsSource() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F16, 5, 3), y1 = s.zeros(DType.F32, 5, 3), y2 = s.zeros(DType.F32, 5, 3);
            Tensor y3 = s.zeros(DType.BF16, 5, 3);
            List<ElementwiseNode> run = List.of(
                    node(ElementwiseOp.MUL, List.of(x, Scalar.of(1.37)), y1, DType.F32),
                    node(ElementwiseOp.LEAKY_RELU, List.of(y1), y2, DType.F32, 0.1),
                    node(ElementwiseOp.ADD, List.of(y2, y1), y3, DType.F32));
            OperatorStructure fresh = ElementwiseKernels.uninternedOperator(run);
            assertFalse(fresh.rendered(), "an elementwise operator is made from its key and a tensor-free description");
            OperatorStructure interned = ElementwiseKernels.operator(run);
            assertSame(interned, ElementwiseKernels.operator(run), "one operator per structure");
            assertEquals(interned.key(), fresh.key());
            assertEquals(interned.name(), fresh.name());
            assertEquals("ew_mul_leaky_relu_add", fresh.name());
            assertTrue(fresh.key().startsWith(ElementwiseKernels.KEY_TAG), fresh.key());
            assertEquals(ElementwiseKernels.source(run), fresh.source(), "the deferred render is the run's source");
            assertEquals(interned.uniqueName(), fresh.uniqueName());
        }
    }

    /**
     * TieredOperators keys its entries by the operator's key: computing one renders nothing, and only
     * elementwise tasks (and non-arg reductions) get one.
     */
    @Test
    void theTierKeyOfAnElementwiseTaskRendersNothing() {
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.ones(DType.F32, 4), y = s.zeros(DType.F32, 4);
            List<ElementwiseNode> run = List.of(node(ElementwiseOp.SIN, List.of(x), y, DType.F32));
            AtomicInteger renders = new AtomicInteger();
            OperatorStructure real = ElementwiseKernels.operator(run);
            OperatorStructure counted = new OperatorStructure(real.key(), real.name(), ElementwiseKernels.PREFIX, () -> {
                renders.incrementAndGet();
                return real.body();
            });
            KernelTask task = new KernelTask(counted, 1, 4, List.of(), new long[0], List.<OpNode>copyOf(run));
            assertEquals(real.key(), TieredOperators.key(task));
            KernelTask fill = new KernelTask(OperatorSources.familyOperator(Family.FILL, DType.F32), 1, 4, List.of(),
                    new long[0], List.<OpNode>copyOf(run));
            assertNull(TieredOperators.key(fill), "a family operator is not the interpreter's (nodes aside)");
            assertEquals(0, renders.get());
        }
    }

    /**
     * The contract every lookup relies on, over seeded random runs: equal keys render equal sources and names;
     * different sources never share a key. Kinds keep their keys apart.
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void equalKeysMeanEqualSources(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        ElementwiseOp[] unary = {ElementwiseOp.RELU, ElementwiseOp.EXP, ElementwiseOp.NEG, ElementwiseOp.CAST,
                ElementwiseOp.LEAKY_RELU};
        ElementwiseOp[] binary = {ElementwiseOp.ADD, ElementwiseOp.MUL, ElementwiseOp.MAXIMUM, ElementwiseOp.SUB};
        DType[] dtypes = {DType.F32, DType.F16, DType.F64};
        Map<String, String> sourceByKey = new HashMap<>();
        Map<String, String> keyBySource = new HashMap<>();
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (int trial = 0; trial < 300; trial++) {
                DType t = dtypes[rnd.nextInt(dtypes.length)];
                List<Tensor> pool = new ArrayList<>(List.of(s.ones(t, 3, 2), s.ones(dtypes[rnd.nextInt(3)], 3, 2)));
                List<ElementwiseNode> run = new ArrayList<>();
                for (int m = 0, n = 1 + rnd.nextInt(3); m < n; m++) {
                    Tensor out = s.zeros(dtypes[rnd.nextInt(3)], 3, 2);
                    Tensor a = pool.get(rnd.nextInt(pool.size()));
                    if (rnd.nextBoolean()) {
                        ElementwiseOp op = unary[rnd.nextInt(unary.length)];
                        run.add(node(op, List.of(a), out, op == ElementwiseOp.CAST ? a.dtype() : DType.F32, 0.1));
                    } else {
                        Operand b = rnd.nextInt(3) == 0 ? Scalar.of(rnd.nextDouble()) : pool.get(rnd.nextInt(pool.size()));
                        run.add(node(binary[rnd.nextInt(binary.length)], List.of(a, b), out, rnd.nextBoolean() ? DType.F32 : DType.F64));
                    }
                    pool.add(out);
                }
                OperatorStructure op = ElementwiseKernels.uninternedOperator(run);
                String source = op.name() + "\n" + op.source();
                String earlier = sourceByKey.putIfAbsent(op.key(), source);
                if (earlier != null) assertEquals(earlier, source, "seed " + seed + " trial " + trial + ": key " + op.key());
                String earlierKey = keyBySource.putIfAbsent(source, op.key());
                if (earlierKey != null) assertEquals(earlierKey, op.key(), "seed " + seed + " trial " + trial);
            }
        }
        assertTrue(sourceByKey.size() > 50, "seed " + seed + ": only " + sourceByKey.size() + " distinct structures");
        Set<String> keys = new HashSet<>(sourceByKey.keySet());
        for (Family f : Family.values()) keys.add(OperatorSources.familyOperator(f, DType.F32).key());
        keys.add(OperatorSources.JOIN_OPERATOR.key());
        keys.add(OperatorSources.COPY_BYTES_OPERATOR.key());
        assertEquals(sourceByKey.size() + Family.values().length + 2, keys.size(), "keys of different kinds collide");
        assertNotEquals(OperatorSources.familyOperator(Family.REDUCE, DType.F32).key(),
                OperatorSources.familyOperator(Family.REDUCE, DType.F64).key());
    }
}
