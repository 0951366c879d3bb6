package dev.gpuos.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** matmul at several sizes, 1-D promotion, batch broadcasting and transposed operands, every numeric dtype. */
class MatmulTest {

    static Stream<Arguments> cases() {
        long[][][] shapes = {
                {{5}, {5}}, {{3}, {3, 4}}, {{4, 3}, {3}}, {{1, 1}, {1, 1}}, {{2, 3}, {3, 4}},
                {{17, 33}, {33, 9}}, {{64, 48}, {48, 40}}, {{2, 1, 4, 3}, {3, 3, 5}}, {{5, 2, 3}, {3, 2}},
                {{3}, {2, 3, 4}}, {{2, 4, 3}, {3}}, {{0, 3}, {3, 2}}, {{2, 0}, {0, 3}}, {{1, 2, 3}, {4, 1, 3, 2}}};
        Stream.Builder<Arguments> b = Stream.builder();
        DType[] types = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};
        for (int i = 0; i < shapes.length; i++) {
            b.add(Arguments.of(shapes[i][0], shapes[i][1], types[i % types.length], (i & 1) == 1));
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} @ {1} {2} transposed={3}")
    @MethodSource("cases")
    void matchesReference(long[] aShape, long[] bShape, DType t, boolean transposed) {
        long seed = Arrays.hashCode(aShape) * 31L + Arrays.hashCode(bShape);
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            RefArray a = TestData.randomRef(r, t, aShape, false), b = TestData.randomRef(r, t, bShape, false);
            Tensor ta = transposed ? transposedCopy(s, a) : TestData.upload(s, a);
            Tensor tb = transposed ? transposedCopy(s, b) : TestData.upload(s, b);
            RefArray expected = reference(a, b);
            double rtol = ToleranceTable.accumulating(t);
            TestData.assertMatches(expected, ta.matmul(tb), rtol, "seed " + seed);
        }
    }

    /** Same logical values as {@code a}, held as the transpose of a contiguous tensor (non-contiguous view). */
    private static Tensor transposedCopy(TensorScope s, RefArray a) {
        if (a.rank() < 2) return TestData.upload(s, a);
        int n = a.rank();
        long[] tShape = a.shape.clone();
        tShape[n - 2] = a.shape[n - 1];
        tShape[n - 1] = a.shape[n - 2];
        RefArray t = RefArray.zeros(a.dtype, tShape);
        RefArray.forEachIndex(a.shape, idx -> {
            long[] j = idx.clone();
            j[n - 2] = idx[n - 1];
            j[n - 1] = idx[n - 2];
            t.set(j, a.at(idx));
        });
        return TestData.upload(s, t).transpose(-1, -2);
    }

    static RefArray reference(RefArray a, RefArray b) {
        long[] as = a.rank() == 1 ? new long[]{1, a.shape[0]} : a.shape;
        long[] bs = b.rank() == 1 ? new long[]{b.shape[0], 1} : b.shape;
        RefArray a2 = new RefArray(a.dtype, as, a.v), b2 = new RefArray(b.dtype, bs, b.v);
        long n = as[as.length - 2], k = as[as.length - 1], m = bs[bs.length - 1];
        long[] batch = RefArray.broadcast(Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
        long[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = n;
        outShape[batch.length + 1] = m;
        RefArray out = RefArray.zeros(a.dtype, outShape);
        RefArray.forEachIndex(outShape, idx -> {
            double sum = 0;
            long[] ia = idx.clone(), ib = idx.clone();
            for (long p = 0; p < k; p++) {
                ia[ia.length - 1] = p;
                ib[ib.length - 2] = p;
                ib[ib.length - 1] = idx[idx.length - 1];
                sum += a2.broadcastAt(ia) * b2.broadcastAt(ib);
            }
            out.set(idx, RefArray.roundTo(a.dtype, sum));
        });
        long[] finalShape = outShape;
        if (a.rank() == 1) finalShape = drop(finalShape, finalShape.length - 2);
        if (b.rank() == 1) finalShape = drop(finalShape, finalShape.length - 1);
        return new RefArray(a.dtype, finalShape, out.v);
    }

    private static long[] drop(long[] s, int i) {
        long[] o = new long[s.length - 1];
        for (int j = 0, k = 0; j < s.length; j++) if (j != i) o[k++] = s[j];
        return o;
    }

    @Test
    void bmmAndErrors() {
        try (TensorScope s = TensorScope.open()) {
            Tensor a = s.arange(0, 12, 1).to(DType.F32).reshape(2, 2, 3), b = s.ones(DType.F32, 2, 3, 1);
            assertArrayEquals(new float[]{3, 12, 21, 30}, a.bmm(b).toFloatArray());
            assertThrows(ShapeMismatchException.class, () -> a.bmm(s.ones(DType.F32, 3, 3, 1)));
            assertThrows(ShapeMismatchException.class, () -> a.matmul(s.ones(DType.F32, 2, 4, 1)));
            assertThrows(ShapeMismatchException.class, () -> a.matmul(s.ones(DType.F32, 3, 3, 1)));
            assertThrows(ShapeMismatchException.class, () -> s.scalar(1.0).matmul(a));
            assertThrows(UnsupportedDTypeException.class, () -> a.matmul(s.ones(DType.F64, 3, 1)));
            assertThrows(UnsupportedDTypeException.class, () -> s.ones(DType.BOOL, 2, 2).matmul(s.ones(DType.BOOL, 2, 2)));
        }
    }
}
