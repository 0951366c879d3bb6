package dev.gpuos.runtime.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AliasTableTest {

    /** What the runtime does to register or replace: reserve, load a generation with it, flip. */
    private static SlotPlan install(AliasTable table, String name, String source, long completedSeq) {
        SlotPlan plan = table.begin(name, source);
        table.generationLoaded(table.liveSlots(completedSeq));
        table.activate(plan);
        return plan;
    }

    private static Set<Integer> indices(List<Slot> slots) {
        return Set.copyOf(slots.stream().map(Slot::index).toList());
    }

    @Test
    void registeredOperatorResolvesOnlyOnceActive() {
        AliasTable table = new AliasTable();
        SlotPlan plan = table.begin("add_f32", "add v1");
        assertEquals(1, plan.version());
        UnknownOperatorException early = assertThrows(UnknownOperatorException.class,
                () -> table.resolve("add_f32"));
        assertTrue(early.getMessage().contains("not active yet"), early.getMessage());

        table.generationLoaded(table.liveSlots(0));
        table.activate(plan);
        assertEquals(plan.slot(), table.resolve("add_f32"));
        OperatorVersion active = table.active("add_f32");
        assertEquals(new OperatorVersion("add_f32", 1, plan.slot(), "add v1", OperatorState.ACTIVE), active);

        install(table, "mul_f32", "mul v1", 0);
        UnknownOperatorException missing = assertThrows(UnknownOperatorException.class,
                () -> table.resolve("sub_f32"));
        assertEquals(List.of("add_f32", "mul_f32"), missing.knownNames());
        assertTrue(missing.getMessage().contains("'sub_f32'"), missing.getMessage());
        assertTrue(missing.getMessage().contains("[add_f32, mul_f32]"), missing.getMessage());
    }

    @Test
    void activationRequiresALoadedGenerationContainingTheSlot() {
        AliasTable table = new AliasTable();
        SlotPlan plan = table.begin("add_f32", "v1");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> table.activate(plan));
        assertTrue(e.getMessage().contains("does not contain slot " + plan.slot()), e.getMessage());
    }

    @Test
    void replacedSlotStaysLiveUntilItsLastTaskCompletesThenRetires() {
        AliasTable table = new AliasTable();
        int v1 = install(table, "add_f32", "v1", 0).slot();
        assertEquals(v1, table.acquire("add_f32", 5));
        assertEquals(v1, table.acquire("add_f32", 9));

        SlotPlan v2 = table.begin("add_f32", "v2");
        assertNotEquals(v1, v2.slot());
        assertEquals(v1, table.resolve("add_f32"), "pending version does not serve yet");
        List<Slot> next = table.liveSlots(0);
        assertEquals(Set.of(v1, v2.slot()), indices(next));
        table.generationLoaded(next);
        table.activate(v2);
        assertEquals(v2.slot(), table.resolve("add_f32"));
        assertEquals(OperatorState.SUPERSEDED, table.versions("add_f32").getFirst().state());

        // Tasks up to 9 used v1: it must stay in generations until the watermark passes 9.
        assertEquals(Set.of(v1, v2.slot()), indices(table.liveSlots(9)));
        assertEquals(OperatorState.SUPERSEDED, table.slotOwner(v1).orElseThrow().state());
        List<Slot> afterDrain = table.liveSlots(10);
        assertEquals(Set.of(v2.slot()), indices(afterDrain));
        assertEquals(OperatorState.RETIRED, table.slotOwner(v1).orElseThrow().state());
        assertFalse(table.noteUse(v1, 11), "a retired slot refuses new uses");

        // The loaded generation still contains v1's slot number, so it is not reused yet.
        int mul = install(table, "mul_f32", "mul", 10).slot();
        assertNotEquals(v1, mul);
        assertFalse(indices(table.liveSlots(10)).contains(v1));
        // That install loaded a generation without v1's slot, so the number is free again.
        assertEquals(v1, table.begin("sub_f32", "sub").slot());
    }

    @Test
    void useRecordedBeforeRetirementKeepsTheSlot() {
        AliasTable table = new AliasTable();
        int v1 = install(table, "add_f32", "v1", 0).slot();
        int resolvedBeforeFlip = table.resolve("add_f32");
        install(table, "add_f32", "v2", 0);
        assertTrue(table.noteUse(resolvedBeforeFlip, 20));
        assertTrue(indices(table.liveSlots(15)).contains(v1), "task 20 has not completed at watermark 15");
        assertTrue(indices(table.liveSlots(20)).contains(v1));
        assertFalse(indices(table.liveSlots(21)).contains(v1));
    }

    @Test
    void submitterRacingRetirementResolvesAgain() {
        AliasTable table = new AliasTable();
        int v1 = install(table, "add_f32", "v1", 0).slot();
        int stale = table.resolve("add_f32");
        int v2 = install(table, "add_f32", "v2", 0).slot();
        table.liveSlots(1); // retires v1: no task recorded a use
        assertFalse(table.noteUse(stale, 3), "slot " + v1 + " was retired before the use was recorded");
        assertEquals(v2, table.acquire("add_f32", 3));
    }

    /** Plays a race inside acquire, once: after it read the alias and before it recorded the use. */
    private static final class RaceOnce implements Runnable {
        Runnable race = () -> { };

        @Override
        public void run() {
            Runnable now = race;
            race = () -> { };
            now.run();
        }
    }

    @Test
    void acquireRacingRetirementTakesTheNewSlot() {
        RaceOnce window = new RaceOnce();
        AliasTable table = new AliasTable(AliasTable.DEFAULT_MAX_SLOTS, window);
        int v1 = install(table, "add_f32", "v1", 0).slot();
        List<Integer> v2 = new java.util.ArrayList<>();
        window.race = () -> {
            v2.add(install(table, "add_f32", "v2", 0).slot());
            assertFalse(indices(table.liveSlots(1)).contains(v1), "no use of v1 recorded yet: it retires");
        };
        int slot = table.acquire("add_f32", 3);
        assertEquals(v2.getFirst(), slot, "the task must not run on retired slot " + v1);
        assertTrue(indices(table.liveSlots(3)).contains(slot));
    }

    @Test
    void acquireRacingSlotReuseTakesTheNewSlot() {
        RaceOnce window = new RaceOnce();
        AliasTable table = new AliasTable(AliasTable.DEFAULT_MAX_SLOTS, window);
        int v1 = install(table, "add_f32", "v1", 0).slot();
        List<Integer> v2 = new java.util.ArrayList<>();
        window.race = () -> {
            v2.add(install(table, "add_f32", "v2", 0).slot());
            install(table, "mul_f32", "mul", 1); // retires v1 and loads a generation without it
            assertEquals(v1, table.begin("sub_f32", "sub").slot(), "v1's slot number is reused");
        };
        int slot = table.acquire("add_f32", 3);
        assertEquals(v2.getFirst(), slot, "slot " + v1 + " now holds sub_f32, not add_f32");
    }

    @Test
    void abortKeepsTheOldVersionServing() {
        AliasTable table = new AliasTable();
        int v1 = install(table, "add_f32", "v1", 0).slot();
        SlotPlan broken = table.begin("add_f32", "does not compile");
        table.abort(broken);
        assertEquals(v1, table.resolve("add_f32"));
        assertEquals(1, table.active("add_f32").version());
        assertEquals(List.of(OperatorState.ACTIVE, OperatorState.ABORTED),
                table.versions("add_f32").stream().map(OperatorVersion::state).toList());
        assertEquals(Set.of(v1), indices(table.liveSlots(0)));
        // The aborted slot never reached a loaded generation, so its number is free at once.
        SlotPlan retry = table.begin("add_f32", "v3");
        assertEquals(3, retry.version());
        assertEquals(broken.slot(), retry.slot());
    }

    @Test
    void stateMachineAllowsExactlyTheDocumentedTransitions() {
        var allowed = java.util.Map.of(
                OperatorState.PENDING, EnumSet.of(OperatorState.ACTIVE, OperatorState.ABORTED),
                OperatorState.ACTIVE, EnumSet.of(OperatorState.SUPERSEDED),
                OperatorState.SUPERSEDED, EnumSet.of(OperatorState.RETIRED),
                OperatorState.RETIRED, EnumSet.noneOf(OperatorState.class),
                OperatorState.ABORTED, EnumSet.noneOf(OperatorState.class));
        for (OperatorState from : OperatorState.values()) {
            for (OperatorState to : OperatorState.values()) {
                boolean ok = allowed.get(from).contains(to);
                assertEquals(ok, from.canMoveTo(to), from + " -> " + to);
                if (ok) {
                    assertEquals(to, from.moveTo(to, "x"));
                } else {
                    IllegalStateException e = assertThrows(IllegalStateException.class, () -> from.moveTo(to, "x"));
                    assertTrue(e.getMessage().contains(from + " -> " + to), e.getMessage());
                }
            }
        }
    }

    @Test
    void illegalTableOperationsThrow() {
        AliasTable table = new AliasTable();
        SlotPlan v1 = install(table, "add_f32", "v1", 0);
        assertThrows(IllegalStateException.class, () -> table.activate(v1), "activate twice");
        assertThrows(IllegalStateException.class, () -> table.abort(v1), "abort an active version");
        SlotPlan v2 = table.begin("add_f32", "v2");
        assertThrows(IllegalStateException.class, () -> table.begin("add_f32", "v3"), "two pending versions");
        table.abort(v2);
        assertThrows(IllegalStateException.class, () -> table.activate(v2), "activate an aborted version");
        assertThrows(IllegalStateException.class, () -> table.abort(v2), "abort twice");
        assertThrows(IllegalStateException.class, () -> table.activate(new SlotPlan("add_f32", 7, v1.slot())),
                "forged plan");
        assertThrows(IllegalArgumentException.class, () -> table.begin(" ", "x"));
        assertThrows(IllegalArgumentException.class, () -> table.noteUse(v1.slot(), -1));
        assertThrows(IndexOutOfBoundsException.class, () -> table.noteUse(table.maxSlots(), 1));
    }

    @Test
    void generationsMustHoldEveryServingSlotAndNoStaleOnes() {
        AliasTable table = new AliasTable();
        int add = install(table, "add_f32", "v1", 0).slot();
        install(table, "mul_f32", "v1", 0);
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> table.generationLoaded(List.of(new Slot(add, "add_f32", 1, "v1"))));
        assertTrue(missing.getMessage().contains("lacks slot"), missing.getMessage());
        IllegalStateException stale = assertThrows(IllegalStateException.class,
                () -> table.generationLoaded(List.of(new Slot(add, "add_f32", 2, "v2"))));
        assertTrue(stale.getMessage().contains("stale"), stale.getMessage());
    }

    @Test
    void slotExhaustionSaysWhatHoldsTheSlots() {
        AliasTable table = new AliasTable(4);
        for (int i = 0; i < 3; i++) {
            install(table, "op" + i, "v1", 0);
        }
        table.begin("op3", "v1");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> table.begin("op4", "v1"));
        assertTrue(e.getMessage().contains("all 4 operator slots are taken: 3 active, 1 pending"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> table.begin("op0", "v2"));
    }
}
