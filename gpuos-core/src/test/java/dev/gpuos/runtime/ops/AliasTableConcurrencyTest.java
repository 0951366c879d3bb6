package dev.gpuos.runtime.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Eight submitter threads resolve and acquire slots while one thread replaces operators 100 times (with some
 * aborted builds in between), on a table small enough that slot numbers are reused many times.
 *
 * <p>The test models the device: {@code loaded} is the generation the worker runs, published before each
 * activation as the runtime would. A submitted task "runs" right after acquire; it must find its slot in the
 * loaded generation holding the version that was active when it was submitted. The completion watermark is
 * computed from the submitters' in-flight sequence numbers, so it is a true watermark.
 */
class AliasTableConcurrencyTest {

    private static final int SUBMITTERS = 8;
    private static final int REPLACES = 100;
    private static final String[] NAMES = {"add_f32", "mul_f32"};

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void submittersSeeOnlyOldOrNewVersionsAndNeverGoBackwards(long seed) throws Exception {
        AliasTable table = new AliasTable(16);
        AtomicLong nextSeq = new AtomicLong();
        AtomicLongArray inFlight = new AtomicLongArray(SUBMITTERS);
        for (int i = 0; i < SUBMITTERS; i++) {
            inFlight.set(i, Long.MAX_VALUE);
        }
        // name -> version -> slot, recorded before the version can be activated
        Map<String, Map<Integer, Integer>> slotOfVersion = new ConcurrentHashMap<>();
        AtomicLong progress = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<Map<Integer, Slot>> loaded = new AtomicReference<>(Map.of());

        for (String name : NAMES) {
            SlotPlan plan = table.begin(name, name + " v1");
            slotOfVersion.computeIfAbsent(name, k -> new ConcurrentHashMap<>()).put(1, plan.slot());
        }
        load(table, loaded, 0);
        for (String name : NAMES) {
            table.activate(new SlotPlan(name, 1, slotOfVersion.get(name).get(1)));
        }

        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(SUBMITTERS + 1);
        try {
            List<Future<?>> submitters = new ArrayList<>();
            for (int t = 0; t < SUBMITTERS; t++) {
                int thread = t;
                SplittableRandom random = new SplittableRandom(seed * 100 + t);
                submitters.add(pool.submit(() -> {
                    start.await();
                    Map<String, Integer> lastSeen = new HashMap<>();
                    try {
                        while (!done.get()) {
                            String name = NAMES[random.nextInt(NAMES.length)];
                            String where = "seed " + seed + " thread " + thread + " " + name;

                            // A bare resolve returns the slot of a version active at some point during the call.
                            int before = table.active(name).version();
                            int resolved = table.resolve(name);
                            int after = table.active(name).version();
                            assertTrue(slotsOf(slotOfVersion.get(name), before, after).contains(resolved),
                                    () -> where + ": resolve gave slot " + resolved + " outside versions " + before + ".."
                                            + after + " " + slotOfVersion.get(name));

                            // A submitted task, executed while it is in flight.
                            inFlight.set(thread, nextSeq.get());
                            long seq = nextSeq.getAndIncrement();
                            int first = table.active(name).version();
                            int slot = table.acquire(name, seq);
                            int last = table.active(name).version();
                            Slot running = loaded.get().get(slot);
                            assertNotNull(running, () -> where + ": task " + seq + " got slot " + slot
                                    + ", absent from the loaded generation " + loaded.get().keySet());
                            assertEquals(name, running.name(), () -> where + ": slot " + slot + " runs the wrong operator");
                            assertTrue(first <= running.version() && running.version() <= last,
                                    () -> where + ": task " + seq + " ran v" + running.version() + ", active was v" + first
                                            + "..v" + last);
                            int previous = lastSeen.getOrDefault(name, 0);
                            assertTrue(before >= previous && running.version() >= previous,
                                    () -> where + ": went back from v" + previous + " to v" + before + "/v"
                                            + running.version());
                            lastSeen.put(name, last);
                            inFlight.set(thread, Long.MAX_VALUE);
                            progress.incrementAndGet();
                            if ((seq & 15) == 0) {
                                Thread.yield(); // let the replacer in on a machine with few cores
                            }
                        }
                    } catch (Throwable failure) {
                        done.set(true); // stop the replacer from waiting for progress that never comes
                        throw failure;
                    }
                    return null;
                }));
            }
            Future<Integer> replacer = pool.submit(() -> {
                start.await();
                SplittableRandom random = new SplittableRandom(seed);
                int replaced = 0;
                while (replaced < REPLACES && !done.get()) {
                    String name = NAMES[random.nextInt(NAMES.length)];
                    SlotPlan plan = null;
                    // All slots may be held by superseded versions whose tasks are still in flight (a submitter
                    // preempted mid-task): as the runtime would, let tasks complete, reload, and try again.
                    for (int attempt = 0; plan == null; attempt++) {
                        try {
                            plan = table.begin(name, name + " source " + replaced);
                        } catch (IllegalStateException exhausted) {
                            if (attempt >= 200 || done.get()) {
                                throw exhausted;
                            }
                            load(table, loaded, watermark(nextSeq, inFlight));
                            awaitProgress(progress, done, 50);
                        }
                    }
                    slotOfVersion.get(name).put(plan.version(), plan.slot());
                    awaitProgress(progress, done, 50);
                    if (random.nextInt(8) == 0) {
                        table.abort(plan);
                        continue;
                    }
                    load(table, loaded, watermark(nextSeq, inFlight));
                    awaitProgress(progress, done, 50);
                    table.activate(plan);
                    replaced++;
                    awaitProgress(progress, done, 50);
                }
                return replaced;
            });
            start.countDown();
            int replaced = replacer.get(2, TimeUnit.MINUTES);
            done.set(true);
            for (Future<?> submitter : submitters) {
                submitter.get(1, TimeUnit.MINUTES);
            }
            assertEquals(REPLACES, replaced, "seed " + seed);
        } finally {
            done.set(true);
            pool.shutdownNow();
        }

        // Everything completed: only the two active versions stay live, all others retired or aborted.
        List<Slot> live = table.liveSlots(nextSeq.get());
        assertEquals(NAMES.length, live.size(), "seed " + seed + " " + live);
        for (String name : NAMES) {
            List<OperatorVersion> versions = table.versions(name);
            OperatorVersion newest = table.active(name);
            for (OperatorVersion v : versions) {
                if (v.version() != newest.version()) {
                    assertTrue(v.state().isFinal(), "seed " + seed + " " + v);
                }
            }
        }
        int totalVersions = table.versions(NAMES[0]).size() + table.versions(NAMES[1]).size();
        assertTrue(totalVersions > 16 + 2, "slot numbers were reused: " + totalVersions + " versions in 16 slots");
    }

