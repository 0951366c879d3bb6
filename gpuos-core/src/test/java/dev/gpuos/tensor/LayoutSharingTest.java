package dev.gpuos.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Layouts shared to save an op's allocations: contiguous layouts of one shape are one object (the interning cache),
 * and rows of one layout share its shape and strides. Sharing must never change what a layout says.
 */
class LayoutSharingTest {
    @Test
    void contiguousLayoutsOfOneShapeAreOneObject() {
        Layout a = Layout.contiguous(3, 5, 7);
        assertSame(a, Layout.contiguous(new long[] {3, 5, 7}));
        assertArrayEquals(new long[] {35, 7, 1}, a.strides());
        assertEquals(105, a.numel());
        long[] shape = {2, 4};
        Layout b = Layout.contiguous(shape);
        shape[0] = 9;  // the caller's array is not the layout's
        assertArrayEquals(new long[] {2, 4}, b.shape());
        assertArrayEquals(new long[] {9, 4}, Layout.contiguous(shape).shape());
    }

    /** Many shapes through the 256 cells: whichever one a cell holds, the answer is the layout asked for. */
    @Test
    void collidingShapesNeverAnswerForEachOther() {
        SplittableRandom random = new SplittableRandom(12);
        for (int i = 0; i < 20_000; i++) {
            long[] shape = new long[1 + random.nextInt(4)];
            for (int d = 0; d < shape.length; d++) shape[d] = random.nextInt(6);
            Layout l = Layout.contiguous(shape);
            assertArrayEquals(shape, l.shape());
            assertArrayEquals(Layout.contiguousStrides(shape), l.strides());
            assertEquals(0, l.offset());
            assertEquals(Layout.numel(shape), l.numel());
        }
        assertThrows(IllegalArgumentException.class, () -> Layout.contiguous(2, -1));
    }

    @Test
    void rowsShareTheirShapeButKeepTheirOwnOffset() {
        Layout m = new Layout(new long[] {4, 3, 5}, new long[] {40, 10, 2}, 7);
        for (int i = 0; i < 4; i++) {
            Layout row = m.select(0, i);
            assertArrayEquals(new long[] {3, 5}, row.shape());
            assertArrayEquals(new long[] {10, 2}, row.strides());
            assertEquals(7 + 40L * i, row.offset());
            assertEquals(15, row.numel());
            assertEquals(new Layout(new long[] {3, 5}, new long[] {10, 2}, 7 + 40L * i), row);
        }
        Layout col = m.select(1, 2);  // not a row: its own arrays
        assertArrayEquals(new long[] {4, 5}, col.shape());
        assertArrayEquals(new long[] {40, 2}, col.strides());
        assertEquals(27, col.offset());
        Layout rowOfRow = m.select(0, 3).select(0, 1);
        assertArrayEquals(new long[] {5}, rowOfRow.shape());
        assertEquals(7 + 120 + 10, rowOfRow.offset());
        assertThrows(IndexOutOfBoundsException.class, () -> m.select(0, 4));
        Layout v = Layout.contiguous(6);
        assertEquals(0, v.select(0, 5).rank());
        assertEquals(5, v.select(0, 5).offset());
        assertTrue(v.select(0, 5).isContiguous());
    }
}
