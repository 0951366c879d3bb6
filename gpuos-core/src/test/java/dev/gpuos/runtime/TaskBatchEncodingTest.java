package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;
import dev.gpuos.runtime.layout.TaskFields;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The batch packs descriptor fields into a word array by hand; this reads them back through the layout's byte
 * offsets (little-endian MemorySegment accessors, an independent decoding) for random tasks.
 */
class TaskBatchEncodingTest {
    record Buf(long address, long byteSize) implements DeviceBuffer {
        public boolean isLive() { return true; }
    }

    @Test
    void aContiguousRecordIsTheStridedRecordOfTheSameDenseView() {
        // refContiguous writes whole words; ref writes field by field: the records must be the same bytes.
        Buf buf = new Buf(0x7f00_0000_0000L, 1L << 30);
        TaskBatch batch = new TaskBatch(1);
        for (DTypeCode dtype : DTypeCode.values()) {
            for (long numel : new long[]{1, 1023, (1L << 31) - 1}) {
                if (numel * dtype.byteSize > buf.byteSize()) continue;
                batch.clear();
                TaskBatch.TaskWriter w = batch.add(1, 1, 1);
                w.refAux(0, 0x55).refAux(1, 0x55);  // stale words a record must overwrite
                w.refContiguous(0, buf, 256, dtype, numel);
                w.ref(1, buf, 256, dtype, new long[]{numel}, new long[]{1});
                int words = (int) (TaskFields.REF_BYTES / 8), r0 = (int) (TaskFields.REFS / 8);
                for (int k = 0; k < words; k++) {
                    assertEquals(batch.words()[r0 + words + k], batch.words()[r0 + k], dtype + " n=" + numel + " word " + k);
                }
            }
        }
    }

