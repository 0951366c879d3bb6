package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.layout.DTypeCode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * How attention is cut with -Dgpuos.attention.splitS=true ({@link FamilyTasks#attentionSplit}), and the scratch it
 * takes in the operand table ({@link OperandTables.Scratch}). That the split computes the right thing is
 * AttentionHostTest's and GpuAttentionSplitTest's business.
 */
class AttentionSplitPlanTest {
    @Test
    void llamaDecodeSplitsOverTheWorkerBlocksAndShortRowsStayWhole() {
        // Llama-3.2-1B: 32 query heads, one row each
        assertArrayEquals(new long[]{1, 160}, FamilyTasks.attentionSplit(32, 160, true), "S = 160: one tile a row");
        assertArrayEquals(new long[]{4, 256}, FamilyTasks.attentionSplit(32, 1024, true));
        assertArrayEquals(new long[]{8, 512}, FamilyTasks.attentionSplit(32, 4096, true));
        assertArrayEquals(new long[]{1, 4096}, FamilyTasks.attentionSplit(32, 4096, false), "switch off");
        // chunks are whole multiples of 256 keys; the last one is shorter
        assertArrayEquals(new long[]{3, 256}, FamilyTasks.attentionSplit(1, 513, true));
        assertArrayEquals(new long[]{2, 256}, FamilyTasks.attentionSplit(1, 257, true));
        // rows enough for every block: as before
        assertArrayEquals(new long[]{1, 4096}, FamilyTasks.attentionSplit(264, 4096, true));
        assertArrayEquals(new long[]{1, 4096}, FamilyTasks.attentionSplit(1000, 4096, true));
        // rows x chunks stays within the worker's blocks
        long[] p = FamilyTasks.attentionSplit(40, 100_000, true);
        assertEquals(6, p[0]);
        assertEquals(0, p[1] % FamilyTasks.ATTENTION_KEYS);
        assertEquals(true, p[0] * p[1] >= 100_000 && (p[0] - 1) * p[1] < 100_000);
    }

    @Test
    void theScratchTakesItsBytesInTheTableAsTheLastOperand() {
        DeviceBuffer b = new DeviceBuffer() {
            public long address() { return 1L << 20; }
            public long byteSize() { return 1 << 16; }
            public boolean isLive() { return true; }
        };
        GpuView rec = new GpuView(b, DTypeCode.F32, 0, new long[]{4}, new long[]{1});
        OperandTables.Scratch big = new OperandTables.Scratch(32 * 8 * 66 * 4 + 32 * 4), tiny = new OperandTables.Scratch(12);
        assertEquals(5L * OperandTables.RECORD_WORDS + (32 * 8 * 66 * 4 + 32 * 4) / 8,
                OperandTables.words(List.of(rec, rec, rec, rec, rec, big.view())));
        assertEquals(2L * OperandTables.RECORD_WORDS, OperandTables.words(List.of(rec, tiny.view())), "at least a record");
        OperandTables t = OperandTables.growing();
        int first = t.append(List.of(rec, rec, rec, rec, rec, big.view()));
        int second = t.append(List.of(rec, rec, rec, rec, rec, tiny.view()));
        assertEquals(0, first);
        assertEquals(OperandTables.words(List.of(rec, rec, rec, rec, rec, big.view())), second);
        assertThrows(IllegalArgumentException.class, () -> t.append(List.of(big.view(), rec, rec, rec, rec)));
    }
}
