package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * An operand table record is exactly the operand record a descriptor carries ({@code TaskBatch.TaskWriter.ref}),
 * so operators read table operands and inline ones alike: random views (ranks 0-8, zero, negative and
 * broadcast strides, offsets, every dtype) encoded both ways, word for word. And the same refusals: a released
 * buffer, a view reaching outside its buffer.
 */
class OperandTablesTest {

    private static final class FakeBuffer implements DeviceBuffer {
        final long address, bytes;
        boolean live = true;

        FakeBuffer(long address, long bytes) {
            this.address = address;
            this.bytes = bytes;
        }

        @Override public long address() { return address; }
        @Override public long byteSize() { return bytes; }
        @Override public boolean isLive() { return live; }
    }

    @Test
    void tableRecordsAreTheDescriptorsOperandRecords() {
        SplittableRandom r = new SplittableRandom(5);
        DTypeCode[] codes = {DTypeCode.F32, DTypeCode.F16, DTypeCode.BF16, DTypeCode.F64, DTypeCode.I32, DTypeCode.I64,
                DTypeCode.BOOL, DTypeCode.U8};
        for (int k = 0; k < 2000; k++) {
            int rank = r.nextInt(9);
            long[] sizes = new long[rank], strides = new long[rank];
            long span = 1;
            for (int d = rank - 1; d >= 0; d--) {
                sizes[d] = r.nextInt(10) == 0 ? 0 : 1 + r.nextInt(5);
                int kind = r.nextInt(4);
                strides[d] = kind == 0 ? 0 : kind == 1 ? -span : span;
                span *= Math.max(1, sizes[d]);
            }
            DTypeCode t = codes[r.nextInt(codes.length)];
            long extent = 2 * span * t.byteSize + 64;
            FakeBuffer b = new FakeBuffer(0x7000_0000_0000L + 256L * k, 2 * extent);
            long offset = extent;  // room for negative strides on either side
            GpuView v = new GpuView(b, t, offset, sizes, strides);
            long[] table = new long[OperandTables.RECORD_WORDS];
            Arrays.fill(table, -1L);  // every word must be written
            OperandTables.encode(v, table, 0);
            TaskBatch batch = new TaskBatch(1);
            v.write(batch.add(0, 1, 1), 0);
            assertArrayEquals(batch.operandRecordWords(0), table, v.toString());
        }
    }

    @Test
    void releasedBuffersAndViewsOutsideTheirBufferAreRefused() {
        FakeBuffer b = new FakeBuffer(0x1000, 64);
        long[] table = new long[OperandTables.RECORD_WORDS];
        assertThrows(IndexOutOfBoundsException.class,
                () -> OperandTables.encode(new GpuView(b, DTypeCode.F32, 0, new long[]{17}, new long[]{1}), table, 0));
        assertThrows(IndexOutOfBoundsException.class,
                () -> OperandTables.encode(new GpuView(b, DTypeCode.F32, 8, new long[]{4}, new long[]{-1}), table, 0));
        b.live = false;
        assertThrows(IllegalStateException.class,
                () -> OperandTables.encode(new GpuView(b, DTypeCode.F32, 0, new long[]{4}, new long[]{1}), table, 0));
    }
}