    @Test
    void everyFieldReadsBackThroughTheLayoutOffsets() {
        SplittableRandom rnd = new SplittableRandom(7);
        TaskBatch batch = new TaskBatch(2);
        Buf buf = new Buf(0x7f00_0000_0000L, 1L << 30);
        int tasks = 50;
        long[][] expectArgs = new long[tasks][];
        int[][] expectSizes = new int[tasks][];
        long[][] expectStrides = new long[tasks][];
        int[] flags = new int[tasks];
        for (int t = 0; t < tasks; t++) {
            TaskBatch.TaskWriter w = batch.add(t + 1, 1 + rnd.nextInt(4096), 1 + rnd.nextInt(100_000));
            flags[t] = rnd.nextInt(0x4000);
            w.flags(flags[t]);
            if (t % 3 == 0) w.traced();
            expectArgs[t] = new long[Layouts.MAX_ARGS];
            for (int a = 0; a < Layouts.MAX_ARGS; a++) w.arg(a, expectArgs[t][a] = rnd.nextLong());
            int ndim = 1 + rnd.nextInt(Layouts.MAX_DIMS);
            long[] sizes = new long[ndim], strides = new long[ndim];
            for (int d = 0; d < ndim; d++) {
                sizes[d] = 1 + rnd.nextInt(3);
                strides[d] = rnd.nextInt(5) - 2;
            }
            w.ref(0, buf, 1L << 20, DTypeCode.F32, sizes, strides);
            w.refContiguous(1, buf, 64, DTypeCode.I64, 1000 + t);
            w.refAux(1, 0xABCDL + t);
            expectSizes[t] = new int[ndim];
            for (int d = 0; d < ndim; d++) expectSizes[t][d] = (int) sizes[d];
            expectStrides[t] = strides;
            if (t > 0) w.dependsOn(t - 1);
            w.dependsOnSeq(1000 + t);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment image = arena.allocate(TaskFields.TASK_BYTES * tasks, 8);
            MemorySegment.copy(batch.words(), 0, image, ValueLayout.JAVA_LONG_UNALIGNED, 0,
                    (int) (TaskFields.TASK_BYTES / 8) * tasks);
            for (int t = 0; t < tasks; t++) {
                long b = t * TaskFields.TASK_BYTES;
                assertEquals(batch.ntiles(t), image.get(ValueLayout.JAVA_INT_UNALIGNED, b + TaskFields.NTILES));
                int f = Short.toUnsignedInt(image.get(ValueLayout.JAVA_SHORT_UNALIGNED, b + TaskFields.FLAGS));
                assertEquals(flags[t] | (t % 3 == 0 ? Layouts.TASK_FLAG_TRACE : 0), f, "flags of task " + t);
                assertEquals(2, Byte.toUnsignedInt(image.get(ValueLayout.JAVA_BYTE, b + TaskFields.NREFS)));
                int ndeps = t > 0 ? 2 : 1;
                assertEquals(ndeps, Byte.toUnsignedInt(image.get(ValueLayout.JAVA_BYTE, b + TaskFields.NDEPS)));
                assertEquals(1000L + t, image.get(ValueLayout.JAVA_LONG_UNALIGNED, b + TaskFields.DEPS + 8L * (ndeps - 1)));
                if (t > 0) {
                    assertEquals(TaskBatch.BATCH_DEP | (t - 1), image.get(ValueLayout.JAVA_LONG_UNALIGNED, b + TaskFields.DEPS));
                }
                for (int a = 0; a < Layouts.MAX_ARGS; a++) {
                    assertEquals(expectArgs[t][a], image.get(ValueLayout.JAVA_LONG_UNALIGNED, b + TaskFields.ARGS + 8L * a));
                }
                long r = b + TaskFields.REFS;
                assertEquals(buf.address() + (1L << 20), image.get(ValueLayout.JAVA_LONG_UNALIGNED, r + TaskFields.REF_DATA));
                assertEquals(DTypeCode.F32.code, image.get(ValueLayout.JAVA_BYTE, r + TaskFields.REF_DTYPE));
                int ndim = expectSizes[t].length;
                assertEquals(ndim, image.get(ValueLayout.JAVA_BYTE, r + TaskFields.REF_NDIM));
                for (int d = 0; d < Layouts.MAX_DIMS; d++) {
                    assertEquals(d < ndim ? expectSizes[t][d] : 0, image.get(ValueLayout.JAVA_INT_UNALIGNED, r + TaskFields.REF_SIZES + 4L * d));
                    assertEquals(d < ndim ? expectStrides[t][d] : 0, image.get(ValueLayout.JAVA_LONG_UNALIGNED, r + TaskFields.REF_STRIDES + 8L * d));
                }
                long r1 = r + TaskFields.REF_BYTES;
                assertEquals(buf.address() + 64, image.get(ValueLayout.JAVA_LONG_UNALIGNED, r1 + TaskFields.REF_DATA));
                assertEquals(1000L + t, image.get(ValueLayout.JAVA_LONG_UNALIGNED, r1 + TaskFields.REF_NUMEL));
                assertEquals(Layouts.REF_CONTIGUOUS, image.get(ValueLayout.JAVA_SHORT_UNALIGNED, r1 + TaskFields.REF_FLAGS));
                assertEquals(0xABCDL + t, image.get(ValueLayout.JAVA_LONG_UNALIGNED, r1 + TaskFields.REF_AUX));
            }
        }
    }

