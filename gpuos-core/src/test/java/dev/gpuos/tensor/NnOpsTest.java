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
import static org.junit.jupiter.api.Assertions.assertTrue;

/** softmax, log_softmax, layer_norm and rms_norm against their formulas. */
class NnOpsTest {
    private static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};

    @RepeatedTest(30)
    void softmaxMatchesFormula(RepetitionInfo info) {
        long seed = 7000 + info.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            DType t = FLOATS[r.nextInt(FLOATS.length)];
            long[] shape = TestData.randomShape(r, 4, 5);
            Made m = TestData.make(s, r, t, shape, false);
            int rank = shape.length;
            int dim = rank == 0 ? 0 : r.nextInt(rank);
            boolean log = r.nextBoolean();
            String ctx = "seed " + seed + " " + t + Arrays.toString(shape) + " " + m.kind() + " dim " + dim + " log " + log;
            Tensor y = log ? m.tensor().logSoftmax(dim) : m.tensor().softmax(dim);
            RefArray in = m.ref(), expected = RefArray.zeros(t, shape);
            RefArray.forEachIndex(shape, idx -> {
                if (rank == 0) { expected.set(idx, log ? 0 : 1); return; }
                long[] j = idx.clone();
                double denom = 0;
                for (long k = 0; k < shape[dim]; k++) { j[dim] = k; denom += Math.exp(in.at(j)); }
                double value = log ? in.at(idx) - Math.log(denom) : Math.exp(in.at(idx)) / denom;
                expected.set(idx, RefArray.roundTo(t, value));
            });
            TestData.assertMatches(expected, y, TestData.reductionTolerance(t), ctx);
        }
    }

    @Test
    void softmaxIsStableForLargeInputs() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.tensor(new float[]{1000, 1001, 1002, -1000, -1001, -1002}, 2, 3);
            float[] p = x.softmax(1).toFloatArray();
            double z = 1 + Math.exp(-1) + Math.exp(-2);
            double[] expected = {Math.exp(-2) / z, Math.exp(-1) / z, 1 / z, 1 / z, Math.exp(-1) / z, Math.exp(-2) / z};
            for (int i = 0; i < 6; i++) assertEquals(expected[i], p[i], 1e-6, "element " + i);
            float[] lp = x.logSoftmax(1).toFloatArray();
            for (int i = 0; i < 6; i++) assertEquals(Math.log(expected[i]), lp[i], 1e-5, "log element " + i);
            float[] half = x.to(DType.F16).softmax(1).toFloatArray();
            for (int i = 0; i < 6; i++) assertTrue(Float.isFinite(half[i]), "f16 softmax overflowed: " + Arrays.toString(half));
        }
    }

    @Test
    void softmaxRejectsIntegers() {
        try (TensorScope s = TensorScope.open()) {
            assertThrows(UnsupportedDTypeException.class, () -> s.arange(5).softmax(0));
        }
    }

    @RepeatedTest(20)
    void normsMatchFormula(RepetitionInfo info) {
        long seed = 9000 + info.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            DType t = FLOATS[r.nextInt(FLOATS.length)];
            int rank = 1 + r.nextInt(3);
            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(6);
            int k = 1 + r.nextInt(rank);
            long[] normShape = Arrays.copyOfRange(shape, rank - k, rank);
            Made x = TestData.make(s, r, t, shape, false);
            Made w = TestData.make(s, r, t, normShape, false);
            Made b = TestData.make(s, r, t, normShape, false);
            boolean rms = r.nextBoolean();
            double eps = 1e-5;
            String ctx = "seed " + seed + " " + t + Arrays.toString(shape) + " normalized " + Arrays.toString(normShape) + " rms " + rms;
            Tensor y = rms ? x.tensor().rmsNorm(normShape, w.tensor(), eps) : x.tensor().layerNorm(normShape, w.tensor(), b.tensor(), eps);
            int rowSize = (int) RefArray.count(normShape);
            double[] in = x.ref().v, out = new double[in.length];
            for (int row = 0; row < in.length / rowSize; row++) {
                double mean = 0, sq = 0;
                for (int i = 0; i < rowSize; i++) mean += in[row * rowSize + i] / rowSize;
                if (rms) mean = 0;
                for (int i = 0; i < rowSize; i++) sq += Math.pow(in[row * rowSize + i] - mean, 2) / rowSize;
                for (int i = 0; i < rowSize; i++) {
                    double v = (in[row * rowSize + i] - mean) / Math.sqrt(sq + eps) * w.ref().v[i] + (rms ? 0 : b.ref().v[i]);
                    out[row * rowSize + i] = RefArray.roundTo(t, v);
                }
            }
            TestData.assertMatches(new RefArray(t, shape, out), y, TestData.reductionTolerance(t), ctx);
        }
    }

    @Test
    void layerNormWithoutAffineHasZeroMeanUnitVariance() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.randn(3, DType.F64, 4, 64).mul(5.0).add(2.0);
            Tensor y = x.layerNorm(new long[]{64}, null, null, 0);
            double[] mean = y.mean(new int[]{1}, false).toDoubleArray();
            double[] var = y.mul(y).mean(new int[]{1}, false).toDoubleArray();
            for (int i = 0; i < 4; i++) {
                assertEquals(0, mean[i], 1e-12);
                assertEquals(1, var[i], 1e-12);
            }
            Tensor rms = x.rmsNorm(new long[]{64}, null, 0);
            double[] ms = rms.mul(rms).mean(new int[]{1}, false).toDoubleArray();
            for (int i = 0; i < 4; i++) assertEquals(1, ms[i], 1e-12);
        }
    }

    @Test
    void normRejectsWrongShapes() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.ones(DType.F32, 2, 3);
            assertThrows(ShapeMismatchException.class, () -> x.layerNorm(new long[]{2}, null, null, 1e-5));
            assertThrows(ShapeMismatchException.class, () -> x.layerNorm(new long[]{3}, s.ones(DType.F32, 4), null, 1e-5));
            assertThrows(UnsupportedDTypeException.class, () -> s.ones(DType.I32, 2, 3).rmsNorm(new long[]{3}, null, 1e-5));
            assertArrayEquals(new long[]{2, 3}, x.rmsNorm(s.ones(DType.F32, 3)).shape());
        }
    }
}
