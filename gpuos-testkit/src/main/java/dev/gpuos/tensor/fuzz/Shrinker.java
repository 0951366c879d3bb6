package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.fuzz.Tolerance.Mismatch;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Reduces a failing program while it still fails the same way (a mismatch at a step of the same op): first cut
 * everything after the failing step, then remove steps one at a time (either bypassed, their readers reading the step's first input, or
 * together with every step that reads their tensors),
 * then shrink input shapes (a size to 1 or halved) and simplify inputs (contiguous, no NaN/inf). A candidate the
 * API rejects fails nowhere (both runs reject alike), so it is simply not taken.
 */
public final class Shrinker {
    private static final int MAX_ATTEMPTS = 600;

    private final Function<FuzzProgram, Optional<Mismatch>> check;
    private int attempts;

    /** @param check runs a program on both sides and returns the first mismatch */
    public Shrinker(Function<FuzzProgram, Optional<Mismatch>> check) {
        this.check = check;
    }

    public record Result(FuzzProgram program, Mismatch mismatch, int attempts) {}

    public Result shrink(FuzzProgram failing, Mismatch original) {
        FuzzOp culprit = original.step().op();
        FuzzProgram best = failing;
        Mismatch bestMismatch = original;
        int cut = indexOfOut(best, original.step().out());
        if (cut >= 0 && cut + 1 < best.steps().size()) {
            FuzzProgram c = new FuzzProgram(best.seed(), best.steps().subList(0, cut + 1));
            Optional<Mismatch> m = stillFails(c, culprit);
            if (m.isPresent()) { best = c; bestMismatch = m.get(); }
        }
        boolean progress = true;
        while (progress && attempts < MAX_ATTEMPTS) {
            progress = false;
            for (int i = best.steps().size() - 1; i >= 0 && attempts < MAX_ATTEMPTS; i--) {
                if (i >= best.steps().size()) continue;
                for (FuzzProgram c : new FuzzProgram[]{bypass(best, i), without(best, i)}) {
                    if (c == null) continue;
                    Optional<Mismatch> m = stillFails(c, culprit);
                    if (m.isPresent()) { best = c; bestMismatch = m.get(); progress = true; break; }
                }
            }
            for (int i = 0; i < best.steps().size() && attempts < MAX_ATTEMPTS; i++) {
                FuzzStep s = best.steps().get(i);
                if (s.op() != FuzzOp.INPUT) continue;
                for (FuzzStep simpler : simplerInputs(s)) {
                    FuzzProgram c = replace(best, i, simpler);
                    Optional<Mismatch> m = stillFails(c, culprit);
                    if (m.isPresent()) { best = c; bestMismatch = m.get(); progress = true; break; }
                }
            }
        }
        return new Result(best, bestMismatch, attempts);
    }

    private Optional<Mismatch> stillFails(FuzzProgram candidate, FuzzOp culprit) {
        attempts++;
        try {
            return check.apply(candidate).filter(m -> m.step().op() == culprit);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private static int indexOfOut(FuzzProgram p, int id) {
        for (int i = 0; i < p.steps().size(); i++) if (p.steps().get(i).out() == id) return i;
        return -1;
    }

    /** The program without step {@code i} and every step that (transitively) reads what it made. */
    static FuzzProgram without(FuzzProgram p, int i) {
        Set<Integer> gone = new HashSet<>();
        List<FuzzStep> kept = new ArrayList<>();
        for (int j = 0; j < p.steps().size(); j++) {
            FuzzStep s = p.steps().get(j);
            boolean drop = j == i;
            for (int id : s.in()) drop |= gone.contains(id);
            if (drop) {
                if (s.out() >= 0) gone.add(s.out());
            } else {
                kept.add(s);
            }
        }
        return new FuzzProgram(p.seed(), kept);
    }

    /** The program without step {@code i}, its readers reading its first input instead; null if it has none. */
    static FuzzProgram bypass(FuzzProgram p, int i) {
        FuzzStep skipped = p.steps().get(i);
        if (skipped.inputCount() == 0 || skipped.out() < 0) return null;
        List<FuzzStep> kept = new ArrayList<>();
        for (int j = 0; j < p.steps().size(); j++) {
            if (j == i) continue;
            FuzzStep s = p.steps().get(j);
            int[] in = s.in();
            for (int k = 0; k < in.length; k++) if (in[k] == skipped.out()) in[k] = skipped.input(0);
            kept.add(new FuzzStep(s.out(), s.op(), in, s.args(), s.scalars(), s.dtype()));
        }
        return new FuzzProgram(p.seed(), kept);
    }

    private static FuzzProgram replace(FuzzProgram p, int i, FuzzStep s) {
        List<FuzzStep> steps = new ArrayList<>(p.steps());
        steps.set(i, s);
        return new FuzzProgram(p.seed(), steps);
    }

    private static List<FuzzStep> simplerInputs(FuzzStep input) {
        List<FuzzStep> out = new ArrayList<>();
        long[] a = input.args();
        for (int d = 4; d < a.length; d++) {
            for (long smaller : new long[]{1, a[d] / 2}) {
                if (smaller >= a[d] || smaller < 1) continue;
                long[] b = a.clone();
                b[d] = smaller;
                out.add(input.withArgs(b));
            }
        }
        if (a[1] != FuzzInputs.Style.CONTIGUOUS.ordinal()) {
            long[] b = a.clone();
            b[1] = FuzzInputs.Style.CONTIGUOUS.ordinal();
            out.add(input.withArgs(b));
        }
        if (a[2] == FuzzInputs.Values.SPECIALS.ordinal()) {
            long[] b = a.clone();
            b[2] = FuzzInputs.Values.GRID.ordinal();
            out.add(input.withArgs(b));
        }
        return out;
    }

    /** The reproducer: the seed, the failure, and the minimal program with each tensor's dtype and shape. */
    public static String reproducer(long seed, Result result, FuzzRun annotated) {
        Map<Integer, Outcome> o = annotated.outcomes();
        Map<Integer, String> notes = new java.util.HashMap<>();
        for (FuzzStep s : result.program().steps()) {
            Outcome out = o.get(s.out());
            if (out == null) continue;
            StringBuilder b = new StringBuilder(out.describe());
            if (s.op() != FuzzOp.INPUT && s.inputCount() > 0) {
                b.append("  <-");
                for (int id : s.in()) {
                    Outcome in = o.get(id);
                    b.append(' ').append(in == null ? "?" : in.ok() ? java.util.Arrays.toString(in.shape()) : "error");
                }
            }
            notes.put(s.out(), b.toString());
        }
        return "seed " + seed + ": " + result.mismatch() + "\n  minimal program (" + result.program().steps().size()
                + " steps, " + result.attempts() + " shrink attempts):\n" + result.program().listing(notes);
    }
}
