package dev.gpuos.runtime.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeviceArenaConcurrencyTest {

    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final int THREADS = 8;

    /**
     * Eight threads allocate and release concurrently while a ninth moves the completion watermark. A shared
     * model records every live block; a block handed out while an overlapping one is live fails the test.
     * The model is updated under its own lock, outside the arena's, so the arena's locking is what is tested.
     */
    @ParameterizedTest
    @ValueSource(longs = {11, 12})
    void threadsNeverReceiveOverlappingBlocks(long seed) throws Exception {
        SimulatedDeviceMemory device = new SimulatedDeviceMemory(64 * MIB);
        DeviceArena arena = new DeviceArena(device, MIB, 256 * KIB);
        TreeMap<Long, Long> live = new TreeMap<>();
        AtomicLong nextSeq = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(seed * 1000 + t);
                workers.add(pool.submit(() -> {
                    start.await();
                    List<DeviceBlock> mine = new ArrayList<>();
                    for (int i = 0; i < 30_000; i++) {
                        if (mine.size() < 32 && (mine.isEmpty() || random.nextBoolean())) {
                            long size = random.nextInt(16) == 0
                                    ? 1 + random.nextLong(MIB) : 1 + random.nextLong(16 * KIB);
                            DeviceBlock block;
                            try {
                                block = arena.allocate(size);
                            } catch (DeviceOutOfMemoryException e) {
                                // Legitimate when the completer thread lags and released blocks are still
                                // pending; the arena must stay usable, so simply go on.
                                Thread.yield();
                                continue;
                            }
                            synchronized (live) {
                                Map.Entry<Long, Long> below =
                                        live.floorEntry(block.address() + block.capacity() - 1);
                                assertTrue(below == null || below.getValue() <= block.address(),
                                        "seed " + seed + ": " + block + " overlaps a live block starting at 0x"
                                                + Long.toHexString(below == null ? 0 : below.getKey()));
                                live.put(block.address(), block.address() + block.capacity());
                            }
                            mine.add(block);
                        } else {
                            DeviceBlock block = mine.remove(random.nextInt(mine.size()));
                            synchronized (live) {
                                live.remove(block.address());
                            }
                            long lastUse = random.nextBoolean() ? -1 : nextSeq.getAndIncrement();
                            arena.release(block, lastUse);
                        }
                    }
                    for (DeviceBlock block : mine) {
                        synchronized (live) {
                            live.remove(block.address());
                        }
                        arena.release(block, nextSeq.get());
                    }
                    return null;
                }));
            }
            Future<?> completer = pool.submit(() -> {
                start.await();
                while (!stop.get()) {
                    arena.advance(nextSeq.get());
                    Thread.onSpinWait();
                }
                return null;
            });
            start.countDown();
            for (Future<?> worker : workers) {
                worker.get(2, TimeUnit.MINUTES);
            }
            stop.set(true);
            completer.get(1, TimeUnit.MINUTES);
        } finally {
            pool.shutdownNow();
        }
        arena.advance(nextSeq.get() + 1);
        ArenaStats stats = arena.stats();
        assertEquals(0, stats.blocksInUse(), "seed " + seed + " " + stats);
        assertEquals(0, stats.bytesPendingReuse(), "seed " + seed + " " + stats);
        assertEquals(stats.allocations(), stats.releases(), "seed " + seed + " " + stats);
        assertEquals(stats.deviceBytes(), arena.trim(), "every slab coalesced back to one free block: " + stats);
        arena.close();
        assertEquals(0, device.liveAllocations(), "seed " + seed);
    }
}
