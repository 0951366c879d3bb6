package dev.gpuos.tensor;

import dev.gpuos.tensor.RefElementwise.Op;
import dev.gpuos.tensor.RefElementwise.RefOperand;
import dev.gpuos.tensor.RefElementwise.Rule;
import dev.gpuos.tensor.TestData.Made;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every elementwise op against the independent reference, on random shapes (broadcasting, size-0 and size-1
 * dimensions), every dtype, scalar operands and non-contiguous views (permuted, strided, expanded).
 */
class ElementwisePropertyTest {
    static final int TRIALS = 24;

    static Stream<String> ops() {
        return RefElementwise.OPS.stream().map(Op::name);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("ops")
    void matchesReference(String name) {
        Op op = RefElementwise.OPS.stream().filter(o -> o.name().equals(name)).findFirst().orElseThrow();
        for (int trial = 0; trial < TRIALS; trial++) {
            long seed = name.hashCode() * 1000L + trial;
            try (TensorScope scope = TensorScope.open()) {
                runTrial(scope, op, new SplittableRandom(seed), "op " + name + " seed " + seed);
            }
        }
    }

    private static void runTrial(TensorScope scope, Op op, SplittableRandom r, String ctx) {
        long[] outShape = TestData.randomShape(r, 4, 4);
        boolean where = op.name().equals("where");
        List<RefOperand> refs = new ArrayList<>();
        List<Operand> operands = new ArrayList<>();
        Tensor first = null;
        for (int k = 0; k < op.arity(); k++) {
            boolean scalar = k > 0 && r.nextInt(3) == 0;
            if (scalar) {
                boolean floating = r.nextBoolean();
                double value = floating ? TestData.randomValue(r, DType.F64, true) : r.nextInt(-6, 7);
                Scalar s = floating ? Scalar.of(value) : Scalar.of((long) value);
                refs.add(new RefOperand(null, value, s.kind()));
                operands.add(s);
            } else {
                DType t = where && k == 0 ? DType.BOOL : TestData.ALL[r.nextInt(TestData.ALL.length)];
                long[] shape = k == 0 ? outShape : TestData.broadcastableTo(r, outShape);
                Made m = TestData.make(scope, r, t, shape, true);
                refs.add(new RefOperand(m.ref(), 0, null));
                operands.add(m.tensor());
                if (k == 0) first = m.tensor();
            }
        }
        ctx += " operands " + describe(refs);
        Tensor x = first;
        Operand[] rest = operands.subList(1, operands.size()).toArray(Operand[]::new);

        DType promoted = RefElementwise.resultType(where ? refs.subList(1, refs.size()) : refs);
        boolean rejects = (op.rule() == Rule.FLOAT_ONLY && !promoted.isFloating()) || (!op.boolOk() && promoted == DType.BOOL);
        boolean negativeIntPow = op.name().equals("pow") && rest[0] instanceof Scalar s && s.kind() == DType.I64
                && s.longValue() < 0 && !x.dtype().isFloating();
        if (rejects || negativeIntPow) {
            int before = scope.ownedBufferCount();
            assertThrows(IllegalArgumentException.class, () -> op.call().call(x, rest), ctx);
            if (scope.ownedBufferCount() != before) fail(ctx + ": a rejected op allocated a buffer");
            return;
        }
        DType opType = switch (op.rule()) {
            case TRUE_DIV, FLOAT_MATH -> promoted.isFloating() ? promoted : DType.F32;
            default -> promoted;
        };
        DType resultType = op.rule() == Rule.COMPARE ? DType.BOOL : opType;
        Tensor actual = op.call().call(x, rest);
        RefArray expected = RefArray.zeros(resultType, outShape);
        RefArray.forEachIndex(outShape, idx -> {
            double[] v = new double[3];
            for (int k = 0; k < refs.size(); k++) {
                RefOperand o = refs.get(k);
                double raw = o.isScalar() ? o.scalar() : o.array().broadcastAt(idx);
                v[k] = where && k == 0 ? raw : RefArray.roundTo(opType, raw);
            }
            double y;
            if (where) y = v[0] != 0 ? v[1] : v[2];
            else if (opType.isFloating()) y = op.real().f(v[0], v[1], v[2]);
            else y = op.integral().f(v[0], v[1], v[2]);
            expected.set(idx, RefArray.roundTo(resultType, y));
        });
        TestData.assertMatches(expected, actual, TestData.elementwiseTolerance(resultType), ctx);
    }

    private static String describe(List<RefOperand> refs) {
        StringBuilder sb = new StringBuilder();
        for (RefOperand o : refs) {
            sb.append(o.isScalar() ? "scalar(" + o.scalarKind() + " " + o.scalar() + ")"
                    : o.array().dtype + Arrays.toString(o.array().shape)).append(' ');
        }
        return sb.toString();
    }
}
