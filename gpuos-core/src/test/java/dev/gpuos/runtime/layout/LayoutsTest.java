package dev.gpuos.runtime.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one definition in {@link Layouts} agrees with itself: offsets, MemoryLayouts, padding, the header. */
class LayoutsTest {

    @Test
    void everyFieldOffsetMatchesItsMemoryLayout() {
        for (StructDef s : Layouts.all().values()) {
            MemoryLayout layout = s.memoryLayout();
            assertEquals(s.size(), layout.byteSize(), s.cName() + " size");
            for (StructDef.Field f : s.fields()) {
                assertEquals(f.offset(), layout.byteOffset(PathElement.groupElement(f.name())),
                        s.cName() + "." + f.name());
                assertEquals(f.offset(), s.offset(f.name()), s.cName() + "." + f.name() + " via offset()");
                assertEquals(0, f.offset() % Math.min(f.elementSize(), 8), s.cName() + "." + f.name() + " misaligned");
            }
        }
    }

    @Test
    void nestedPathsMatchTheMemoryLayout() {
        MemoryLayout task = Layouts.TASK.memoryLayout();
        for (int r = 0; r < Layouts.MAX_REFS; r++) {
            for (int d = 0; d < Layouts.MAX_DIMS; d++) {
                long viaLayout = task.byteOffset(PathElement.groupElement("refs"), PathElement.sequenceElement(r),
                        PathElement.groupElement("strides"), PathElement.sequenceElement(d));
                assertEquals(viaLayout, Layouts.TASK.offset("refs[" + r + "].strides[" + d + "]"), "ref " + r + " dim " + d);
            }
        }
        MemoryLayout ctrl = Layouts.HOST_CONTROL.memoryLayout();
        for (int i = 0; i < Layouts.FAULT_LOG; i++) {
            long viaLayout = ctrl.byteOffset(PathElement.groupElement("faultLog"), PathElement.sequenceElement(i),
                    PathElement.groupElement("tag"));
            assertEquals(viaLayout, Layouts.HOST_CONTROL.offset("faultLog[" + i + "].tag"), "fault entry " + i);
        }
    }

    @Test
    void sizesAreMultiplesOfAlignmentAndDescriptorsCopyAs16ByteVectors() {
        for (StructDef s : Layouts.all().values()) {
            assertEquals(0, s.size() % s.alignment(), s.cName() + " size " + s.size() + " vs alignment " + s.alignment());
        }
        assertEquals(0, Layouts.TASK.size() % 16, "gpuos_task is copied as uint4 vectors");
        assertEquals(0, Layouts.QUEUE_STATE.alignment() % 128);
        assertEquals(0, Layouts.HOST_CONTROL.alignment() % 128);
    }

    private static String writerClass(String writer) {
        String w = writer.toLowerCase();
        if (w.startsWith("host")) {
            return "host";
        }
        if (w.startsWith("agent")) {
            return "agent";
        }
        if (w.startsWith("trace")) {
            return "trace"; // debugging stamps of one task: a line of their own, off every hot line
        }
        if (w.contains("worker")) {
            return "workers";
        }
        throw new AssertionError("unclassified writer '" + writer + "'");
    }

    @Test
    void differentWritersNeverShareA128ByteLine() {
        for (StructDef s : new StructDef[] {Layouts.QUEUE_STATE, Layouts.HOST_CONTROL}) {
            Map<Long, String> ownerOfLine = new HashMap<>();
            for (StructDef.Field f : s.fields()) {
                String owner = writerClass(f.writer());
                for (long line = f.offset() / 128; line <= (f.offset() + f.byteSize() - 1) / 128; line++) {
                    String previous = ownerOfLine.putIfAbsent(line, owner);
                    assertTrue(previous == null || previous.equals(owner), s.cName() + " line " + line + " written by "
                            + previous + " and " + owner + " (" + f.name() + ")");
                }
            }
        }
        // The ticket cursor is the hottest atomic: alone on its line, apart from the fault counter.
        StructDef q = Layouts.QUEUE_STATE;
        assertNotEquals(q.offset("tileCursor") / 128, q.offset("faultCount") / 128);
        assertNotEquals(q.offset("tileCursor") / 128, q.offset("pubTiles") / 128);
    }

    @Test
    void headerAssertsEveryOffsetAndSize() {
        String header = CudaHeader.generate();
        for (StructDef s : Layouts.all().values()) {
            assertTrue(header.contains("static_assert(sizeof(" + s.cName() + ") == " + s.size() + ","), s.cName());
            for (StructDef.Field f : s.fields()) {
                String expected = "static_assert(__builtin_offsetof(" + s.cName() + ", " + f.name() + ") == "
                        + f.offset() + ",";
                assertTrue(header.contains(expected), "missing: " + expected);
            }
        }
        for (var c : Layouts.constants().entrySet()) {
            assertTrue(header.contains("#define GPUOS_" + c.getKey() + " " + c.getValue() + "\n"), c.getKey());
        }
    }
}
