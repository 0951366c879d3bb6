package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attention.cu on the HOST (harness {@code attention_host.cpp}, built with g++), F64 and F32: the chunking over
 * keys with the running maximum and sum, a chunk masked whole, the thread groups over the output's columns and
 * threads owning several, rows looped by one tile, against a double-precision reference. What the host cannot show
 * (the real warp shuffles, 16-bit types, the operand table written by the planner) GpuAttentionTest checks. Skips
 * without g++.
 */
class AttentionHostTest {
    @Test
    void matchesADoubleReferenceOnTheHost() throws Exception {
        BlockHostHarness.assumeCompiler("attention.cu");
        for (DType t : new DType[]{DType.F64, DType.F32}) {
            Path exe = BlockHostHarness.build("attention_host", OperatorSources.attention(t, t));
            Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), t + ": harness did not finish");
            assertEquals(0, p.exitValue(), t + ":\n" + out);
            assertTrue(out.contains("cases 20 failures 0"), t + ":\n" + out);
        }
    }
}
