package dev.gpuos.tensor;

import dev.gpuos.tensor.TestData.Made;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reductions over random axes of random views against a reference written with plain loops. */
class ReductionPropertyTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sum", "mean", "prod", "max", "min", "argmax", "argmin"})
    void matchesReference(String op) {
        for (int trial = 0; trial < 40; trial++) {
            long seed = op.hashCode() * 1000L + trial;
            SplittableRandom r = new SplittableRandom(seed);
            try (TensorScope scope = TensorScope.open()) {
                DType t = TestData.ALL[r.nextInt(TestData.ALL.length)];
                long[] shape = TestData.randomShape(r, 4, 5);
                Made m = TestData.make(scope, r, t, shape, r.nextInt(3) == 0);
                int rank = shape.length;
                boolean all = rank == 0 || r.nextInt(4) == 0;
                int[] axes;
                if (all) axes = null;
                else if (op.startsWith("arg")) axes = new int[]{r.nextInt(rank) - (r.nextBoolean() ? rank : 0)};
                else {
                    axes = java.util.stream.IntStream.range(0, rank).filter(d -> r.nextBoolean()).toArray();
                    if (axes.length == 0) axes = new int[]{r.nextInt(rank)};
                }
                boolean keepdim = r.nextBoolean();
                String ctx = op + " seed " + seed + " " + t + Arrays.toString(shape) + " " + m.kind() + " axes "
                        + Arrays.toString(axes) + " keepdim " + keepdim;
                check(op, m, axes, keepdim, ctx);
            }
        }
    }

    private static void check(String op, Made m, int[] axes, boolean keepdim, String ctx) {
        RefArray in = m.ref();
        int rank = in.rank();
        boolean[] reduced = new boolean[rank];
        if (axes == null) Arrays.fill(reduced, true);
        else for (int a : axes) reduced[a < 0 ? a + rank : a] = true;
        long groupSize = 1;
        java.util.List<Long> outDims = new java.util.ArrayList<>();
        for (int d = 0; d < rank; d++) {
            if (reduced[d]) { groupSize *= in.shape[d]; if (keepdim) outDims.add(1L); }
            else outDims.add(in.shape[d]);
        }
        long[] outShape = outDims.stream().mapToLong(Long::longValue).toArray();
        Tensor x = m.tensor();
        boolean isArg = op.startsWith("arg");
        if (op.equals("mean") && !in.dtype.isFloating()) {
            assertThrows(UnsupportedDTypeException.class, () -> call(op, x, axes, keepdim), ctx);
            return;
        }
        if (groupSize == 0 && (op.equals("max") || op.equals("min") || isArg)) {
            assertThrows(IllegalArgumentException.class, () -> call(op, x, axes, keepdim), ctx);
            return;
        }
        DType resultType = switch (op) {
            case "sum", "prod" -> in.dtype.isFloating() ? in.dtype : DType.I64;
            case "argmax", "argmin" -> DType.I64;
            default -> in.dtype;
        };
        // Reference: group every input element by its kept coordinates, in row-major order.
        long[] keptShape = new long[rank];
        for (int d = 0; d < rank; d++) keptShape[d] = reduced[d] ? 1 : in.shape[d];
        int groups = (int) RefArray.count(keptShape);
        double[][] members = new double[groups][];
        int[] fill = new int[groups];
        for (int g = 0; g < groups; g++) members[g] = new double[(int) groupSize];
        RefArray.forEachIndex(in.shape, idx -> {
            long[] k = idx.clone();
            for (int d = 0; d < rank; d++) if (reduced[d]) k[d] = 0;
            int g = (int) RefArray.linear(k, keptShape);
            members[g][fill[g]++] = in.at(idx);
        });
        double[] expected = new double[groups];
        for (int g = 0; g < groups; g++) expected[g] = RefArray.roundTo(resultType, reduce(op, members[g]));
        Tensor actual = call(op, x, axes, keepdim);
        double rtol = isArg ? 0 : TestData.reductionTolerance(resultType);
        TestData.assertMatches(new RefArray(resultType, outShape, expected), actual, rtol, ctx);
    }

    private static double reduce(String op, double[] v) {
        switch (op) {
            case "sum": { double s = 0; for (double x : v) s += x; return s; }
            case "mean": { double s = 0; for (double x : v) s += x; return s / v.length; }
            case "prod": { double p = 1; for (double x : v) p *= x; return p; }
            case "max": case "min": {
                double best = v[0];
                for (double x : v) {
                    if (Double.isNaN(x)) return Double.NaN;
                    best = op.equals("max") ? Math.max(best, x) : Math.min(best, x);
                }
                return best;
            }
            default: {
                for (int i = 0; i < v.length; i++) if (Double.isNaN(v[i])) return i;
                int best = 0;
                for (int i = 1; i < v.length; i++) {
                    if (op.equals("argmax") ? v[i] > v[best] : v[i] < v[best]) best = i;
                }
                return best;
            }
        }
    }

    private static Tensor call(String op, Tensor x, int[] axes, boolean keepdim) {
        if (axes == null) {
            Tensor all = switch (op) {
                case "sum" -> x.sum(); case "mean" -> x.mean(); case "prod" -> x.prod();
                case "max" -> x.max(); case "min" -> x.min(); case "argmax" -> x.argmax(); default -> x.argmin();
            };
            return keepdim ? reshapeKeep(all, x.rank()) : all;
        }
        return switch (op) {
            case "sum" -> x.sum(axes, keepdim); case "mean" -> x.mean(axes, keepdim); case "prod" -> x.prod(axes, keepdim);
            case "max" -> x.max(axes, keepdim); case "min" -> x.min(axes, keepdim);
            case "argmax" -> x.argmax(axes[0], keepdim); default -> x.argmin(axes[0], keepdim);
        };
    }

    // The no-axis overloads return 0-dim results; keepdim over all axes is their value viewed as [1, ..., 1].
    private static Tensor reshapeKeep(Tensor t, int rank) {
        long[] ones = new long[rank];
        Arrays.fill(ones, 1);
        return t.reshape(ones);
    }

    @Test
    void argmaxTakesTheFirstMaximumAndTheFirstNaN() {
        try (TensorScope s = TensorScope.open()) {
            assertEquals(1, s.tensor(new float[]{1, 3, 3, 2}, 4).argmax().longItem());
            assertEquals(0, s.tensor(new float[]{1, 1, 3, 1}, 4).argmin().longItem());
            assertEquals(1, s.tensor(new float[]{1, Float.NaN, 5, Float.NaN}, 4).argmax().longItem());
            assertEquals(1, s.tensor(new float[]{1, Float.NaN, -5, Float.NaN}, 4).argmin().longItem());
            Tensor m = s.tensor(new int[]{4, 7, 7, 7, 1, 7}, 2, 3);
            assertArrayEquals(new long[]{1, 0}, m.argmax(1, false).toLongArray());
            assertArrayEquals(new long[]{1, 0, 0}, m.argmax(0, false).toLongArray());
        }
    }

    @Test
    void nanWinsInMaxMinMaximumAndMinimum() {
        try (TensorScope s = TensorScope.open()) {
            Tensor a = s.tensor(new float[]{1, Float.NaN, 3}, 3);
            Tensor b = s.tensor(new float[]{Float.NaN, 2, 1}, 3);
            assertTrue(Double.isNaN(a.max().item()));
            assertTrue(Double.isNaN(a.min().item()));
            float[] mx = a.maximum(b).toFloatArray(), mn = a.minimum(b).toFloatArray();
            assertTrue(Float.isNaN(mx[0]) && Float.isNaN(mx[1]) && mx[2] == 3, Arrays.toString(mx));
            assertTrue(Float.isNaN(mn[0]) && Float.isNaN(mn[1]) && mn[2] == 1, Arrays.toString(mn));
            assertTrue(Float.isNaN(a.clamp(0.0, 2.0).toFloatArray()[1]));
            assertTrue(Float.isNaN(a.relu().toFloatArray()[1]));
        }
    }

    @Test
    void emptyReductionsFollowPyTorch() {
        try (TensorScope s = TensorScope.open()) {
            Tensor e = s.zeros(DType.F32, 0, 3);
            assertArrayEquals(new float[]{0, 0, 0}, e.sum(new int[]{0}, false).toFloatArray());
            assertArrayEquals(new float[]{1, 1, 1}, e.prod(new int[]{0}, false).toFloatArray());
            assertTrue(Float.isNaN(e.mean(new int[]{0}, false).toFloatArray()[0]));
            assertThrows(IllegalArgumentException.class, () -> e.max(new int[]{0}, false));
            assertArrayEquals(new long[]{0}, e.max(new int[]{1}, false).shape());
        }
    }
}