    /** Builds and "loads" the next generation, publishing it to the device model before anything activates. */
    private static void load(AliasTable table, AtomicReference<Map<Integer, Slot>> loaded, long completedSeq) {
        List<Slot> slots = table.liveSlots(completedSeq);
        Map<Integer, Slot> generation = new HashMap<>();
        for (Slot slot : slots) {
            generation.put(slot.index(), slot);
        }
        loaded.set(Map.copyOf(generation));
        table.generationLoaded(slots);
    }

    /** Every task with seq below the result is complete: see the class comment for why. */
    private static long watermark(AtomicLong nextSeq, AtomicLongArray inFlight) {
        long watermark = nextSeq.get();
        for (int i = 0; i < inFlight.length(); i++) {
            watermark = Math.min(watermark, inFlight.get(i));
        }
        return watermark;
    }

    private static List<Integer> slotsOf(Map<Integer, Integer> slotOfVersion, int from, int to) {
        List<Integer> slots = new ArrayList<>();
        for (int v = from; v <= to; v++) {
            Integer slot = slotOfVersion.get(v);
            if (slot != null) {
                slots.add(slot);
            }
        }
        return slots;
    }

    /** Lets the submitters run between the replacer's steps; progress-based, so no timing assumptions. */
    private static void awaitProgress(AtomicLong progress, AtomicBoolean done, long steps) {
        long target = progress.get() + steps;
        while (progress.get() < target && !done.get()) {
            Thread.yield();
        }
    }
}
