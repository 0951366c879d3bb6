package dev.gpuos.bench;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Entry point of the {@code gpuos} command line: looks up the first word in a table of {@link CliCommand}s
 * and runs it with the remaining words. {@code help} is answered here because only the dispatcher knows the
 * table; {@code ./gpuos test} never reaches here, the launcher script runs Maven for it.
 */
public final class Main {

    /** Exit status for a command line that names no known command or passes bad arguments. */
    public static final int EXIT_USAGE = 2;

    private static final String HELP = "help";

    /**
     * Set by the {@code ./gpuos} script to its own name. The script answers {@code test} itself (it needs
     * Maven, not these jars), so usage lists {@code test} only when started through the script.
     */
    static final String LAUNCHER_PROPERTY = "gpuos.launcher";

    private final Map<String, CliCommand> commands;
    private final PrintStream out;
    private final PrintStream err;
    private final String launcher;

    /** @param commands in the order {@code help} lists them; names must be distinct and not "help" */
    public Main(List<CliCommand> commands, PrintStream out, PrintStream err) {
        this(commands, out, err, null);
    }

    /** @param launcher the script's name when started through {@code ./gpuos}, else null */
    Main(List<CliCommand> commands, PrintStream out, PrintStream err, String launcher) {
        var table = new LinkedHashMap<String, CliCommand>();
        for (CliCommand command : commands) {
            if (command.name().equals(HELP)) {
                throw new IllegalArgumentException("'help' is built into the dispatcher; "
                        + command.getClass().getName() + " cannot take that name");
            }
            CliCommand previous = table.putIfAbsent(command.name(), command);
            if (previous != null) {
                throw new IllegalArgumentException("two commands named '" + command.name() + "': "
                        + previous.getClass().getName() + " and " + command.getClass().getName());
            }
        }
        this.commands = Collections.unmodifiableMap(table);
        this.out = out;
        this.err = err;
        this.launcher = launcher;
    }

    /** The commands of the real command line, writing to the process's standard streams. */
    static Main standard() {
        return new Main(standardCommands(System.out), System.out, System.err, System.getProperty(LAUNCHER_PROPERTY));
    }

    /** The real command line's commands, printing to {@code out}. */
    static List<CliCommand> standardCommands(PrintStream out) {
        return List.of(new InfoCommand(out, new GpuProbe()), new BenchCommand(out), new DemoCommand(out),
                new OpCheckCommand(out), new FuzzCommand(out), new EmbedCommand(out), new GenerateCommand(out));
    }

    public static void main(String[] args) {
        System.exit(standard().run(Arrays.asList(args)));
    }

    /** Runs the command named by {@code args.get(0)} and returns the process exit status. */
    public int run(List<String> args) {
        if (args.isEmpty()) {
            printUsage(err);
            return EXIT_USAGE;
        }
        String name = args.getFirst();
        if ((name.equals(HELP) && args.size() == 1) || name.equals("-h") || name.equals("--help")) {
            printUsage(out);
            return 0;
        }
        if (name.equals(HELP) && args.size() == 2 && commands.containsKey(args.get(1))) {
            printUsage(out, commands.get(args.get(1)));
            return 0;
        }
        CliCommand command = commands.get(name);
        if (command == null) {
            err.println("gpuos: unknown command '" + name + "'");
            printUsage(err);
            return EXIT_USAGE;
        }
        // Every command answers --help and -h, wherever they stand: no command takes them as a value.
        if (args.contains("--help") || args.contains("-h")) {
            printUsage(out, command);
            return 0;
        }
        try {
            return command.run(List.copyOf(args.subList(1, args.size())));
        } catch (CliUsageException e) {
            err.println("gpuos " + name + ": " + e.getMessage());
            err.println("run 'gpuos help' for the list of commands");
            return EXIT_USAGE;
        } catch (Exception e) {
            err.println("gpuos " + name + " failed:");
            e.printStackTrace(err);
            return 1;
        }
    }

    /** The registered commands by name, in registration order ({@code help} excluded). */
    public Map<String, CliCommand> commands() {
        return commands;
    }

    private void printUsage(PrintStream to) {
        to.println("usage: " + (launcher == null ? "gpuos" : launcher) + " <command> [args...]");
        to.println();
        to.println("commands:");
        to.println(line(HELP, "list the commands"));
        for (CliCommand command : commands.values()) {
            to.println(line(command.name(), command.summary()));
        }
        if (launcher != null) {
            to.println(line("test", "run the whole test suite with Maven: mvn -B test [args] (GPU tests skip without a GPU)"));
        }
    }

    private void printUsage(PrintStream to, CliCommand command) {
        String usage = command.usage();
        to.println("usage: " + (launcher == null ? "gpuos" : launcher) + " " + command.name()
                + (usage.isEmpty() ? "" : " [options]"));
        to.println();
        to.println(command.summary());
        if (!usage.isEmpty()) {
            to.println();
            to.println("options:");
            for (String l : usage.split("\n")) to.println("  " + l);
        } else {
            to.println("(takes no arguments)");
        }
    }

    private static String line(String name, String summary) {
        return String.format("  %-11s %s", name, summary);
    }
}
