package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.interp.InterpreterSource;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.gpuos.tensor.gpu.OperatorSourceCompileTest.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 6 on the GPU: planning a never-seen structure for the interpreter renders no native source, and its
 * first result is correct; the promotion then renders it once and compiles exactly that source. The task's
 * operator is a counting wrapper around the real elementwise structure (same name, same source, a key of its
 * own so that no earlier test can have met it).
 */
@Tag("gpu")
class TieredPlanGpuTest extends SharedGpuOS {

    @Test
    void theInterpretedPlanRendersNothingAndThePromotionCompilesTheRealSource() {
        GpuBackend b = new GpuBackend(os, (TieredOperators.Policy) null);
        OperatorLibrary natives = new OperatorLibrary(os);
        TieredOperators tiers = new TieredOperators(os, natives, TieredOperators.Policy.NEVER);
        long[] shape = {64, 33};
        try (TensorScope s = TensorScope.open(b); TensorScope cpu = TensorScope.open(CpuBackend.eager())) {
            Tensor x = s.randn(7, DType.F32, shape);
            float[] xs = x.toFloatArray();
            float[] expected = cpu.tensor(xs, shape).mul(2.0).abs().neg().toFloatArray();
            List<ElementwiseNode> first = chain(s, x, shape), second = chain(s, x, shape);
            b.sync();  // the outputs' zero fills ran: the hand-made tasks below write after them

            KernelTask real = ElementwiseKernels.task(first);
            AtomicInteger renders = new AtomicInteger();
            OperatorStructure counted = new OperatorStructure(ElementwiseKernels.KEY_TAG + "plan-test-" + System.nanoTime(),
                    real.name(), "", () -> {
                        renders.incrementAndGet();
                        return real.operator().source();
                    });

            List<KernelTask> tasks = new ArrayList<>(List.of(wrap(counted, real)));
            OperatorRef[] ops = tiers.resolve(tasks);
            assertSame(tiers.interpreter(), ops[0], "a new elementwise structure runs interpreted");
            assertNotEquals(0, tasks.getFirst().args()[InterpreterSource.PROGRAM_ARG], "the task names its program");
            assertEquals(0, renders.get(), "planning the interpreted task rendered the native source");
            run(ops[0], tasks.getFirst());
            assertArrayEquals(expected, first.getLast().output().toFloatArray(), "interpreted result");
            assertEquals(0, renders.get());

            tiers.promoteNow();
            assertEquals(1, renders.get(), "the promotion renders the source once");
            assertEquals(0, tiers.stats().failedPromotions());
            String realName = OperatorLibrary.uniqueName(real.name(), real.source());
            assertTrue(os.hasOperator(realName), "the native operator is named by the hash of the real source");

            KernelTask again = wrap(counted, ElementwiseKernels.task(second));
            tasks = new ArrayList<>(List.of(again));
            ops = tiers.resolve(tasks);
            assertEquals(realName, ops[0].name(), "after the promotion the task runs the native operator");
            assertNotEquals(tiers.interpreter(), ops[0]);
            run(ops[0], tasks.getFirst());
            assertArrayEquals(expected, second.getLast().output().toFloatArray(), "native result");
            assertEquals(1, renders.get());
        }
    }

    /** x * 2, abs, neg: exact in F32, so interpreted, native and CPU agree bit for bit. */
    private static List<ElementwiseNode> chain(TensorScope s, Tensor x, long[] shape) {
        Tensor y1 = s.zeros(DType.F32, shape), y2 = s.zeros(DType.F32, shape), y3 = s.zeros(DType.F32, shape);
        return List.of(node(ElementwiseOp.MUL, List.of(x, Scalar.of(2.0)), y1, DType.F32),
                node(ElementwiseOp.ABS, List.of(y1), y2, DType.F32),
                node(ElementwiseOp.NEG, List.of(y2), y3, DType.F32));
    }

    private static KernelTask wrap(OperatorStructure operator, KernelTask t) {
        return new KernelTask(operator, t.ntiles(), t.tileSize(), t.refs(), t.args(), t.nodes());
    }

    private static void run(OperatorRef op, KernelTask task) {
        TaskBatch batch = new TaskBatch(1);
        task.writeOperands(batch.add(op, task.ntiles(), task.tileSize()));
        os.run(batch);
    }
}
