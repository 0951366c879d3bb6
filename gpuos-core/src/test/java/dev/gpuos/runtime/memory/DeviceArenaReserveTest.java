package dev.gpuos.runtime.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link DeviceArena#reserve}: one device allocation cut into exact extents for large requests. */
class DeviceArenaReserveTest {

    private static final long MIB = 1L << 20;

    @Test
    void largeRequestsAreCutFromOneReservationWithoutFurtherDeviceCalls() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(1024 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * MIB, 32 * MIB)) {
            long[] sizes = {12_582_912 + 100, 8 * MIB, 67 * MIB, 33 * MIB + 7, MIB};
            long need = 0;
            for (long s : sizes) need += (s + 255) / 256 * 256;
            assertEquals(need, arena.reserve(need));
            assertEquals(1, device.allocateCalls());
            List<DeviceBlock> blocks = new ArrayList<>();
            for (long s : sizes) {
                DeviceBlock b = arena.allocate(s);
                assertTrue(b.isReserved(), b.toString());
                assertFalse(b.isDedicated(), b.toString());
                assertEquals(s, b.size());
                assertEquals((s + 255) / 256 * 256, b.capacity(), "exact extents, no buddy class: " + b);
                assertEquals(0, b.address() % 256, b.toString());
                assertTrue(device.contains(b.address(), b.capacity()), b.toString());
                blocks.add(b);
            }
            assertEquals(1, device.allocateCalls(), "no device call past the reservation");
            assertEquals(0, arena.stats().reservedFreeBytes());
            for (int i = 0; i < blocks.size(); i++) {
                for (int j = i + 1; j < blocks.size(); j++) {
                    DeviceBlock a = blocks.get(i), b = blocks.get(j);
                    assertTrue(a.address() + a.capacity() <= b.address() || b.address() + b.capacity() <= a.address(),
                            a + " overlaps " + b);
                }
            }
            // the reservation is full: the next large request goes to the device as before
            DeviceBlock extra = arena.allocate(40 * MIB);
            assertTrue(extra.isDedicated(), extra.toString());
            // small requests never touch a reservation
            assertFalse(arena.allocate(4096).isReserved());
        }
        assertEquals(0, device.liveAllocations());
    }

    @Test
    void reserveTakesOnlyTheShortfallCountingBlocksPendingReuse() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(1024 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * MIB, 32 * MIB)) {
            assertEquals(100 * MIB, arena.reserve(100 * MIB));
            DeviceBlock a = arena.allocate(60 * MIB);
            arena.release(a, 5);   // a task up to seq 5 may still use it: pending, but counted as reserved
            assertEquals(0, arena.reserve(100 * MIB), "a second load of the same model needs nothing new");
            assertEquals(20 * MIB, arena.reserve(120 * MIB));
            assertEquals(2, device.allocateCalls());
            assertEquals(120 * MIB, arena.stats().reservedBytes());
            // not yet completed: the extent is not handed out again
            DeviceBlock b = arena.allocate(90 * MIB);
            assertTrue(b.isDedicated(), "only 40 + 20 MiB free in the regions until seq 5 completes: " + b);
            arena.advance(6);
            DeviceBlock c = arena.allocate(60 * MIB);
            assertEquals(a.address(), c.address(), "the completed extent is reused");
        }
    }

    @Test
    void returnedExtentsMergeAndAWhollyFreeRegionIsTrimmed() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(1024 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * MIB, 32 * MIB)) {
            arena.reserve(64 * MIB);
            SplittableRandom rnd = new SplittableRandom(7);
            for (int round = 0; round < 50; round++) {
                List<DeviceBlock> blocks = new ArrayList<>();
                DeviceBlock b;
                while (arena.stats().reservedFreeBytes() >= 8 * MIB
                        && (b = arena.allocate(MIB + rnd.nextLong(7 * MIB))).isReserved()) {
                    blocks.add(b);
                }
                java.util.Collections.shuffle(blocks, new java.util.Random(round));
                for (DeviceBlock x : blocks) arena.release(x, -1);
                assertEquals(64 * MIB, arena.stats().reservedFreeBytes(), "round " + round);
            }
            // every extent merged back: the whole region is one extent again
            DeviceBlock whole = arena.allocate(64 * MIB);
            assertTrue(whole.isReserved(), whole.toString());
            arena.release(whole, -1);
            device.setWorkerRunning(true);
            assertThrows(IllegalStateException.class, arena::trim);
            device.setWorkerRunning(false);
            assertEquals(64 * MIB, arena.trim());
            assertEquals(0, arena.stats().reservedBytes());
        }
        assertEquals(0, device.liveAllocations());
    }

    @Test
    void rejectsBadSizesAndDoubleFrees() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 4 * MIB, 2 * MIB)) {
            assertThrows(IllegalArgumentException.class, () -> arena.reserve(0));
            assertThrows(DeviceOutOfMemoryException.class, () -> arena.reserve(128 * MIB));
        }
        ReservedRegion r = new ReservedRegion(0x1000, 4096);
        long at = r.take(1024);
        assertEquals(0x1000, at);
        r.giveBack(at, 1024);
        assertThrows(IllegalStateException.class, () -> r.giveBack(at, 1024));
        assertThrows(IllegalArgumentException.class, () -> r.giveBack(0x1000 + 4096, 256));
    }
}
