package dev.gpuos.tensor;

import dev.gpuos.tensor.TestData.Made;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** View ops share storage and read the right elements, for random shapes and starting layouts. */
class ViewTest {

    @RepeatedTest(60)
    void randomViewChainsMatchReference(RepetitionInfo info) {
        long seed = 1000 + info.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        try (TensorScope s = TensorScope.open()) {
            DType t = TestData.ALL[r.nextInt(TestData.ALL.length)];
            long[] shape = TestData.randomShape(r, 4, 4);
            Made m = TestData.make(s, r, t, shape, true);
            Tensor x = m.tensor();
            RefArray ref = m.ref();
            StringBuilder ctx = new StringBuilder("seed " + seed + " " + t + Arrays.toString(shape) + " " + m.kind());
            for (int step = 0; step < 4; step++) {
                int rank = ref.rank();
                int choice = r.nextInt(8);
                Tensor before = x;
                RefArray next;
                if (choice == 0 && rank > 0) {
                    int[] p = TestData.randomPermutation(r, rank);
                    ctx.append(" permute").append(Arrays.toString(p));
                    x = x.permute(p);
                    long[] ns = new long[rank];
                    for (int i = 0; i < rank; i++) ns[i] = ref.shape[p[i]];
                    RefArray src = ref;
                    next = RefArray.zeros(t, ns);
                    RefArray.forEachIndex(ns, idx -> {
                        long[] j = new long[rank];
                        for (int i = 0; i < rank; i++) j[p[i]] = idx[i];
                        next.set(idx, src.at(j));
                    });
                } else if (choice == 1 && rank > 0) {
                    int d = r.nextInt(rank);
                    long size = ref.shape[d];
                    long start = size == 0 ? 0 : r.nextInt((int) size + 1) - (r.nextBoolean() ? size : 0);
                    long end = r.nextInt((int) size + 2) - 1 + (r.nextBoolean() ? 0 : 10);
                    long stepSize = 1 + r.nextInt(3);
                    ctx.append(" slice(").append(d).append(',').append(start).append(',').append(end).append(',').append(stepSize).append(')');
                    x = x.slice(d, start, end, stepSize);
                    long s0 = Math.max(0, Math.min(start < 0 ? start + size : start, size));
                    long e0 = Math.max(0, Math.min(end < 0 ? end + size : end, size));
                    long len = e0 <= s0 ? 0 : (e0 - s0 + stepSize - 1) / stepSize;
                    long[] ns = ref.shape.clone();
                    ns[d] = len;
                    RefArray src = ref;
                    next = RefArray.zeros(t, ns);
                    RefArray.forEachIndex(ns, idx -> {
                        long[] j = idx.clone();
                        j[d] = s0 + idx[d] * stepSize;
                        next.set(idx, src.at(j));
                    });
                } else if (choice == 2 && rank > 0 && ref.shape[0] > 0) {
                    long i0 = r.nextInt((int) ref.shape[0]);
                    ctx.append(" select(0,").append(i0).append(')');
                    x = x.select(0, i0);
                    long[] ns = Arrays.copyOfRange(ref.shape, 1, rank);
                    RefArray src = ref;
                    next = RefArray.zeros(t, ns);
                    RefArray.forEachIndex(ns, idx -> {
                        long[] j = new long[rank];
                        j[0] = i0;
                        System.arraycopy(idx, 0, j, 1, rank - 1);
                        next.set(idx, src.at(j));
                    });
                } else if (choice == 3) {
                    int d = r.nextInt(rank + 1);
                    ctx.append(" unsqueeze(").append(d).append(')');
                    x = x.unsqueeze(d);
                    long[] ns = new long[rank + 1];
                    for (int i = 0, k = 0; i <= rank; i++) ns[i] = i == d ? 1 : ref.shape[k++];
                    next = new RefArray(t, ns, ref.v);
                } else if (choice == 4) {
                    ctx.append(" squeeze");
                    x = x.squeeze();
                    next = new RefArray(t, Arrays.stream(ref.shape).filter(v -> v != 1).toArray(), ref.v);
                } else if (choice == 5) {
                    long[] ns = ref.shape.clone();
                    for (int i = 0; i < rank; i++) if (ns[i] == 1 && r.nextBoolean()) ns[i] = 1 + r.nextInt(3);
                    long[] expandTo = ns;
                    if (r.nextBoolean()) {
                        expandTo = new long[rank + 1];
                        expandTo[0] = 2;
                        System.arraycopy(ns, 0, expandTo, 1, rank);
                    }
                    ctx.append(" expand").append(Arrays.toString(expandTo));
                    x = x.expand(expandTo);
                    RefArray src = ref;
                    next = RefArray.zeros(t, expandTo);
                    RefArray.forEachIndex(expandTo, idx -> next.set(idx, src.broadcastAt(idx)));
                } else if (choice == 6) {
                    long[] ns = {-1};
                    if (ref.v.length > 0 && ref.v.length % 2 == 0 && r.nextBoolean()) ns = new long[]{2, -1};
                    ctx.append(" reshape").append(Arrays.toString(ns));
                    boolean viewable = x.layout().viewAs(Layout.inferShape(ns, x.numel())) != null;
                    x = x.reshape(ns);
                    if (viewable) assertSame(before.storage(), x.storage(), ctx + ": reshape copied a viewable tensor");
                    next = new RefArray(t, x.shape(), ref.v);
                } else {
                    ctx.append(" contiguous");
                    x = x.contiguous();
                    assertTrue(x.isContiguous(), ctx.toString());
                    next = ref;
                }
                if (choice != 6 && choice != 7) assertSame(before.storage(), x.storage(), ctx + ": a view copied");
                ref = next;
                TestData.assertMatches(ref, x, 0, ctx.toString());
            }
        }
    }

