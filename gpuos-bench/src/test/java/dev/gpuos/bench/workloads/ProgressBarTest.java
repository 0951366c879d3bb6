package dev.gpuos.bench.workloads;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void formatsDoneOfTotalAndWhatFinished() {
        assertEquals("[..........] 0/48 W1 n=256 gpuos", ProgressBar.line(0, 48, "W1 n=256 gpuos"));
        assertEquals("[##........] 12/48 W3 L=512 gpuos_replay", ProgressBar.line(12, 48, "W3 L=512 gpuos_replay"));
        assertEquals("[#########.] 47/48 x", ProgressBar.line(47, 48, "x"));
        assertEquals("[##########] 48/48 x", ProgressBar.line(48, 48, "x"));
        assertEquals("[##########] 3/0 x", ProgressBar.line(3, 0, "x"));
        assertEquals("[##########] 5/4 x", ProgressBar.line(5, 4, "x"));
    }

    @Test
    void printsOneLinePerFinishedRun() {
        var bytes = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8), 4);
        bar.finished("W1", "n=256", "gpuos");
        bar.finished("W1", "n=256", "gpuos_replay");
        assertEquals(2, bar.done());
        assertEquals("[##........] 1/4 W1 n=256 gpuos\n[#####.....] 2/4 W1 n=256 gpuos_replay\n",
                bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }
}
