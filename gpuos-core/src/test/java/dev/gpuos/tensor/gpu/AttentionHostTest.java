package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.WorkerSources;
import dev.gpuos.tensor.DType;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * attention.cu on the HOST (harness {@code attention_host.cpp}, built with g++), F64 and F32: the chunking over
 * keys with the running maximum and sum, a chunk masked whole, the thread groups over the output's columns and
 * threads owning several, rows looped by one tile, against a double-precision reference. What the host cannot show
 * (the real warp shuffles, 16-bit types, the operand table written by the planner) GpuAttentionTest checks. Skips
 * without g++.
 */
class AttentionHostTest {
    private static final Path GXX = Path.of("/usr/bin/g++");

    @Test
    void matchesADoubleReferenceOnTheHost() throws Exception {
        assumeTrue(Files.isExecutable(GXX), "g++ not installed at " + GXX + ": cannot run attention.cu on the host");
        String harness;
        try (InputStream in = AttentionHostTest.class.getResourceAsStream("attention_host.cpp")) {
            harness = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        for (DType t : new DType[]{DType.F64, DType.F32}) {
            Path dir = Files.createTempDirectory("gpuos-attention-host");
            for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
            Path cpp = dir.resolve("attention_host.cpp"), exe = dir.resolve("attention_host");
            Files.writeString(cpp, harness.replace("//@OPERATOR@", OperatorSources.attention(t, t)));
            Process cc = new ProcessBuilder(GXX.toString(), "-std=c++20", "-O1", "-pthread", "-w", "-I" + dir, "-o",
                    exe.toString(), cpp.toString()).redirectErrorStream(true).start();
            String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(cc.waitFor(300, TimeUnit.SECONDS), "g++ did not finish");
            assertEquals(0, cc.exitValue(), "g++ rejected the attention harness for " + t + ":\n" + log);
            Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), t + ": harness did not finish");
            assertEquals(0, p.exitValue(), t + ":\n" + out);
            assertTrue(out.contains("cases 20 failures 0"), t + ":\n" + out);
        }
    }
}
