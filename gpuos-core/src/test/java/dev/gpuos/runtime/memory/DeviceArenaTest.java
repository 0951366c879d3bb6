package dev.gpuos.runtime.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeviceArenaTest {

    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;

    @Test
    void roundsToPowerOfTwoClassesOfAtLeast256Bytes() {
        assertEquals(256, DeviceArena.sizeClassOf(1));
        assertEquals(256, DeviceArena.sizeClassOf(256));
        assertEquals(512, DeviceArena.sizeClassOf(257));
        assertEquals(1024, DeviceArena.sizeClassOf(1000));
        assertEquals(MIB, DeviceArena.sizeClassOf(MIB));
        assertEquals(2 * MIB, DeviceArena.sizeClassOf(MIB + 1));
    }

    @Test
    void blocksAre256ByteAlignedAndSizedByClass() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 4 * MIB, 2 * MIB)) {
            for (long size : new long[] {1, 255, 256, 257, 4000, 65536, 2 * MIB}) {
                DeviceBlock block = arena.allocate(size);
                assertEquals(0, block.address() % 256, block.toString());
                assertEquals(size, block.size());
                assertEquals(DeviceArena.sizeClassOf(size), block.capacity(), block.toString());
                assertFalse(block.isDedicated(), block.toString());
                assertTrue(device.contains(block.address(), block.capacity()), block.toString());
            }
            DeviceBlock large = arena.allocate(2 * MIB + 1);
            assertTrue(large.isDedicated());
            assertEquals(2 * MIB + 256, large.capacity());
            assertEquals(0, large.address() % 256);
            assertEquals(2 * MIB + 256, arena.stats().dedicatedBytes());
        }
    }

    @Test
    void rejectsNonPositiveSizesAndBadConfiguration() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 16 * KIB)) {
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(0));
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(-5));
        }
        assertThrows(IllegalArgumentException.class, () -> new DeviceArena(device, 3 * KIB, KIB));
        assertThrows(IllegalArgumentException.class, () -> new DeviceArena(device, 64 * KIB, 128 * KIB));
        assertThrows(IllegalArgumentException.class, () -> new DeviceArena(device, 64 * KIB, 128));
    }

    @Test
    void releasedBlockIsReusedOnlyAfterItsLastTaskCompletes() {
        // The device holds exactly one slab, so the only way to satisfy a second request is reuse.
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * KIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            DeviceBlock first = arena.allocate(64 * KIB);
            arena.release(first, 10);
            assertEquals(64 * KIB, arena.stats().bytesPendingReuse());
            for (long watermark : new long[] {0, 5, 10}) {
                arena.advance(watermark);
                assertThrows(DeviceOutOfMemoryException.class, () -> arena.allocate(256),
                        "block last used by task 10 was reused at completedSeq " + watermark);
            }
            arena.advance(11);
            assertEquals(0, arena.stats().bytesPendingReuse());
            DeviceBlock again = arena.allocate(64 * KIB);
            assertEquals(first.address(), again.address());
        }
    }

    @Test
    void releaseWithoutUseOrAfterCompletionIsImmediatelyReusable() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * KIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            DeviceBlock unused = arena.allocate(100);
            arena.release(unused, -1);
            assertEquals(0, arena.stats().bytesPendingReuse());
            arena.advance(20);
            DeviceBlock whole = arena.allocate(64 * KIB);
            arena.release(whole, 19); // task 19 already completed
            assertEquals(0, arena.stats().bytesPendingReuse());
            assertEquals(whole.address(), arena.allocate(64 * KIB).address());
        }
    }

    @Test
    void watermarkNeverMovesBackwards() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * KIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            arena.advance(50);
            arena.advance(7);
            assertEquals(50, arena.completedSeq());
            DeviceBlock block = arena.allocate(64 * KIB);
            arena.release(block, 30);
            assertEquals(0, arena.stats().bytesPendingReuse(), "task 30 < watermark 50 already completed");
        }
    }

    /**
     * Random allocate/release/advance against a model: a new block must never overlap a live block or a
     * released block whose last task has not completed, and must lie inside memory the device handed out.
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 7, 2024, 0xDEADBEEFL, 99991})
    void liveAndPendingBlocksNeverOverlap(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(8 * MIB);
        DeviceArena arena = new DeviceArena(device, 256 * KIB, 64 * KIB);
        TreeMap<Long, Long> occupied = new TreeMap<>(); // start -> end of live or pending blocks
        List<DeviceBlock> live = new ArrayList<>();
        TreeMap<Long, List<DeviceBlock>> pendingBySeq = new TreeMap<>();
        long seq = 0;
        long completed = 0;
        for (int step = 0; step < 40_000; step++) {
            int op = random.nextInt(10);
            if (op < 5) {
                long size = random.nextInt(4) == 0 ? 1 + random.nextLong(200 * KIB) : 1 + random.nextLong(4 * KIB);
                DeviceBlock block;
                try {
                    block = arena.allocate(size);
                } catch (DeviceOutOfMemoryException e) {
                    continue;
                }
                String where = "seed " + seed + " step " + step + " " + block;
                assertEquals(0, block.address() % 256, where);
                assertTrue(block.capacity() >= size, where);
                assertTrue(device.contains(block.address(), block.capacity()), "outside device memory: " + where);
                Map.Entry<Long, Long> below = occupied.floorEntry(block.address() + block.capacity() - 1);
                assertTrue(below == null || below.getValue() <= block.address(),
                        "overlaps [0x" + Long.toHexString(below == null ? 0 : below.getKey()) + ", ...): " + where);
                occupied.put(block.address(), block.address() + block.capacity());
                live.add(block);
            } else if (op < 9 && !live.isEmpty()) {
                DeviceBlock block = live.remove(random.nextInt(live.size()));
                long lastUse = random.nextInt(4) == 0 ? -1 : seq + random.nextInt(20);
                arena.release(block, lastUse);
                if (lastUse < completed) {
                    occupied.remove(block.address());
                } else {
                    pendingBySeq.computeIfAbsent(lastUse, k -> new ArrayList<>()).add(block);
                }
            } else {
                seq += random.nextInt(5);
                completed = Math.max(completed, seq - random.nextInt(10));
                arena.advance(completed);
                // Only now, after the arena saw the watermark, may the model consider those blocks free.
                var done = pendingBySeq.headMap(completed, false);
                done.values().forEach(blocks -> blocks.forEach(b -> occupied.remove(b.address())));
                done.clear();
            }
        }
        for (DeviceBlock block : live) {
            arena.release(block, seq);
        }
        arena.advance(seq + 100);
        ArenaStats stats = arena.stats();
        assertEquals(0, stats.bytesInUse(), "seed " + seed + " " + stats);
        assertEquals(0, stats.bytesPendingReuse(), "seed " + seed + " " + stats);
        // Everything coalesced back: trimming hands every byte back to the device.
        assertEquals(stats.deviceBytes(), arena.trim(), "seed " + seed + " " + stats);
        assertEquals(0, device.usedBytes(), "seed " + seed);
        arena.close();
    }

    @Test
    void outOfMemoryNamesTheRequestAndRecoversAfterRelease() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(256 * KIB);
        device.setWorkerRunning(true);
        DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB);
        List<DeviceBlock> blocks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            blocks.add(arena.allocate(32 * KIB));
        }
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> arena.allocate(1000));
        assertEquals(1000, e.requestedBytes());
        assertEquals(0, e.freeBytes());
        String message = e.getMessage();
        assertTrue(message.contains("1000 bytes"), message);
        assertTrue(message.contains("65536-byte slab"), message);
        assertTrue(message.contains("0 of 262144 bytes free"), message);
        assertTrue(message.contains("bytesInUse=262144"), message);
        assertTrue(message.contains("worker kernel runs"), message);

        DeviceOutOfMemoryException large = assertThrows(DeviceOutOfMemoryException.class,
                () -> arena.allocate(100 * KIB));
        assertEquals(100 * KIB, large.requestedBytes());
        assertTrue(large.getMessage().contains("dedicated"), large.getMessage());

        arena.release(blocks.remove(3), 4);
        arena.advance(5);
        DeviceBlock recovered = arena.allocate(1000);
        assertEquals(1024, recovered.capacity());
        assertEquals(8, arena.stats().blocksInUse());
        device.setWorkerRunning(false);
        arena.close();
        assertEquals(0, device.liveAllocations());
    }

    @Test
    void trimAndCloseRefuseWhileTheWorkerRuns() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(4 * MIB);
        DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB);
        arena.release(arena.allocate(1000), -1);
        arena.release(arena.allocate(MIB), -1);
        device.setWorkerRunning(true);
        IllegalStateException trim = assertThrows(IllegalStateException.class, arena::trim);
        assertTrue(trim.getMessage().contains("worker kernel runs"), trim.getMessage());
        assertThrows(IllegalStateException.class, arena::close);
        assertEquals(0, device.freeCalls());
        assertEquals(64 * KIB + MIB, device.usedBytes());

        device.setWorkerRunning(false);
        assertEquals(64 * KIB + MIB, arena.trim());
        assertEquals(0, device.usedBytes());
        assertEquals(0, arena.stats().deviceBytes());
        arena.allocate(300); // never released: close still returns its slab
        arena.close();
        assertEquals(0, device.liveAllocations());
        assertThrows(IllegalStateException.class, () -> arena.allocate(1));
        arena.close(); // idempotent
    }

    @Test
    void trimKeepsSlabsThatStillHoldBlocks() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(4 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB)) {
            DeviceBlock a = arena.allocate(32 * KIB);
            DeviceBlock b = arena.allocate(32 * KIB);
            DeviceBlock c = arena.allocate(32 * KIB); // second slab
            assertNotEquals(a.address(), b.address());
            arena.release(a, -1);
            arena.release(c, -1);
            assertEquals(64 * KIB, arena.trim(), "only the slab of c is wholly free");
            assertEquals(64 * KIB, arena.stats().slabBytes());
            assertTrue(device.contains(b.address(), b.capacity()));
        }
    }

    @Test
    void outOfMemoryWhileParkedTrimsIdleMemoryAndRetries() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB)) {
            arena.release(arena.allocate(MIB), -1); // idle dedicated allocation fills the device
            assertEquals(MIB, arena.stats().dedicatedBytes());
            device.setWorkerRunning(true);
            assertThrows(DeviceOutOfMemoryException.class, () -> arena.allocate(256));
            assertEquals(0, device.freeCalls(), "nothing may be freed while the worker runs");
            device.setWorkerRunning(false);
            DeviceBlock block = arena.allocate(256);
            assertEquals(0, arena.stats().dedicatedBytes());
            assertEquals(64 * KIB, arena.stats().slabBytes());
            arena.release(block, -1);
        }
    }

    @Test
    void idleDedicatedAllocationsAreReused() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(16 * MIB);
        device.setWorkerRunning(true);
        DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB);
        DeviceBlock first = arena.allocate(3 * MIB);
        arena.release(first, 0);
        DeviceBlock second = arena.allocate(2 * MIB);
        assertNotEquals(first.address(), second.address(), "first is still pending: task 0 not complete");
        arena.advance(1);
        DeviceBlock third = arena.allocate(2 * MIB);
        assertEquals(first.address(), third.address(), "3 MiB idle allocation serves a 2 MiB request");
        assertEquals(3 * MIB, third.capacity());
        assertEquals(2 * MIB, third.size());
        arena.release(second, -1);
        // Leaves 256 KiB free on the device (16 - 3 - 2 - 10.75 MiB).
        DeviceBlock big = arena.allocate(11 * MIB - 256 * KIB);
        assertTrue(big.isDedicated());
        assertEquals(256 * KIB, device.freeBytes());
        // The device cannot supply 512 KiB, so the request takes the idle 2 MiB allocation despite the waste.
        DeviceBlock fallback = arena.allocate(MIB / 2 + 1);
        assertEquals(second.address(), fallback.address());
        assertEquals(2 * MIB, fallback.capacity());
        device.setWorkerRunning(false);
        arena.close();
    }

    @Test
    void doubleReleaseAndForeignBlocksAreRejected() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 32 * KIB);
             DeviceArena other = new DeviceArena(device, 64 * KIB, 32 * KIB)) {
            DeviceBlock block = arena.allocate(512);
            arena.release(block, 3);
            assertTrue(block.isReleased());
            IllegalStateException twice = assertThrows(IllegalStateException.class, () -> arena.release(block, 3));
            assertTrue(twice.getMessage().contains("double release"), twice.getMessage());
            DeviceBlock foreign = other.allocate(512);
            assertThrows(IllegalArgumentException.class, () -> arena.release(foreign, -1));
            assertEquals(1, arena.stats().releases());
        }
    }

    @Test
    void manyBlocksReleasedAtOnceWaitForTheirLastUseAsOne() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * KIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB);
             DeviceArena other = new DeviceArena(new SimulatedDeviceMemory(64 * KIB), 64 * KIB, 64 * KIB)) {
            DeviceBlock[] blocks = new DeviceBlock[5];
            for (int i = 0; i < 4; i++) blocks[i] = arena.allocate(16 * KIB);
            arena.release(blocks, 4, 7);
            for (int i = 0; i < 4; i++) assertTrue(blocks[i].isReleased(), "block " + i);
            assertEquals(64 * KIB, arena.stats().bytesPendingReuse());
            assertEquals(4, arena.stats().releases());
            arena.advance(7);
            assertThrows(DeviceOutOfMemoryException.class, () -> arena.allocate(256), "reused before task 7 completed");
            arena.advance(8);
            assertEquals(0, arena.stats().bytesPendingReuse());
            DeviceBlock whole = arena.allocate(64 * KIB);  // the four coalesced back into the slab

            blocks[0] = whole;
            blocks[1] = whole;
            IllegalStateException twice = assertThrows(IllegalStateException.class, () -> arena.release(blocks, 2, -1));
            assertTrue(twice.getMessage().contains("double release"), twice.getMessage());
            blocks[0] = other.allocate(256);
            assertThrows(IllegalArgumentException.class, () -> arena.release(blocks, 1, -1));
            assertFalse(blocks[0].isReleased(), "a foreign block is refused before anything is released");
            assertThrows(IndexOutOfBoundsException.class, () -> arena.release(blocks, 6, -1));
        }
    }

    @Test
    void millionCyclesReturnToBaseline() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(256 * MIB);
        try (DeviceArena arena = new DeviceArena(device)) {
            SplittableRandom random = new SplittableRandom(17);
            DeviceBlock warm = arena.allocate(1);
            arena.release(warm, -1);
            ArenaStats baseline = arena.stats();
            DeviceBlock[] window = new DeviceBlock[8];
            long seq = 0;
            Set<Long> slabCounts = new HashSet<>();
            for (int i = 0; i < 1_000_000; i++) {
                int slot = i & 7;
                if (window[slot] != null) {
                    arena.release(window[slot], seq - 1);
                }
                window[slot] = arena.allocate(1 + random.nextLong(64 * KIB));
                seq++;
                if ((i & 63) == 0) {
                    arena.advance(seq - 4);
                    slabCounts.add(arena.stats().slabBytes());
                }
            }
            for (DeviceBlock block : window) {
                arena.release(block, seq);
            }
            arena.advance(seq + 1);
            ArenaStats end = arena.stats();
            assertEquals(baseline.bytesInUse(), end.bytesInUse(), end.toString());
            assertEquals(baseline.blocksInUse(), end.blocksInUse(), end.toString());
            assertEquals(0, end.bytesPendingReuse(), end.toString());
            assertEquals(baseline.slabBytes(), end.slabBytes(), "one slab suffices: " + end);
            assertEquals(Set.of(baseline.slabBytes()), slabCounts);
            assertEquals(baseline.allocations() + 1_000_000, end.allocations());
            assertEquals(end.allocations(), end.releases());
            assertEquals(1, device.allocateCalls(), "no device allocations after warm-up");
        }
    }
}
