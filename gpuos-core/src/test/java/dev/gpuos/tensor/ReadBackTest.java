package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Reading a tensor back into an array of its own element type copies straight into that array; into any other
 * type it converts element by element. Both paths must agree, on contiguous tensors and on views (which are
 * made contiguous first), and the direct path keeps every bit (NaN payloads, -0.0).
 */
class ReadBackTest {

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13})
    void directAndConvertingReadsAgree(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int rows = 1 + r.nextInt(9), cols = 1 + r.nextInt(9), n = rows * cols;
        float[] f = new float[n];
        double[] d = new double[n];
        long[] l = new long[n];
        int[] i = new int[n];
        for (int k = 0; k < n; k++) {
            f[k] = (float) r.nextGaussian();
            d[k] = r.nextGaussian();
            l[k] = r.nextLong(-1L << 40, 1L << 40);
            i[k] = r.nextInt();
        }
        f[0] = Float.intBitsToFloat(0x7fc01234);  // a NaN with a payload
        if (n > 1) d[1] = -0.0;
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            for (boolean transpose : new boolean[]{false, true}) {
                Tensor tf = view(s.tensor(f, rows, cols), transpose), td = view(s.tensor(d, rows, cols), transpose);
                Tensor tl = view(s.tensor(l, rows, cols), transpose);
                Tensor ti = view(s.tensor(i, rows, cols), transpose);
                String where = "seed " + seed + ", " + rows + "x" + cols + (transpose ? " transposed" : "");
                float[] fs = tf.toFloatArray();
                double[] fd = tf.toDoubleArray();
                double[] ds = td.toDoubleArray();
                float[] df = td.toFloatArray();
                long[] ls = tl.toLongArray();
                double[] ld = tl.toDoubleArray();
                int[] is = ti.toIntArray();
                long[] il = ti.toLongArray();
                for (int k = 0; k < n; k++) {
                    int src = transpose ? (k % rows) * cols + k / rows : k;
                    assertEquals(Float.floatToRawIntBits(f[src]), Float.floatToRawIntBits(fs[k]), where + " f32 element " + k);
                    assertEquals((double) f[src], fd[k], where + " f32 as double, element " + k);
                    assertEquals(Double.doubleToRawLongBits(d[src]), Double.doubleToRawLongBits(ds[k]), where + " f64 element " + k);
                    assertEquals((float) d[src], df[k], where + " f64 as float, element " + k);
                    assertEquals(l[src], ls[k], where + " i64 element " + k);
                    assertEquals((double) l[src], ld[k], where + " i64 as double, element " + k);
                    assertEquals(i[src], is[k], where + " i32 element " + k);
                    assertEquals(i[src], il[k], where + " i32 as long, element " + k);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22})
    void copyToFillsAReusedArrayLikeToFloatArray(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int rows = 2 + r.nextInt(7), cols = 2 + r.nextInt(7), n = rows * cols;
        float[] f = new float[n];
        double[] d = new double[n];
        for (int k = 0; k < n; k++) {
            f[k] = (float) r.nextGaussian();
            d[k] = r.nextGaussian();
        }
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            float[] into = new float[n];
            for (Tensor t : new Tensor[]{s.tensor(f, rows, cols), s.tensor(f, rows, cols).transpose(0, 1),
                    s.tensor(d, rows, cols), s.tensor(d, rows, cols).transpose(0, 1)}) {
                java.util.Arrays.fill(into, Float.NaN);
                t.copyTo(into);
                org.junit.jupiter.api.Assertions.assertArrayEquals(t.toFloatArray(), into, "seed " + seed + ", " + t);
            }
            ShapeMismatchException e = org.junit.jupiter.api.Assertions.assertThrows(ShapeMismatchException.class,
                    () -> s.tensor(f, rows, cols).copyTo(new float[n + 1]));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(n + " elements"), e.getMessage());
        }
    }

    private static Tensor view(Tensor t, boolean transpose) {
        return transpose ? t.transpose(0, 1) : t;
    }
}
