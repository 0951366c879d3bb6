package dev.gpuos.runtime.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FreeBlockSetTest {

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 0xC0FFEE})
    void matchesAHashMapUnderRandomOperations(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        FreeBlockSet set = new FreeBlockSet();
        Map<Long, DeviceArena.Slab> oracle = new HashMap<>();
        List<Long> universe = new ArrayList<>();
        DeviceArena.Slab[] slabs = {new DeviceArena.Slab(256, 1 << 20), new DeviceArena.Slab(1 << 21, 1 << 20)};
        // A small universe of clustered addresses makes probe chains collide and wrap around.
        for (int i = 0; i < 3000; i++) {
            universe.add(0x7000_0000L + 256L * random.nextInt(5000));
        }
        for (int step = 0; step < 200_000; step++) {
            long address = universe.get(random.nextInt(universe.size()));
            int op = random.nextInt(3);
            if (op == 0 && !oracle.containsKey(address)) {
                DeviceArena.Slab owner = slabs[random.nextInt(2)];
                set.add(address, owner);
                oracle.put(address, owner);
            } else if (op == 1) {
                assertEquals(oracle.remove(address) != null, set.remove(address),
                        "seed " + seed + " step " + step + " remove 0x" + Long.toHexString(address));
            } else if (op == 2 && set.size() > 0) {
                int last = set.size() - 1;
                long taken = set.addressAt(last);
                assertSame(oracle.get(taken), set.ownerAt(last), "seed " + seed + " step " + step);
                set.remove(taken);
                oracle.remove(taken);
            }
            assertEquals(oracle.size(), set.size(), "seed " + seed + " step " + step);
        }
        for (int i = 0; i < set.size(); i++) {
            assertSame(oracle.get(set.addressAt(i)), set.ownerAt(i), "seed " + seed + " member " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {256, 0x7f00_0000_0100L})
    void rejectsDuplicates(long address) {
        FreeBlockSet set = new FreeBlockSet();
        set.add(address, null);
        assertThrows(IllegalStateException.class, () -> set.add(address, null));
    }
}
