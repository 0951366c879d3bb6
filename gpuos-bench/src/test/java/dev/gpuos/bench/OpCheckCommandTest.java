package dev.gpuos.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpCheckCommandTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final OpCheckCommand command = new OpCheckCommand(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    @Test
    void dumpsTheSelectedCasesOnTheCpuBackend(@TempDir Path dir) throws Exception {
        assertEquals(0, command.run(List.of("--out", dir.toString(), "--backend", "cpu", "--only", "add(Tensor)/F32")));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("opcheck: 2 cases computed, 0 rejected by GPUOS (dtype), 0 failed"), out);
        assertTrue(out.contains("python3 bench/pytorch/op_compare.py " + dir), out);
        assertTrue(Files.readString(dir.resolve("manifest.json")).contains("\"add(Tensor)/F32/views\""));
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(CliUsageException.class, () -> command.run(List.of()));
        assertThrows(CliUsageException.class, () -> command.run(List.of("--out")));
        assertThrows(CliUsageException.class, () -> command.run(List.of("--out", "x", "--backend", "tpu")));
        assertThrows(CliUsageException.class, () -> command.run(List.of("--frobnicate", "1")));
        assertThrows(CliUsageException.class, () -> command.run(List.of("--out", "x", "--chunk", "0")));
    }

    @Test
    void isOnTheCommandLine() {
        assertTrue(Main.standard().commands().containsKey("opcheck"));
    }
}
