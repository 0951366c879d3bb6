package dev.gpuos.runtime.ops;

import java.util.List;
import org.jetbrains.lincheck.datastructures.LongGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Lincheck model-checks the lock-free part of the alias table: submitters {@link AliasTable#acquire} (a volatile
 * read and CAS loop) while the compile path replaces the operator and retires old slots. Every interleaving it
 * explores must match some sequential order of the same operations, i.e. a task never gets a slot that was
 * retired before its use was recorded, nor one reused by another version. Four slots, so numbers are reused.
 *
 * <p>Sized for CI (about 12 s of agent start-up plus ~13 ms per explored interleaving). It is not vacuous: with
 * noteUse's CAS replaced by a get-then-set, it finds the acquire/retire race (acquire returns slot 0 while a
 * concurrent liveSlots retired it) within these iterations. TaskQueue and CompletionTracker have no lock-free
 * state of their own (one submit lock, one monitor); their lock-free part is the host/device protocol, which
 * the simulated-device race tests cover (ProtocolRaceTest, SimulatedQueueTest, QueueLifecycleTest).
 *
 * <p>Tagged "lincheck": it needs java.instrument (Lincheck attaches an agent), which the jlinked runtime of the
 * GPU check lacks, so scripts/gpu-check.sh skips it there and device-pack leaves its jars out; Maven runs it.
 */
@Tag("lincheck")
@Param(name = "seq", gen = LongGen.class, conf = "0:6")
public class AliasTableLincheckTest {
    private final AliasTable table = new AliasTable(4);
    private static final String[] SOURCES = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
    private int version = 1;

    public AliasTableLincheckTest() {
        SlotPlan first = table.begin("op", "v1");
        table.generationLoaded(table.liveSlots(0));
        table.activate(first);
    }

    /** A submitter: the slot task {@code seq} is submitted with. */
    @Operation
    public int acquire(@Param(name = "seq") long seq) {
        return table.acquire("op", seq);
    }

    /** The compile path (one at a time, as under GpuOS's swap lock): a new version, loaded, then activated. */
    @Operation(nonParallelGroup = "compile")
    public int replace(@Param(name = "seq") long completedSeq) {
        SlotPlan plan = table.begin("op", SOURCES[++version % SOURCES.length]);
        table.generationLoaded(table.liveSlots(completedSeq));
        table.activate(plan);
        return plan.slot();
    }

    /** The compile path building a generation: retires superseded slots whose tasks all completed. */
    @Operation(nonParallelGroup = "compile")
    public List<Integer> liveSlots(@Param(name = "seq") long completedSeq) {
        return table.liveSlots(completedSeq).stream().map(Slot::index).toList();
    }

    @Test
    void acquireIsLinearizableAgainstReplaceAndRetire() {
        new ModelCheckingOptions().iterations(3).invocationsPerIteration(200).threads(3).actorsPerThread(3)
                .check(AliasTableLincheckTest.class);
    }
}
