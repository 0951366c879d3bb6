package dev.gpuos.bench;

import java.util.List;

/**
 * One subcommand of the {@code gpuos} command line. {@link Main} registers each by {@link #name()};
 * a command prints its results itself and answers with a process exit status.
 */
public interface CliCommand {

    /** The word typed after {@code gpuos}, e.g. {@code info}. */
    String name();

    /** One line for {@code gpuos help}. */
    String summary();

    /**
     * What {@code gpuos NAME --help} prints below the summary: the arguments and options, one a line, and what
     * each does; empty for a command that takes none. {@code --help} and {@code -h} are answered by {@link Main}
     * before {@link #run} sees the arguments.
     */
    default String usage() {
        return "";
    }

    /**
     * Runs the command.
     *
     * @param args the words after the command name
     * @return the process exit status: 0 for success
     * @throws CliUsageException when {@code args} are not what the command accepts (exit status 2)
     * @throws Exception any other failure; the command line prints its stack trace (exit status 1)
     */
    int run(List<String> args) throws Exception;
}
