package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SeededInputsTest {

    /** The hash written out with unsigned 64-bit arithmetic, the way run.py evaluates it. */
    static long hash32Wide(long x) {
        x &= 0xFFFFFFFFL;
        x = ((x ^ (x >>> 16)) * 0x45d9f3bL) & 0xFFFFFFFFL;
        x = ((x ^ (x >>> 16)) * 0x45d9f3bL) & 0xFFFFFFFFL;
        return x ^ (x >>> 16);
    }

    @Test
    void hashMatchesTheWideFormulation() {
        long seed = new SplittableRandom().nextLong();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < 100_000; i++) {
            int x = r.nextInt();
            assertEquals(hash32Wide(Integer.toUnsignedLong(x)), Integer.toUnsignedLong(SeededInputs.hash32(x)),
                    "seed " + seed + ", x " + x);
        }
    }

    @Test
    void generateAgreesWithValueAndIsDeterministic() {
        float[] a = SeededInputs.generate(7, 3_000_000, -1f, 2f);
        float[] b = SeededInputs.generate(7, 3_000_000, -1f, 2f);
        assertTrue(java.util.Arrays.equals(a, b), "same seed, different values");
        for (int i : new int[]{0, 1, 1 << 20, (1 << 20) + 1, 2_999_999}) {
            assertEquals(SeededInputs.value(7, i, -1f, 2f), a[i], "index " + i);
            long h = hash32Wide(i + hash32Wide(7));
            assertEquals((float) ((h >>> 8) * 0x1p-23 - 1), a[i], "index " + i + " vs the exact formula");
        }
    }

    @Test
    void symmetricValuesAreExactAndInRange() {
        float[] v = SeededInputs.generate(3, 100_000, -1f, 2f);
        double sum = 0;
        for (float x : v) {
            assertTrue(x >= -1 && x < 1, "value " + x);
            double scaled = ((double) x + 1) * 0x1p23;
            assertEquals(Math.rint(scaled), scaled, "value " + x + " is not a multiple of 2^-23");
            sum += x;
        }
        assertTrue(Math.abs(sum / v.length) < 0.01, "mean " + sum / v.length);
        float[] other = SeededInputs.generate(4, 100_000, -1f, 2f);
        int same = 0;
        for (int i = 0; i < v.length; i++) {
            same += v[i] == other[i] ? 1 : 0;
        }
        assertTrue(same < 100, same + " equal elements for different seeds");
    }

    @Test
    void fingerprintSumsAndKeepsHeadAndLast() {
        SeededInputs.Fingerprint f = SeededInputs.fingerprint(new float[]{1f, 2f, 3f, 4f, 5f});
        assertEquals(5, f.count());
        assertEquals(15.0, f.sum());
        assertEquals(4, f.head().length);
        assertEquals(5f, f.last());
    }
}
