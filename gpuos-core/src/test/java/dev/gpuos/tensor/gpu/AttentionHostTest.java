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
 * attention.cu on the HOST (harness {@code attention_host.cpp}, built with g++), F64, F32, BF16 and F16 (through
 * g++'s _Float16 in place of the PTX conversions), with 16-bit values or queries and keys: the chunking over
 * keys with the running maximum and sum, a chunk masked whole, the thread groups over the output's columns and
 * threads owning several, rows looped by one tile, against a double-precision reference; then split S (rows x chunks
 * of tiles run in random orders, twice on one scratch as a replay, then 3 tiles looping over them) against the one-chunk path and the reference.
 * Two mutants of the operator show the split checks can fail: a combine that starts at the combining tile's own
 * chunk (arrival-order sums) and a counter never put back to 0 (the replay never combines). What the host cannot
 * show (the real warp shuffles, the PTX conversions themselves, a missing fence: the host runs tiles one after another, the
 * operand table written by the planner) GpuAttentionTest checks. Skips without g++.
 */
class AttentionHostTest {
    static final String ORDER = "return rp + i * (2 + Ev); }";
    static final String RESET = "if (threadIdx.x == 0) atomicExch(&counters[row], 0u);";

    @Test
    void matchesADoubleReferenceOnTheHost() throws Exception {
        BlockHostHarness.assumeCompiler("attention.cu");
        // LlamaModel's case is F32 queries and keys with BF16 (or F16) values
        DType[][] types = {{DType.F64, DType.F64}, {DType.F32, DType.F32}, {DType.BF16, DType.BF16}, {DType.F32, DType.BF16},
                {DType.F16, DType.F16}};
        for (DType[] t : types) {
            String out = run(hostHalves(OperatorSources.attention(t[0], t[1])));
            System.out.println(t[0] + "/" + t[1] + ":\n" + out);
            assertTrue(out.contains("cases 20 failures 0"), t[0] + "/" + t[1] + ":\n" + out);
            assertTrue(out.contains("split cases 6 failures 0"), t[0] + "/" + t[1] + ":\n" + out);
        }
    }

    @Test
    void splitChecksCatchAnArrivalOrderCombineAndAMissingReset() throws Exception {
        BlockHostHarness.assumeCompiler("attention.cu");
        String source = OperatorSources.attention(DType.F32, DType.F32);
        assertTrue(source.contains(ORDER) && source.contains(RESET), "attention.cu no longer has the lines the mutants change");
        String order = run(source.replace(ORDER, "return rp + ((chunk + 1 + i) % C) * (2 + Ev); }"), "split");
        assertTrue(order.contains("same bits across orders 0"), "an arrival-order combine went unnoticed:\n" + order);
        String reset = run(source.replace(RESET, ""), "split");
        assertTrue(reset.contains("counters reset 0"), "a counter left at C went unnoticed:\n" + reset);
        assertNotEquals(-1, reset.indexOf("split cases 6 failures 6"), "every split case replays:\n" + reset);
    }

    static final String H2F = "asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h));";
    static final String F2H = "asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f));";

    /**
     * {@code operator} with gpuos_tensor.cuh's F16 conversions (PTX cvt, which the host defines away) done by g++'s
     * _Float16, which also rounds to nearest even: so the harness can run F16 operands.
     */
    static String hostHalves(String operator) {
        assertTrue(operator.contains(H2F) && operator.contains(F2H), "gpuos_tensor.cuh's F16 conversions changed: update AttentionHostTest");
        return operator.replace(H2F, "{ _Float16 x; memcpy(&x, &h, 2); f = (float)x; }")
                .replace(F2H, "{ _Float16 x = (_Float16)f; memcpy(&h, &x, 2); }");
    }

    /** The harness's output with {@code operator}; asserts it finished (its exit status says nothing here). */
    private static String run(String operator, String... args) throws Exception {
        Path exe = BlockHostHarness.build("attention_host", operator);
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(exe.toString()));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "harness did not finish");
        assertEquals(out.contains("failures 0\n") && !out.contains("FAIL") ? 0 : 1, p.exitValue(), out);
        return out;
    }
}
