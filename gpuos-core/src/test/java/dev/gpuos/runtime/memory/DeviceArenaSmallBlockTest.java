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

/**
 * Small blocks held as longs ({@link DeviceArena#allocateSmall}) keep every promise of blocks: never overlapping a
 * live or pending block (whichever kind), reused only after their last task completed, merged back with their
 * buddies (from the quick stacks) before the arena takes more memory from the device, and all of it returned by
 * a trim once released.
 */
class DeviceArenaSmallBlockTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;

    @Test
    void smallBlocksAreAlignedSizedByClassAndInsideASlab() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 4 * MIB, 2 * MIB)) {
            Set<Long> addresses = new HashSet<>();
            for (long size : new long[] {1, 255, 256, 257, 4000, 65536, MIB - 1}) {
                assertTrue(arena.isSmall(size), size + " bytes");
                long block = arena.allocateSmall(size);
                long address = DeviceArena.smallAddress(block);
                assertEquals(0, address % 256);
                assertEquals(DeviceArena.sizeClassOf(size), DeviceArena.smallCapacity(block), size + " bytes");
                assertTrue(device.contains(address, DeviceArena.smallCapacity(block)));
                assertTrue(addresses.add(address));
            }
            ArenaStats stats = arena.stats();
            assertEquals(7, stats.blocksInUse());
            assertEquals(256 + 256 + 256 + 512 + 4096 + 65536 + MIB, stats.bytesInUse());
        }
    }

    @Test
    void onlyRequestsOfSlabsBelowTheReservedMinimumAreSmall() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(8 * MIB);
        try (DeviceArena arena = new DeviceArena(device, 256 * KIB, 64 * KIB)) {
            assertFalse(arena.isSmall(0));
            assertFalse(arena.isSmall(-1));
            assertTrue(arena.isSmall(64 * KIB));
            assertFalse(arena.isSmall(64 * KIB + 1), "above the largest class: a dedicated allocation");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> arena.allocateSmall(64 * KIB + 1));
            assertTrue(e.getMessage().contains("65537"), e.getMessage());
        }
        try (DeviceArena arena = new DeviceArena(new SimulatedDeviceMemory(64 * MIB), 8 * MIB, 4 * MIB)) {
            assertTrue(arena.isSmall(DeviceArena.RESERVED_MIN_BYTES - 1));
            assertFalse(arena.isSmall(DeviceArena.RESERVED_MIN_BYTES), "may be an extent of a reserved region");
        }
    }

    @Test
    void releasedSmallBlockIsReusedOnlyAfterItsLastTaskCompletes() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            long whole = arena.allocateSmall(64 * KIB);  // the whole slab: the next block comes from reuse or a new slab
            arena.releaseSmall(new long[] {whole}, 1, 10);
            assertEquals(64 * KIB, arena.stats().bytesPendingReuse());
            arena.advance(10);
            long other = arena.allocateSmall(64 * KIB);
            assertNotEquals(DeviceArena.smallAddress(whole), DeviceArena.smallAddress(other), "task 10 may still run");
            arena.advance(11);
            assertEquals(0, arena.stats().bytesPendingReuse());
            long again = arena.allocateSmall(64 * KIB);
            assertEquals(DeviceArena.smallAddress(whole), DeviceArena.smallAddress(again));
        }
    }

    @Test
    void freedSmallBlocksMergeBeforeTheArenaTakesAnotherSlab() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            long[] blocks = new long[256];
            for (int i = 0; i < blocks.length; i++) blocks[i] = arena.allocateSmall(256);  // the slab, in 256 pieces
            assertEquals(64 * KIB, arena.stats().slabBytes());
            arena.releaseSmall(blocks, blocks.length, -1);
            DeviceBlock whole = arena.allocate(64 * KIB);  // only the merged pieces can serve it without a new slab
            assertEquals(64 * KIB, arena.stats().slabBytes());
            assertEquals(1, device.allocateCalls());
            arena.release(whole, -1);
            long half = arena.allocateSmall(32 * KIB);
            arena.releaseSmall(new long[] {half}, 1, -1);
            assertEquals(64 * KIB, arena.trim(), "the slab is whole again once its quick pieces merged");
            assertEquals(0, device.usedBytes());
        }
    }

    @Test
    void foreignAddressesAreRejected() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(MIB);
        try (DeviceArena arena = new DeviceArena(device, 64 * KIB, 64 * KIB)) {
            long block = arena.allocateSmall(100);
            long foreign = DeviceArena.smallAddress(block) + 64 * KIB;  // one past the only slab
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> arena.releaseSmall(new long[] {foreign}, 1, -1));
            assertTrue(e.getMessage().contains(Long.toHexString(foreign)), e.getMessage());
            assertEquals(1, arena.stats().blocksInUse(), "nothing was released");
            assertThrows(IndexOutOfBoundsException.class, () -> arena.releaseSmall(new long[] {block}, 2, -1));
        }
    }

    /**
     * Random allocate/release/advance of both kinds against a model, as DeviceArenaTest's for blocks: a new block
     * of either kind never overlaps a live or pending one and lies inside device memory; at the end every byte
     * goes back to the device.
     */
    @ParameterizedTest
    @ValueSource(longs = {3, 11, 2026, 0xC0FFEEL})
    void smallAndObjectBlocksNeverOverlap(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(8 * MIB);
        DeviceArena arena = new DeviceArena(device, 256 * KIB, 64 * KIB);
        TreeMap<Long, Long> occupied = new TreeMap<>();  // start -> end of live or pending blocks
        List<Object> live = new ArrayList<>();  // Long (small) or DeviceBlock
        TreeMap<Long, List<Long>> pendingBySeq = new TreeMap<>();  // seq -> addresses
        long seq = 0, completed = 0;
        for (int step = 0; step < 40_000; step++) {
            int op = random.nextInt(10);
            if (op < 5) {
                long size = random.nextInt(4) == 0 ? 1 + random.nextLong(64 * KIB) : 1 + random.nextLong(4 * KIB);
                boolean small = random.nextBoolean();
                long address, capacity;
                Object handle;
                try {
                    if (small) {
                        long block = arena.allocateSmall(size);
                        address = DeviceArena.smallAddress(block);
                        capacity = DeviceArena.smallCapacity(block);
                        handle = block;
                    } else {
                        DeviceBlock block = arena.allocate(size);
                        address = block.address();
                        capacity = block.capacity();
                        handle = block;
                    }
                } catch (DeviceOutOfMemoryException e) {
                    continue;
                }
                String where = "seed " + seed + " step " + step + " 0x" + Long.toHexString(address) + "+" + capacity;
                assertTrue(capacity >= size, where);
                assertTrue(device.contains(address, capacity), "outside device memory: " + where);
                Map.Entry<Long, Long> below = occupied.floorEntry(address + capacity - 1);
                assertTrue(below == null || below.getValue() <= address, "overlaps a live or pending block: " + where);
                occupied.put(address, address + capacity);
                live.add(handle);
            } else if (op < 9 && !live.isEmpty()) {
                Object handle = live.remove(random.nextInt(live.size()));
                long lastUse = random.nextInt(4) == 0 ? -1 : seq + random.nextInt(20);
                long address;
                if (handle instanceof Long block) {
                    arena.releaseSmall(new long[] {block}, 1, lastUse);
                    address = DeviceArena.smallAddress(block);
                } else {
                    arena.release((DeviceBlock) handle, lastUse);
                    address = ((DeviceBlock) handle).address();
                }
                if (lastUse < completed) occupied.remove(address);
                else pendingBySeq.computeIfAbsent(lastUse, k -> new ArrayList<>()).add(address);
            } else {
                seq += random.nextInt(5);
                completed = Math.max(completed, seq - random.nextInt(10));
                arena.advance(completed);
                var done = pendingBySeq.headMap(completed, false);
                done.values().forEach(addresses -> addresses.forEach(occupied::remove));
                done.clear();
            }
        }
        for (Object handle : live) {
            if (handle instanceof Long block) arena.releaseSmall(new long[] {block}, 1, seq);
            else arena.release((DeviceBlock) handle, seq);
        }
        arena.advance(seq + 100);
        ArenaStats stats = arena.stats();
        assertEquals(0, stats.bytesInUse(), "seed " + seed + " " + stats);
        assertEquals(0, stats.blocksInUse(), "seed " + seed + " " + stats);
        assertEquals(0, stats.bytesPendingReuse(), "seed " + seed + " " + stats);
        assertEquals(stats.allocations(), stats.releases());
        assertEquals(stats.deviceBytes(), arena.trim(), "seed " + seed + " " + stats);
        assertEquals(0, device.usedBytes(), "seed " + seed);
        arena.close();
    }

    /** A streamed loop's pattern, a million times: one slab suffices and the device is asked once. */
    @Test
    void millionSmallCyclesStayInOneSlab() {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(256 * MIB);
        try (DeviceArena arena = new DeviceArena(device)) {
            SplittableRandom random = new SplittableRandom(5);
            long[] window = new long[64], one = new long[1];
            long seq = 0;
            for (int i = 0; i < 1_000_000; i++) {
                int slot = i & 63;
                if (window[slot] != 0) {
                    one[0] = window[slot];
                    arena.releaseSmall(one, 1, seq - 1);
                }
                window[slot] = arena.allocateSmall(1 + random.nextLong(64 * KIB));
                seq++;
                if ((i & 63) == 0) arena.advance(seq - 8);
            }
            arena.releaseSmall(window, window.length, seq);
            arena.advance(seq + 1);
            ArenaStats end = arena.stats();
            assertEquals(0, end.bytesInUse(), end.toString());
            assertEquals(0, end.bytesPendingReuse(), end.toString());
            assertEquals(DeviceArena.DEFAULT_SLAB_BYTES, end.slabBytes(), "one slab suffices: " + end);
            assertEquals(1, device.allocateCalls());
            assertEquals(1_000_000, end.allocations());
            assertEquals(end.allocations(), end.releases());
        }
    }
}
