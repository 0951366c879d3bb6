package dev.gpuos.tensor.op;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A node of two tensors keeps them in fields and any other node keeps its operands in a list: the planner's indexed
 * accessors (operand, input, read) must say what the lists say in both forms, and the two constructors of a binary
 * op of two tensors must make the same node.
 */
class ElementwiseNodeFormsTest {
    private static final double[] NONE = {};

    @Test
    void indexedAccessorsAgreeWithTheListsInBothForms() {
        try (TensorScope s = TensorScope.open()) {
            Tensor a = s.arange(6), b = s.arange(6), out = s.zeros(DType.I64, 6);
            Tensor a2 = a.reshape(2, 3).reshape(6);  // another view of a's buffer
            List<ElementwiseNode> nodes = List.of(
                    new ElementwiseNode(ElementwiseOp.ADD, a, b, out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.ADD, a, a2, out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.ADD, List.of(a, b), out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.ADD, List.of(a, Scalar.of(2L)), out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.ADD, List.of(Scalar.of(2L), b), out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.WHERE, List.of(out, a, a2), out, DType.I64, NONE),
                    new ElementwiseNode(ElementwiseOp.WHERE, List.of(out, a, b), out, DType.I64, NONE));
            int[] distinctReads = {2, 1, 2, 1, 1, 2, 3};
            for (int n = 0; n < nodes.size(); n++) {
                ElementwiseNode node = nodes.get(n);
                List<Operand> operands = node.operands();
                assertEquals(operands.size(), node.operandCount(), node.toString());
                List<Tensor> tensors = new ArrayList<>();
                for (int k = 0; k < operands.size(); k++) {
                    assertSame(operands.get(k), node.operand(k));
                    if (operands.get(k) instanceof Tensor t) tensors.add(t);
                }
                assertEquals(tensors, node.inputs());
                assertEquals(tensors.size(), node.inputCount());
                for (int k = 0; k < tensors.size(); k++) assertSame(tensors.get(k), node.input(k));
                List<Storage> reads = new ArrayList<>();
                for (Tensor t : tensors) if (!reads.contains(t.storage())) reads.add(t.storage());
                assertEquals(reads, node.reads(), node.toString());
                assertEquals(distinctReads[n], node.readCount(), node.toString());
                for (int i = 0; i < reads.size(); i++) assertSame(reads.get(i), node.read(i));
                int count = node.operandCount(), inputs = node.inputCount(), readCount = node.readCount();
                assertThrows(IndexOutOfBoundsException.class, () -> node.operand(count));
                assertThrows(IndexOutOfBoundsException.class, () -> node.input(inputs));
                assertThrows(IndexOutOfBoundsException.class, () -> node.read(readCount));
            }
            assertEquals(nodes.get(0).operands(), nodes.get(2).operands());
            assertEquals(nodes.get(0).reads(), nodes.get(2).reads());
            assertThrows(NullPointerException.class,
                    () -> new ElementwiseNode(ElementwiseOp.ADD, a, null, out, DType.I64, NONE));
        }
    }
}