    @Test
    void anEmptyViewAddressesNothingWhateverItsOffset() {
        TaskBatch batch = new TaskBatch(1);
        Buf oneByte = new Buf(0x1000, 1);  // what an empty tensor gets from the arena
        TaskBatch.TaskWriter w = batch.add(1, 1, 1);
        w.ref(0, oneByte, 6, DTypeCode.F16, new long[]{3, 0}, new long[]{0, 1});  // e.g. a narrow at element 3
        w.refContiguous(1, oneByte, 12, DTypeCode.F32, 0);
        long r = TaskFields.REFS;
        assertEquals(0x1000L, batch.words()[(int) ((r + TaskFields.REF_DATA) / 8)]);
        assertEquals(0x1000L, batch.words()[(int) ((r + TaskFields.REF_BYTES + TaskFields.REF_DATA) / 8)]);
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> batch.add(1, 1, 1).ref(0, oneByte, 6, DTypeCode.F16, new long[]{1}, new long[]{1}));
    }

    @Test
    void operandRecordsMovedToDeviceAreNotedInTheHeader() {
        TaskBatch batch = new TaskBatch(4);
        Buf buf = new Buf(0x7f00_0000_0000L, 1L << 30);
        batch.add(1, 1, 1024).flags(0x123).refContiguous(0, buf, 0, DTypeCode.F32, 1024)
                .refContiguous(1, buf, 4096, DTypeCode.F32, 1024).refContiguous(2, buf, 8192, DTypeCode.F32, 1024);
        batch.add(2, 1, 1);  // no operands (a join)
        long records = batch.operandRecordWords(0).length;
        assertEquals(3 * TaskFields.REF_BYTES / 8, records);
        assertEquals(TaskFields.REFS + 3 * TaskFields.REF_BYTES, batch.usedBytes(0));
        long[] before = batch.operandRecordWords(0);

        batch.refsInDevice(0, 0x7e00_0000_1000L);
        assertEquals(TaskFields.REFS + 3 * TaskFields.REF_BYTES, batch.usedBytes(0),
                "the host still writes whole descriptors (faster than headers alone); the agent skips the records");
        org.junit.jupiter.api.Assertions.assertArrayEquals(before, batch.operandRecordWords(0), "records stay");
        long[] w = batch.descriptorWords(0);
        long flagsWord = w[(int) (TaskFields.FLAGS >>> 3)] >>> ((TaskFields.FLAGS & 7) * 8) & 0xFFFF;
        assertEquals(0x123 | Layouts.TASK_FLAG_REFS_IN_DEVICE, flagsWord);
        assertEquals(0x7e00_0000_1000L, w[(int) (TaskFields.REFS_AT >>> 3)]);
        assertEquals(TaskFields.REFS, batch.usedBytes(1), "a task without operands is its header anyway");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> batch.refsInDevice(0, 0x1008));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> batch.add(3, 1, 1).flags(Layouts.TASK_FLAG_REFS_IN_DEVICE));
        // A new task starts without the note, whatever the slot held before.
        batch.clear();
        batch.add(1, 1, 1).refContiguous(0, buf, 0, DTypeCode.F32, 1);
        assertEquals(TaskFields.REFS + TaskFields.REF_BYTES, batch.usedBytes(0));
    }

    @Test
    void aCopiedDescriptorIsTheSameTaskUnderItsNewOperatorAndRefusesALaterDependency() {
        Buf buf = new Buf(0x7f00_0000_0000L, 1L << 30);
        TaskBatch from = new TaskBatch(2);
        from.add(3, 1, 1);
        from.add(4, 7, 99).argDouble(0, 1.5).refContiguous(0, buf, 0, DTypeCode.F32, 10)
                .refContiguous(1, buf, 64, DTypeCode.F32, 10).dependsOn(0).dependsOnSeq(12);
        OperatorRef op = new OperatorRef("copied", 9);
        TaskBatch to = new TaskBatch(2);
        to.addDescriptor(op, from.descriptorWords(0), java.util.List.of());
        to.addDescriptor(op, from.descriptorWords(1), java.util.List.of(buf, buf)).traced();
        assertEquals(2, to.size());
        assertEquals(8, to.tiles());
        long[] a = from.descriptorWords(1), b = to.descriptorWords(1);
        int opWord = (int) (TaskFields.OP >>> 3), flagsWord = (int) (TaskFields.FLAGS >>> 3);
        for (int w = 0; w < a.length; w++) {
            if (w != opWord && w != flagsWord) assertEquals(a[w], b[w], "word " + w);
        }
        assertEquals(9, (int) b[opWord]);
        assertEquals(9, to.operatorId(1));
        assertEquals(buf, to.operandBuffer(1, 1));
        assertEquals(Layouts.TASK_FLAG_TRACE, (int) (b[flagsWord] >>> ((TaskFields.FLAGS & 7) * 8)) & Layouts.TASK_FLAG_TRACE);
        // Its dep on batch task 0 must name an earlier task of the new batch too.
        TaskBatch alone = new TaskBatch(1);
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> alone.addDescriptor(op, from.descriptorWords(1), java.util.List.of(buf, buf)));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("names batch task 0"), e.getMessage());
        assertEquals(0, alone.size());
        assertEquals(0, alone.tiles());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> to.addDescriptor(op, from.descriptorWords(1), java.util.List.of(buf)));
        assertEquals(2, to.size());
    }
}