    @Test
    void coversAllIsTrueOnlyForViewsTouchingEveryElementOnce() {
        assertTrue(Layout.contiguous(2, 3).coversAll(6));
        assertTrue(Layout.contiguous(2, 3).permute(new int[]{1, 0}).coversAll(6));
        assertTrue(new Layout(new long[]{3, 1, 2}, new long[]{1, 99, 3}, 0).coversAll(6));
        assertTrue(Layout.contiguous().coversAll(1));
        assertFalse(Layout.contiguous(2, 3).coversAll(7));                                  // a buffer larger
        assertFalse(new Layout(new long[]{2, 3}, new long[]{3, 1}, 1).coversAll(6));          // offset
        assertFalse(new Layout(new long[]{2, 3}, new long[]{0, 1}, 0).coversAll(6));          // broadcast
        assertFalse(new Layout(new long[]{2, 3}, new long[]{2, 1}, 0).coversAll(6));          // overlapping
        assertFalse(new Layout(new long[]{6}, new long[]{2}, 0).coversAll(6));                // gaps
    }

    @Test
    void viewRefusesWhatStridesCannotExpress() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.arange(6).reshape(2, 3);
            Tensor t = x.transpose(0, 1);
            assertFalse(t.isContiguous());
            assertThrows(ShapeMismatchException.class, () -> t.view(6));
            assertArrayEquals(new long[]{0, 3, 1, 4, 2, 5}, t.reshape(6).toLongArray());
            assertThrows(ShapeMismatchException.class, () -> x.view(4));
            assertThrows(ShapeMismatchException.class, () -> x.reshape(-1, -1));
            assertArrayEquals(new long[]{3, 2}, x.view(3, -1).shape());
        }
    }

    @Test
    void asStridedAllowsZeroStridesAndRejectsOutOfStorage() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.arange(6);
            Tensor rows = x.asStrided(new long[]{3, 2}, new long[]{0, 1}, 2);
            assertArrayEquals(new long[]{2, 3, 2, 3, 2, 3}, rows.toLongArray());
            Tensor windows = x.asStrided(new long[]{3, 3}, new long[]{1, 1}, 0);
            assertArrayEquals(new long[]{0, 1, 2, 1, 2, 3, 2, 3, 4}, windows.toLongArray());
            assertArrayEquals(new long[]{3, 6, 9}, windows.sum(new int[]{1}, false).toLongArray());
            assertThrows(IndexOutOfBoundsException.class, () -> x.asStrided(new long[]{3, 3}, new long[]{2, 1}, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> x.asStrided(new long[]{1}, new long[]{1}, 6));
            assertThrows(IllegalArgumentException.class, () -> x.asStrided(new long[]{2}, new long[]{-1}, 3));
        }
    }

    @Test
    void outOfRangeDimensionsAndIndicesThrow() {
        try (TensorScope s = TensorScope.open()) {
            Tensor x = s.zeros(DType.F32, 2, 3);
            assertThrows(IndexOutOfBoundsException.class, () -> x.select(2, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> x.select(1, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, 2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> x.sum(new int[]{-3}, false));
            assertThrows(IndexOutOfBoundsException.class, () -> x.softmax(2));
            assertThrows(IndexOutOfBoundsException.class, () -> x.unsqueeze(4));
            assertThrows(IllegalArgumentException.class, () -> x.permute(0, 0));
            assertThrows(ShapeMismatchException.class, () -> x.expand(4, 3));
            assertThrows(IllegalArgumentException.class, () -> x.slice(0, 0, 2, 0));
        }
    }
}
