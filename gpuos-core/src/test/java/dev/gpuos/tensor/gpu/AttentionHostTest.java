package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attention.cu on the HOST (harness {@code attention_host.cpp}, built with g++), F64, F32 and BF16: the chunking over
 * keys with the running maximum and sum, a chunk masked whole, the thread groups over the output's columns and
 * threads owning several, rows looped by one tile, against a double-precision reference; then split S (rows x chunks
 * of tiles run in random orders, twice on one scratch as a replay) against the one-chunk path and the reference.
 * Two mutants of the operator show the split checks can fail: a combine that starts at the combining tile's own
 * chunk (arrival-order sums) and a counter never put back to 0 (the replay never combines). What the host cannot
 * show (the real warp shuffles, F16's PTX conversions, a missing fence: the host runs tiles one after another, the
 * operand table written by the planner) GpuAttentionTest checks. Skips without g++.
 */
class AttentionHostTest {
    static final String ORDER = "return rp + i * (2 + Ev); }";
    static final String RESET = "if (threadIdx.x == 0) atomicExch(&counters[row], 0u);";

    @Test
    void matchesADoubleReferenceOnTheHost() throws Exception {
        BlockHostHarness.assumeCompiler("attention.cu");
        DType[][] types = {{DType.F64, DType.F64}, {DType.F32, DType.F32}, {DType.BF16, DType.BF16}, {DType.BF16, DType.F32}};
        for (DType[] t : types) {
            String out = run(OperatorSources.attention(t[0], t[1]));
            System.out.println(t[0] + "/" + t[1] + ":\n" + out);
            assertTrue(out.contains("cases 20 failures 0"), t[0] + "/" + t[1] + ":\n" + out);
            assertTrue(out.contains("split cases 12 failures 0"), t[0] + "/" + t[1] + ":\n" + out);
        }
    }

    @Test
    void splitChecksCatchAnArrivalOrderCombineAndAMissingReset() throws Exception {
        BlockHostHarness.assumeCompiler("attention.cu");
        String source = OperatorSources.attention(DType.F32, DType.F32);
        assertTrue(source.contains(ORDER) && source.contains(RESET), "attention.cu no longer has the lines the mutants change");
        String order = run(source.replace(ORDER, "return rp + ((chunk + 1 + i) % C) * (2 + Ev); }"));
        assertTrue(order.contains("cases 20 failures 0"), order);
        assertTrue(order.contains("same bits across orders 0"), "an arrival-order combine went unnoticed:\n" + order);
        String reset = run(source.replace(RESET, ""));
        assertTrue(reset.contains("counters reset 0"), "a counter left at C went unnoticed:\n" + reset);
        assertNotEquals(-1, reset.indexOf("split cases 12 failures 12"), "every split case replays:\n" + reset);
    }

    /** The harness's output with {@code operator}; asserts it finished (its exit status says nothing here). */
    private static String run(String operator) throws Exception {
        Path exe = BlockHostHarness.build("attention_host", operator);
        Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "harness did not finish");
        assertEquals(out.contains("failures 0\n") && !out.contains("FAIL") ? 0 : 1, p.exitValue(), out);
        return out;
    }
}
