package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.WorkerSources;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Builds a host harness with g++: a .cpp test resource of this package that includes {@code block_host.h} (an
 * operator's block run as 256 std::threads) and has an operator's source pasted at its {@code //@OPERATOR@} line.
 * AttentionHostTest and MatmulHostTest run theirs through it.
 */
final class BlockHostHarness {
    static final Path GXX = Path.of("/usr/bin/g++");

    private BlockHostHarness() {}

    /** Skips the calling test where g++ is missing; {@code what} says what could not run. */
    static void assumeCompiler(String what) {
        assumeTrue(Files.isExecutable(GXX), "g++ not installed at " + GXX + ": cannot run " + what + " on the host");
    }

    /** The text of resource {@code name} of this package. */
    static String resource(String name) throws IOException {
        try (InputStream in = BlockHostHarness.class.getResourceAsStream(name)) {
            if (in == null) throw new IOException("no test resource " + name + " beside " + BlockHostHarness.class);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Compiles harness {@code name} (e.g. "matmul_host") with {@code operator} at its {@code //@OPERATOR@} line, in a
     * fresh folder holding the worker's headers and block_host.h; returns the executable.
     */
    static Path build(String name, String operator) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("gpuos-" + name);
        for (var h : WorkerSources.headers().entrySet()) Files.writeString(dir.resolve(h.getKey()), h.getValue());
        Files.writeString(dir.resolve("block_host.h"), resource("block_host.h"));
        Path cpp = dir.resolve(name + ".cpp"), exe = dir.resolve(name);
        Files.writeString(cpp, resource(name + ".cpp").replace("//@OPERATOR@", operator));
        Process cc = new ProcessBuilder(GXX.toString(), "-std=c++20", "-O1", "-pthread", "-w", "-I" + dir, "-o",
                exe.toString(), cpp.toString()).redirectErrorStream(true).start();
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(300, TimeUnit.SECONDS), "g++ did not finish");
        assertEquals(0, cc.exitValue(), "g++ rejected " + name + ".cpp:\n" + log);
        return exe;
    }
}
