package dev.gpuos.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

class KernelParamsTest {
    @Test
    void noArgumentsIsANullArray() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(MemorySegment.NULL, KernelParams.marshal(arena));
        }
    }

    @RepeatedTest(20)
    void eachPointerLeadsToItsOwnEightByteSlot(RepetitionInfo repetition) {
        long seed = 0x6B65726E656CL + repetition.getCurrentRepetition();
        SplittableRandom random = new SplittableRandom(seed);
        long[] args = new long[1 + random.nextInt(40)];
        for (int i = 0; i < args.length; i++) {
            args[i] = random.nextLong();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = KernelParams.marshal(arena, args);
            assertEquals(args.length * ValueLayout.ADDRESS.byteSize(), array.byteSize(), "seed " + seed);
            Set<Long> slots = new HashSet<>();
            for (int i = 0; i < args.length; i++) {
                MemorySegment slot = array.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(Long.BYTES);
                assertEquals(0, slot.address() % Long.BYTES, "slot " + i + " misaligned, seed " + seed);
                assertEquals(args[i], slot.get(ValueLayout.JAVA_LONG, 0), "arg " + i + ", seed " + seed);
                slots.add(slot.address());
            }
            assertEquals(args.length, slots.size(), "slots must be distinct, seed " + seed);
        }
    }

    @Test
    void narrowParameterReadsTheLowBytesOfItsSlot() {
        // A kernel taking (int n, float x) reads 4 bytes from each pointer: little-endian makes that the value.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = KernelParams.marshal(arena, -7L & 0xFFFF_FFFFL,
                    Float.floatToRawIntBits(2.5f) & 0xFFFF_FFFFL);
            MemorySegment n = array.getAtIndex(ValueLayout.ADDRESS, 0).reinterpret(Integer.BYTES);
            MemorySegment x = array.getAtIndex(ValueLayout.ADDRESS, 1).reinterpret(Float.BYTES);
            assertEquals(-7, n.get(ValueLayout.JAVA_INT, 0));
            assertEquals(2.5f, x.get(ValueLayout.JAVA_FLOAT, 0));
            assertNotEquals(n.address(), x.address());
        }
    }
}
