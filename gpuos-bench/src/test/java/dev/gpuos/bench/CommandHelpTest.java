package dev.gpuos.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: every command of the real command line answers {@code --help} and {@code -h} (alone or among other
 * options) and {@code gpuos help NAME} with its usage on standard output and exit status 0, without running.
 */
class CommandHelpTest {

    private static final List<List<String>> FORMS = List.of(List.of("--help"), List.of("-h"),
            List.of("--out", "somewhere", "--help"), List.of("-h", "--programs"));

    @Test
    @Timeout(60)  // a command that ran instead (fuzz runs for an hour by default) fails here
    void everyCommandPrintsItsUsageAndExitsZero() {
        List<CliCommand> commands = Main.standardCommands(new PrintStream(new ByteArrayOutputStream()));
        assertEquals(7, commands.size(), "a new command: this test covers it by itself, update the count");
        List<String> failures = new ArrayList<>();
        for (CliCommand command : commands) {
            List<List<String>> calls = new ArrayList<>();
            for (List<String> form : FORMS) {
                List<String> args = new ArrayList<>(List.of(command.name()));
                args.addAll(form);
                calls.add(args);
            }
            calls.add(List.of("help", command.name()));
            for (List<String> args : calls) {
                ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
                PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
                int status = new Main(Main.standardCommands(out), out,
                        new PrintStream(e, true, StandardCharsets.UTF_8)).run(args);
                String text = o.toString(StandardCharsets.UTF_8), err = e.toString(StandardCharsets.UTF_8);
                if (status != 0 || !err.isEmpty() || !text.startsWith("usage: gpuos " + command.name())
                        || !text.contains(command.summary())) {
                    failures.add(args + ": status " + status + ", out '" + text + "', err '" + err + "'");
                }
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void commandsWithOptionsListThem() {
        for (CliCommand command : Main.standardCommands(new PrintStream(new ByteArrayOutputStream()))) {
            String usage = command.usage();
            switch (command.name()) {
                case "info", "demo" -> assertTrue(usage.isEmpty(), command.name() + " takes no arguments");
                case "embed", "generate" -> {
                    for (String option : List.of("--model", "--backend", "--help")) {
                        assertTrue(usage.contains(option), command.name() + " usage lacks " + option);
                    }
                }
                default -> {
                    assertTrue(usage.contains("--out"), command.name() + ": " + usage);
                    assertTrue(usage.contains("--help"), command.name() + ": " + usage);
                }
            }
            if (command.name().equals("fuzz")) {
                for (String option : List.of("--programs", "--seed", "--backend", "--tier", "--round", "--minutes")) {
                    assertTrue(usage.contains(option), "fuzz usage lacks " + option);
                }
            }
        }
    }

    /** The launcher answers 'test' itself (it runs Maven): its --help is the launcher's, not Maven's. */
    @Test
    @Timeout(60)
    void theLaunchersTestCommandAnswersHelpToo() throws Exception {
        java.nio.file.Path script = java.nio.file.Path.of("..", "gpuos").toAbsolutePath().normalize();
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(script), "no launcher at " + script);
        for (String flag : List.of("--help", "-h")) {
            Process p = new ProcessBuilder("bash", script.toString(), "test", flag).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), text);
            assertTrue(text.startsWith("usage: ./gpuos test"), text);
        }
    }

    @Test
    void aWrongOptionIsStillAUsageError() {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
        int status = new Main(Main.standardCommands(out), out, new PrintStream(e, true, StandardCharsets.UTF_8))
                .run(List.of("fuzz", "--bogus", "1"));
        assertEquals(Main.EXIT_USAGE, status);
        assertFalse(e.toString(StandardCharsets.UTF_8).isEmpty());
    }
}
