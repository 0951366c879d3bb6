package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.runtime.DeviceBuffer;
import dev.gpuos.runtime.OperatorRef;
import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.TaskFields;
import dev.gpuos.tensor.gpu.GpuReplay;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Rebasing a captured program's operands onto the buffers of another context: pure Java, no GPU. */
class PortableProgramTest {
    record Fake(long address, long byteSize) implements DeviceBuffer {
        public boolean isLive() { return true; }
    }

    static final Fake A = new Fake(0x1000_0000L, 4096), B = new Fake(0x2000_0000L, 4096);
    static final Fake OUT = new Fake(0x3000_0000L, 8192), TMP = new Fake(0x4000_0000L, 4096);

    /** out[0:256] = a + b; tmp = out[256:512] * a (depends on the first); a join; out[512:] = tmp. */
    static List<GpuReplay.Task> captured() {
        TaskBatch batch = new TaskBatch(4);
        batch.add(7, 2, 128)
                .refContiguous(0, A, 0, DTypeCode.F32, 256)
                .refContiguous(1, B, 0, DTypeCode.F32, 256)
                .refContiguous(2, OUT, 0, DTypeCode.F32, 256)
                .arg(0, 42);
        batch.add(8, 1, 256)
                .refContiguous(0, OUT, 1024, DTypeCode.F32, 256)
                .refContiguous(1, A, 0, DTypeCode.F32, 256)
                .refContiguous(2, TMP, 0, DTypeCode.F32, 256)
                .dependsOn(0);
        batch.add(9, 1, 1).dependsOn(0).dependsOn(1);
        batch.add(8, 3, 100)
                .refContiguous(0, TMP, 0, DTypeCode.F32, 256)
                .refContiguous(1, OUT, 2048, DTypeCode.F32, 256)
                .dependsOn(2);
        String[] names = {"add", "mul", GpuReplay.Task.JOIN, "copy"};
        List<GpuReplay.Task> tasks = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            List<DeviceBuffer> operands = new ArrayList<>();
            for (int r = 0; r < batch.operandCount(i); r++) operands.add(batch.operandBuffer(i, r));
            tasks.add(new GpuReplay.Task(names[i], new OperatorRef(names[i], batch.operatorId(i)), "GPUOS_OP { /* "
                    + names[i] + " */ }", batch.descriptorWords(i), i == 1 ? 8192 : 0, operands));
        }
        return tasks;
    }

    static PortableProgram program() {
        return PortableProgram.of(captured(), Map.of("a", A, "b", B),
                List.of(new PortableProgram.RowAt(OUT, 0, 256), new PortableProgram.RowAt(OUT, 2048, 256)));
    }

    @Test
    void buffersAreNumberedInFirstUseAndKnowTheirInputs() {
        PortableProgram p = program();
        assertEquals(List.of(new PortableProgram.Buffer(A.address(), 4096, "a"),
                new PortableProgram.Buffer(B.address(), 4096, "b"),
                new PortableProgram.Buffer(OUT.address(), 8192, null),
                new PortableProgram.Buffer(TMP.address(), 4096, null)), p.buffers());
        assertEquals(List.of(new PortableProgram.Row(2, 0, 256), new PortableProgram.Row(2, 2048, 256)), p.rows());
    }

    @Test
    void joinsAreDroppedAndTasksKeepTheirGridAndSharedMemory() {
        PortableProgram p = program();
        assertEquals(List.of("add", "mul", "copy"), p.tasks().stream().map(PortableProgram.Task::name).toList());
        assertEquals(List.of(2, 1, 3), p.tasks().stream().map(PortableProgram.Task::ntiles).toList());
        assertEquals(List.of(0, 8192, 0), p.tasks().stream().map(PortableProgram.Task::smemBytes).toList());
        assertArrayEquals(new int[]{2, 0, 3}, p.tasks().get(1).operandBuffers());
    }

    @Test
    void descriptorsPointIntoTheNewBuffersWithTheSameOffsetsAndNoDependencies() {
        PortableProgram p = program();
        long[] base = {0x7000_0000L, 0x7100_0000L, 0x7200_0000L, 0x7300_0000L};
        MemorySegment d = MemorySegment.ofArray(p.descriptors(base));
        long task = TaskFields.TASK_BYTES;
        assertEquals(3 * task, d.byteSize());
        long[][] expected = {{base[0], base[1], base[2]}, {base[2] + 1024, base[0], base[3]}, {base[3], base[2] + 2048}};
        for (int t = 0; t < 3; t++) {
            long at = t * task;
            for (int r = 0; r < expected[t].length; r++) {
                long ref = at + TaskFields.REFS + r * TaskFields.REF_BYTES;
                assertEquals(expected[t][r], d.get(ValueLayout.JAVA_LONG, ref + TaskFields.REF_DATA), "task " + t + " ref " + r);
                assertEquals(256, d.get(ValueLayout.JAVA_LONG, ref + TaskFields.REF_NUMEL));
            }
            assertEquals(0, d.get(ValueLayout.JAVA_BYTE, at + TaskFields.NDEPS));
            assertEquals(0, d.get(ValueLayout.JAVA_LONG, at + TaskFields.DEPS));
            assertEquals(0, d.get(ValueLayout.JAVA_INT, at + TaskFields.OP));
            assertEquals(expected[t].length, d.get(ValueLayout.JAVA_BYTE, at + TaskFields.NREFS));
        }
        assertEquals(2, d.get(ValueLayout.JAVA_INT, TaskFields.NTILES));
        assertEquals(128, d.get(ValueLayout.JAVA_INT, TaskFields.TILE_SIZE));
        assertEquals(42, d.get(ValueLayout.JAVA_LONG, TaskFields.ARGS));
        assertEquals(100, d.get(ValueLayout.JAVA_INT, 2 * task + TaskFields.TILE_SIZE));
    }

    @Test
    void refusesWhatCannotBeRebased() {
        List<GpuReplay.Task> tasks = captured();
        // A row in a buffer no task touches would read zeros: refused.
        assertThrows(IllegalStateException.class, () -> PortableProgram.of(tasks, Map.of("a", A),
                List.of(new PortableProgram.RowAt(new Fake(0x5000_0000L, 1024), 0, 16))));
        // A row reaching past its buffer.
        assertThrows(IllegalStateException.class, () -> PortableProgram.of(tasks, Map.of("a", A),
                List.of(new PortableProgram.RowAt(OUT, 8000, 256))));
        // An aux word might be an address.
        TaskBatch batch = new TaskBatch(1);
        batch.add(1, 1, 1).refContiguous(0, A, 0, DTypeCode.F32, 4).refAux(0, 0x1234);
        GpuReplay.Task aux = new GpuReplay.Task("aux", new OperatorRef("aux", 1), "", batch.descriptorWords(0), 0,
                List.of(A));
        assertThrows(IllegalStateException.class, () -> PortableProgram.of(List.of(aux), Map.of(), List.of()));
        // An operand table holds addresses of this context inside a buffer (fused tasks past 4 operands).
        TaskBatch wide = new TaskBatch(1);
        wide.add(1, 1, 1).refContiguous(0, TMP, 0, DTypeCode.U8, 640);
        GpuReplay.Task table = new GpuReplay.Task("ew_add_mul", new OperatorRef("ew", 1),
                "GPUOS_OP {\n    const gpuos_tensor_ref* R = gt::operand_table(task);\n}", wide.descriptorWords(0), 0, List.of(TMP));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PortableProgram.of(List.of(table), Map.of(), List.of()));
        assertTrue(e.getMessage().contains("operand table"), e.getMessage());
        // Wrong count of new addresses.
        assertThrows(IllegalArgumentException.class, () -> program().descriptors(new long[2]));
    }

    @Test
    void anEmptyOperandAtItsBufferStartIsKept() {
        TaskBatch batch = new TaskBatch(1);
        batch.add(1, 1, 1).refContiguous(0, A, 64, DTypeCode.F32, 0).refContiguous(1, B, 4, DTypeCode.F32, 3);
        GpuReplay.Task t = new GpuReplay.Task("empty", new OperatorRef("e", 1), "", batch.descriptorWords(0), 0,
                List.of(A, B));
        PortableProgram p = PortableProgram.of(List.of(t), Map.of("b", B), List.of());
        assertNull(p.buffers().get(0).input());
        assertTrue(p.buffers().get(1).isInput());
        long[] d = p.descriptors(new long[]{100, 200});
        MemorySegment s = MemorySegment.ofArray(d);
        assertEquals(100, s.get(ValueLayout.JAVA_LONG, TaskFields.REFS + TaskFields.REF_DATA));
        assertEquals(204, s.get(ValueLayout.JAVA_LONG, TaskFields.REFS + TaskFields.REF_BYTES + TaskFields.REF_DATA));
    }
}
