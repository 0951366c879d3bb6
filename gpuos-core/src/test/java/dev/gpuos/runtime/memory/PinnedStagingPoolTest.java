package dev.gpuos.runtime.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class PinnedStagingPoolTest {

    @Test
    void roundsToPageSizedPowerOfTwoClasses() {
        assertEquals(4096, PinnedStagingPool.sizeClassOf(1));
        assertEquals(4096, PinnedStagingPool.sizeClassOf(4096));
        assertEquals(8192, PinnedStagingPool.sizeClassOf(4097));
        assertEquals(1 << 20, PinnedStagingPool.sizeClassOf(1_000_000));
    }

    @Test
    void reusesBuffersOfTheSameClass() {
        SimulatedHostMemory host = new SimulatedHostMemory();
        try (PinnedStagingPool pool = new PinnedStagingPool(host)) {
            MemorySegment a = pool.acquire(5000);
            assertEquals(5000, a.byteSize());
            assertEquals(0, a.address() % 4096);
            a.set(ValueLayout.JAVA_INT, 4996, 7); // the whole requested range is usable
            assertEquals(8192, pool.bytesLent());
            pool.release(a);
            assertEquals(0, pool.bytesLent());
            assertEquals(8192, pool.bytesIdle());
            MemorySegment b = pool.acquire(8000);
            assertEquals(a.address(), b.address(), "same class reuses the idle buffer");
            MemorySegment c = pool.acquire(100);
            assertNotEquals(a.address(), c.address());
            assertEquals(2, host.allocateCalls());
            pool.release(b);
            pool.release(c);
        }
        assertEquals(0, host.liveBuffers());
    }

    @Test
    void rejectsDoubleAndForeignReleases() {
        SimulatedHostMemory host = new SimulatedHostMemory();
        try (PinnedStagingPool pool = new PinnedStagingPool(host); Arena arena = Arena.ofConfined()) {
            MemorySegment s = pool.acquire(10);
            pool.release(s);
            IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pool.release(s));
            assertTrue(twice.getMessage().contains("double release"), twice.getMessage());
            MemorySegment foreign = arena.allocate(4096);
            assertThrows(IllegalArgumentException.class, () -> pool.release(foreign));
            assertThrows(IllegalArgumentException.class, () -> pool.acquire(0));
        }
    }

    @Test
    void trimAndCloseRefuseWhileTheWorkerRuns() {
        SimulatedHostMemory host = new SimulatedHostMemory();
        PinnedStagingPool pool = new PinnedStagingPool(host);
        pool.release(pool.acquire(4096));
        MemorySegment held = pool.acquire(64 * 1024);
        host.setWorkerRunning(true);
        assertThrows(IllegalStateException.class, pool::trim);
        assertThrows(IllegalStateException.class, pool::close);
        assertEquals(2, host.liveBuffers());
        host.setWorkerRunning(false);
        assertEquals(4096, pool.trim());
        assertEquals(1, host.liveBuffers());
        pool.close();
        assertEquals(0, host.liveBuffers());
        assertThrows(IllegalStateException.class, () -> pool.release(held));
    }
}
