package dev.gpuos.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MainTest {

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private String out() { return outBytes.toString(StandardCharsets.UTF_8); }
    private String err() { return errBytes.toString(StandardCharsets.UTF_8); }

    /** Records the arguments it was given and answers with a fixed status or throws a given exception. */
    private static final class Recording implements CliCommand {
        final String name;
        final int status;
        final RuntimeException failure;
        final List<List<String>> calls = new ArrayList<>();

        Recording(String name, int status, RuntimeException failure) {
            this.name = name;
            this.status = status;
            this.failure = failure;
        }

        @Override public String name() { return name; }
        @Override public String summary() { return "summary of " + name; }
        @Override public int run(List<String> args) {
            calls.add(args);
            if (failure != null) throw failure;
            return status;
        }
    }

    @Test
    void runsTheNamedCommandWithTheRemainingWordsAndReturnsItsStatus() {
        var alpha = new Recording("alpha", 0, null);
        var beta = new Recording("beta", 7, null);
        int status = new Main(List.of(alpha, beta), out, err).run(List.of("beta", "--n", "3"));
        assertEquals(7, status);
        assertEquals(List.of(List.of("--n", "3")), beta.calls);
        assertTrue(alpha.calls.isEmpty(), "alpha must not run: " + alpha.calls);
    }

    @Test
    void helpListsEveryCommandWithItsSummaryInRegistrationOrder() {
        var main = new Main(List.of(new Recording("zeta", 0, null), new Recording("alpha", 0, null)), out, err);
        assertEquals(0, main.run(List.of("help")));
        String text = out();
        assertTrue(text.contains("summary of zeta") && text.contains("summary of alpha"), text);
        assertTrue(text.indexOf("zeta") < text.indexOf("alpha"), "registration order lost:\n" + text);
        assertEquals("", err());
    }

    @Test
    void unknownCommandPrintsUsageToStderrAndExitsWithTwo() {
        var main = new Main(List.of(new Recording("alpha", 0, null)), out, err);
        assertEquals(Main.EXIT_USAGE, main.run(List.of("nope")));
        assertTrue(err().contains("unknown command 'nope'"), err());
        assertTrue(err().contains("alpha"), "usage must list the commands: " + err());
        assertEquals("", out());
    }

    @Test
    void noCommandPrintsUsageAndExitsWithTwo() {
        assertEquals(Main.EXIT_USAGE, new Main(List.of(), out, err).run(List.of()));
        assertTrue(err().startsWith("usage: gpuos"), err());
    }

    @Test
    void badArgumentsExitWithTwoAndNameTheCommand() {
        var picky = new Recording("picky", 0, new CliUsageException("--size must be positive, got -1"));
        assertEquals(Main.EXIT_USAGE, new Main(List.of(picky), out, err).run(List.of("picky", "--size", "-1")));
        assertTrue(err().contains("gpuos picky: --size must be positive, got -1"), err());
    }

    @Test
    void aFailingCommandExitsWithOneAndShowsTheStackTrace() {
        var broken = new Recording("broken", 0, new IllegalStateException("ring full"));
        assertEquals(1, new Main(List.of(broken), out, err).run(List.of("broken")));
        assertTrue(err().contains("IllegalStateException: ring full"), err());
        assertTrue(err().contains("at dev.gpuos.bench."), "stack trace missing: " + err());
    }

    @Test
    void rejectsTwoCommandsWithOneNameAndACommandNamedHelp() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Main(List.of(new Recording("x", 0, null), new Recording("x", 0, null)), out, err));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Main(List.of(new Recording("help", 0, null)), out, err));
    }

    @Test
    void usageListsTheLaunchersTestCommandOnlyWhenStartedByTheLauncher() {
        new Main(List.of(), out, err, "./gpuos").run(List.of("help"));
        assertTrue(out().startsWith("usage: ./gpuos") && out().contains("  test "), out());
        outBytes.reset();
        new Main(List.of(), out, err).run(List.of("help"));
        assertFalse(out().contains("  test "), out());
    }

    @Test
    void theStandardCommandLineHasInfo() {
        assertTrue(Main.standard().commands().containsKey("info"), Main.standard().commands().keySet().toString());
    }
}
