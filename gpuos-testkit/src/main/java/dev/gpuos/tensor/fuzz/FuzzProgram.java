package dev.gpuos.tensor.fuzz;

import java.util.List;
import java.util.Map;

/**
 * A straight-line program of tensor ops over a pool of live tensors, reproducible from its {@link #seed}:
 * {@code new ProgramGenerator().generate(seed)} gives the same steps on every machine.
 */
public record FuzzProgram(long seed, List<FuzzStep> steps) {
    public FuzzProgram {
        steps = List.copyOf(steps);
    }

    /** Steps that make a tensor or sync (INPUT steps excluded): what the fuzzer counts as ops run. */
    public int opCount() {
        int n = 0;
        for (FuzzStep s : steps) if (s.op() != FuzzOp.INPUT) n++;
        return n;
    }

    /** One line per step, each followed by a comment from {@code notes} (by tensor id) when there is one. */
    public String listing(Map<Integer, String> notes) {
        StringBuilder b = new StringBuilder();
        for (FuzzStep s : steps) {
            String line = s.code();
            String note = notes.get(s.out());
            b.append("  ").append(line);
            if (note != null) b.append(" ".repeat(Math.max(1, 56 - line.length()))).append("// ").append(note);
            b.append('\n');
        }
        return b.toString();
    }

    @Override
    public String toString() { return "seed " + seed + ":\n" + listing(Map.of()); }
}
