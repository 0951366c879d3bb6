package dev.gpuos.tensor;

import dev.gpuos.tensor.TestData.Made;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** index_select, embedding and cat against plain-loop references. */
class IndexingTest {

    @RepeatedTest(25)
    void indexSelectMatchesReference(RepetitionInfo info) {
        long seed = 3000 + info.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            DType t = TestData.ALL[r.nextInt(TestData.ALL.length)];
            int rank = 1 + r.nextInt(3);
            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(4);
            Made m = TestData.make(s, r, t, shape, true);
            int dim = r.nextInt(rank);
            long[] picks = new long[r.nextInt(6)];
            for (int i = 0; i < picks.length; i++) picks[i] = r.nextInt((int) shape[dim]);
            Tensor index = r.nextBoolean() ? s.tensor(picks) : s.tensor(picks).to(DType.I32);
            long[] outShape = shape.clone();
            outShape[dim] = picks.length;
            RefArray expected = RefArray.zeros(t, outShape);
            RefArray.forEachIndex(outShape, idx -> {
                long[] j = idx.clone();
                j[dim] = picks[(int) idx[dim]];
                expected.set(idx, m.ref().at(j));
            });
            TestData.assertMatches(expected, m.tensor().indexSelect(dim - (r.nextBoolean() ? rank : 0), index), 0,
                    "seed " + seed + " " + t + Arrays.toString(shape) + " dim " + dim + " picks " + Arrays.toString(picks));
        }
    }

    @Test
    void embeddingLooksUpRows() {
        try (TensorScope s = TensorScope.open()) {
            Tensor weight = s.arange(0, 12, 1).to(DType.F32).reshape(4, 3);
            Tensor ids = s.tensor(new int[]{3, 0, 3, 1}, 2, 2);
            Tensor e = weight.embedding(ids);
            assertArrayEquals(new long[]{2, 2, 3}, e.shape());
            assertArrayEquals(new float[]{9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5}, e.toFloatArray());
        }
    }

    @Test
    void indexOutOfRangeIsReported() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.ones(DType.F32, 3, 2);
            assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, s.tensor(new long[]{0, 3}, 2)));
            assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, s.tensor(new long[]{-1}, 1)));
            assertThrows(UnsupportedDTypeException.class, () -> x.indexSelect(0, s.ones(DType.F32, 1)));
            assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(2, s.tensor(new long[]{0}, 1)));
        }
    }

    @RepeatedTest(20)
    void catMatchesReference(RepetitionInfo info) {
        long seed = 5000 + info.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            int rank = 1 + r.nextInt(3);
            long[] base = new long[rank];
            for (int d = 0; d < rank; d++) base[d] = 1 + r.nextInt(3);
            int dim = r.nextInt(rank);
            int count = 1 + r.nextInt(3);
            Made[] parts = new Made[count];
            DType result = null;
            long total = 0;
            for (int i = 0; i < count; i++) {
                long[] shape = base.clone();
                shape[dim] = r.nextInt(4);
                total += shape[dim];
                DType t = TestData.ALL[r.nextInt(TestData.ALL.length)];
                parts[i] = TestData.make(s, r, t, shape, false);
                result = result == null ? t : RefElementwise.promote(result, t);
            }
            long[] outShape = base.clone();
            outShape[dim] = total;
            RefArray expected = RefArray.zeros(result, outShape);
            DType rt = result;
            RefArray.forEachIndex(outShape, idx -> {
                long pos = idx[dim];
                for (Made p : parts) {
                    if (pos < p.ref().shape[dim]) {
                        long[] j = idx.clone();
                        j[dim] = pos;
                        expected.set(idx, RefArray.roundTo(rt, p.ref().at(j)));
                        return;
                    }
                    pos -= p.ref().shape[dim];
                }
            });
            Tensor[] ts = Arrays.stream(parts).map(Made::tensor).toArray(Tensor[]::new);
            TestData.assertMatches(expected, Tensor.cat(dim, ts), 0, "seed " + seed + " dim " + dim);
        }
    }

    @Test
    void catRejectsMismatchedShapes() {
        try (TensorScope s = TensorScope.open()) {
            assertThrows(ShapeMismatchException.class, () -> Tensor.cat(0, s.ones(DType.F32, 2, 3), s.ones(DType.F32, 2, 4)));
            assertThrows(ShapeMismatchException.class, () -> Tensor.cat(0, s.ones(DType.F32, 2, 3), s.ones(DType.F32, 3)));
            assertThrows(ShapeMismatchException.class, () -> Tensor.cat(0, s.scalar(1.0)));
            assertThrows(IndexOutOfBoundsException.class, () -> Tensor.cat(2, s.ones(DType.F32, 2, 3)));
            assertEquals(DType.F64, Tensor.cat(1, s.ones(DType.I32, 2, 1), s.ones(DType.F64, 2, 2)).dtype());
        }
    }
}
