package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.testkit.NodeRecorder;
import dev.gpuos.testkit.NodeRecorder.Captured;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a dependent row task waits for, read from its GENERATED source (the CPU-visible proxy for its latency at
 * batch 1, where a row task's time is its serialized memory round trips and block barriers): a chunked pass waits
 * for one round trip per chunk it loads, a resident row for one in all; a block's {@code team_reduce} has two
 * barriers, {@code block_reduce} one, a warp's reductions none. Today's forms against {@code
 * -Dgpuos.fusion.rowRegisters=true} ({@link RowFusion#rowRegisters}); the table is printed.
 */
class RowFusedRoundTripsTest {

    /** Round trips and barriers of one row of a dense row task (the worker's own barrier not counted). */
    record Waits(int roundTrips, int barriers) {}

    private static final Pattern CHUNK_PASS = Pattern.compile("i0 \\+= (\\d+)LL \\* team\\.size\\) \\{");
    private static final Pattern LOAD = Pattern.compile("p\\d+\\[u\\] = r\\d+\\[");

    static Waits waits(String source, long len, boolean blockTeam) {
        // Calls only: the lambdas' definitions read "block_reduce = ", "warp_reduce = ".
        int barriers = count(source, "block_reduce(") + (blockTeam ? 2 * count(source, "gt::team_reduce(") : 0);
        if (source.contains("len32")) {
            // Resident: one load of every input, before the first pass.
            assertEquals(1, countLoadBlocks(source), source);
            return new Waits(1, barriers);
        }
        int team = blockTeam ? 256 : 32, trips = 0;
        Matcher m = CHUNK_PASS.matcher(source);
        while (m.find()) {
            int end = source.indexOf("} else {", m.end());
            // A pass that loads (its first inner loop) waits once a chunk; one that only stores does not.
            if (LOAD.matcher(source.substring(m.end(), end)).find()) {
                int chunk = Integer.parseInt(m.group(1));
                trips += (int) ((len + (long) chunk * team - 1) / ((long) chunk * team));
            }
        }
        return new Waits(trips, barriers);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + 1)) n++;
        return n;
    }

    private static int countLoadBlocks(String s) {
        int n = 0;
        for (String block : s.split("#pragma unroll")) if (LOAD.matcher(block).find()) n++;
        return n;
    }

    private record Probe(String name, Captured program, int task) {}

    @Test
    void residentRowsWaitForOneRoundTripAndWarpRowsForNoBarrier() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor scores = s.ones(DType.F32, 512, 64), ln = s.ones(DType.F32, 4, 96), lnR = s.ones(DType.F32, 4, 96);
            Tensor w = s.ones(DType.F32, 96), b = s.ones(DType.F32, 96);
            Tensor bert = s.ones(DType.F32, 128, 768), bertR = s.ones(DType.F32, 128, 768);
            Tensor bw = s.ones(DType.F32, 768), bb = s.ones(DType.F32, 768);
            Tensor many = s.ones(DType.F32, 256, 256), manyR = s.ones(DType.F32, 256, 256), manyW = s.ones(DType.F32, 256);
            List<Probe> probes = List.of(
                    new Probe("W7 step, rms_norm (1, 2048) F32", RowFusionPlanTest.normChain(rec, s, DType.F32, 3, 2048), 1),
                    new Probe("W7 step, rms_norm (1, 2048) BF16", RowFusionPlanTest.normChain(rec, s, DType.BF16, 3, 2048), 1),
                    new Probe("rms_norm step (1, 64), a warp's row", RowFusionPlanTest.normChain(rec, s, DType.F32, 3, 64), 1),
                    new Probe("BERT layer_norm (128, 768) + residual", rec.capture(() -> List.of(bert.add(bertR).layerNorm(bw, bb))), 0),
                    new Probe("layer_norm (4, 96) + residual, relu", rec.capture(() -> List.of(ln.add(lnR).layerNorm(w, b).relu())), 0),
                    new Probe("softmax (512, 64) * 2", rec.capture(() -> List.of(scores.softmax(-1).mul(2.0))), 0),
                    new Probe("rms_norm(x + r) * w, (256, 256)", rec.capture(
                            () -> List.of(many.add(manyR).rmsNorm(new long[]{256}, null, 1e-6).mul(manyW))), 0),
                    new Probe("rms_norm step (1, 4096), not resident", RowFusionPlanTest.normChain(rec, s, DType.F32, 3, 4096), 1));
            StringBuilder table = new StringBuilder("[row round trips] per row: round trips / block barriers, today -> rowRegisters\n");
            boolean was = RowFusion.rowRegisters;
            try {
                for (Probe p : probes) {
                    RowFusion.rowRegisters = false;
                    RowFusion.Fused today = ((TaskPlan.Row) RowFusionPlanTest.captured(p.program()).get(p.task())).fused();
                    Waits before = waits(RowFusion.source(today), today.len, today.blockTeams);
                    RowFusion.rowRegisters = true;
                    RowFusion.Fused next = ((TaskPlan.Row) RowFusionPlanTest.captured(p.program()).get(p.task())).fused();
                    Waits after = waits(RowFusion.source(next), next.len, next.blockTeams);
                    table.append(String.format("  %-40s %s team: %d / %d -> %d / %d%n", p.name(), today.blockTeams ? "block" : "warp",
                            before.roundTrips(), before.barriers(), after.roundTrips(), after.barriers()));
                    if (p.name().contains("not resident")) {
                        // Too long for registers: the chunked passes either way, one round trip a chunk.
                        assertEquals(before, after, p.name());
                        assertTrue(before.roundTrips() >= 3, p.name());
                        continue;
                    }
                    // Every other probe's row fits registers with the switch on: one round trip; a warp's row no barrier.
                    assertEquals(1, after.roundTrips(), p.name());
                    if (!next.blockTeams) {
                        assertEquals(0, after.barriers(), p.name());
                        assertTrue(before.roundTrips() >= 2, p.name() + ": the chunked warp form loads once a pass");
                    }
                    assertTrue(after.roundTrips() <= before.roundTrips() && after.barriers() <= before.barriers(), p.name());
                }
            } finally {
                RowFusion.rowRegisters = was;
            }
            System.out.print(table);
        }
    }

    @Test
    void aWarpsAndABlocksResidentRowNeverShareAnOperator() {
        NodeRecorder rec = new NodeRecorder();
        boolean was = RowFusion.rowRegisters;
        RowFusion.rowRegisters = true;
        try (TensorScope s = TensorScope.open(rec)) {
            // Both hold 8 elements a thread of the same 3 inputs; one is a warp's row (256 rows of 256), the other
            // the block's (one row of 2048).
            Tensor x = s.ones(DType.F32, 256, 256), r = s.ones(DType.F32, 256, 256), w = s.ones(DType.F32, 256);
            RowFusion.Fused warp = ((TaskPlan.Row) RowFusionPlanTest.captured(rec.capture(
                    () -> List.of(x.add(r).rmsNorm(new long[]{256}, null, 1e-6).mul(w)))).get(0)).fused();
            RowFusion.Fused block = ((TaskPlan.Row) RowFusionPlanTest.captured(RowFusionPlanTest.normChain(rec, s, DType.F32, 3, 2048)).get(1)).fused();
            assertEquals(8, RowFusion.residentElements(warp));
            assertEquals(8, RowFusion.residentElements(block));
            assertNotEquals(RowFusion.operator(warp).key(), RowFusion.operator(block).key());
            assertTrue(RowFusion.source(warp).contains("warp_reduce(") && RowFusion.source(block).contains("block_reduce("));
        } finally {
            RowFusion.rowRegisters = was;
        }
    }

    @Test
    void theSwitchTakesTrueOrFalseAndNamesAnythingElse() {
        assertEquals(false, RowFusion.rowRegistersProperty(null));
        assertEquals(false, RowFusion.rowRegistersProperty("false"));
        assertEquals(true, RowFusion.rowRegistersProperty("true"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RowFusion.rowRegistersProperty("yes"));
        assertTrue(e.getMessage().contains("gpuos.fusion.rowRegisters") && e.getMessage().contains("'yes'"), e.getMessage());
    }
}
