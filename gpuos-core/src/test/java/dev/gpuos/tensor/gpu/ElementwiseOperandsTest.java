package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An elementwise task writes its operands straight from the views ({@link ElementwiseOperands#write}, the
 * streamed path): the descriptor must be word for word what the operands written one {@link GpuView} at a time
 * give, for dense, broadcast, transposed and offset views.
 */
class ElementwiseOperandsTest {
    @Test
    void writesWhatGpuViewsWrite() {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1));
             TensorScope scope = TensorScope.open(new GpuBackend(os, 16, Duration.ofSeconds(10), null))) {
            Tensor a = scope.zeros(DType.F32, 6, 8), b = scope.zeros(DType.F32, 6, 8), c = scope.zeros(DType.F16, 6, 8);
            Tensor row = scope.zeros(DType.F32, 8), square = scope.zeros(DType.F32, 8, 6);
            Tensor wide = scope.zeros(DType.F32, 6, 10);
            Tensor out = scope.zeros(DType.F32, 6, 8), out2 = scope.zeros(DType.F32, 6, 8);
            ElementwiseNode dense = add(a, b, out);
            check(List.of(dense));
            check(List.of(add(a, row.expand(6, 8), out)));                 // broadcast: a zero stride
            check(List.of(add(square.transpose(0, 1), b, out)));           // transposed
            check(List.of(add(wide.narrow(1, 1, 8), c, out)));             // offset, rows not dense, mixed dtypes
            check(List.of(dense, add(out, a, out2)));                      // a run of two members
            check(List.of(add(a.narrow(0, 2, 3), b.narrow(0, 1, 3), out.narrow(0, 0, 3))));  // dense, offset
        }
    }

    private static ElementwiseNode add(Tensor x, Tensor y, Tensor out) {
        return new ElementwiseNode(ElementwiseOp.ADD, List.<Operand>of(x, y), out, DType.F32, new double[0]);
    }

    private static void check(List<ElementwiseNode> run) {
        KernelTask task = ElementwiseKernels.task(run);
        ElementwiseOperands operands = assertInstanceOf(ElementwiseOperands.class, task.refs());
        TaskBatch flyweight = new TaskBatch(1), views = new TaskBatch(1);
        task.writeOperands(flyweight.add(1, task.ntiles(), task.tileSize()));
        TaskBatch.TaskWriter w = views.add(1, task.ntiles(), task.tileSize());
        for (int i = 0; i < operands.size(); i++) operands.get(i).write(w, i);
        for (int i = 0; i < task.args().length; i++) w.arg(i, task.args()[i]);
        assertEquals(views.operandCount(0), flyweight.operandCount(0));
        assertArrayEquals(views.descriptorWords(0), flyweight.descriptorWords(0), run.toString());
    }
}
