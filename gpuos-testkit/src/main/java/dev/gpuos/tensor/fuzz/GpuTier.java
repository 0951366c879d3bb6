package dev.gpuos.tensor.fuzz;

import dev.gpuos.GpuOS;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.gpu.TieredOperators;

import java.time.Duration;
import java.util.Locale;

/**
 * Which code path a GPU fuzz run exercises for elementwise structures (and reductions the interpreter takes).
 * Other families (softmax, norms, matmul, index_select, fill, copy) always run native operators: their
 * variants are few and each compiles once.
 */
public enum GpuTier {
    /** Every new structure runs on the in-kernel interpreter for the whole run: no compile, no swap. */
    INTERP(TieredOperators.Policy.NEVER, 8),
    /** Every new structure is compiled (one link and one generation swap per round of programs). */
    NATIVE(null, 32),
    /** The default tiering policy: interpreted first, promoted to native in background swaps. */
    TIERED(TieredOperators.Policy.DEFAULT, 8);

    /** Nodes a round may record before the backend submits on its own: a round's phase stays one submission. */
    static final int ROUND_MAX_NODES = 1 << 16;
    static final Duration ROUND_MAX_AGE = Duration.ofSeconds(30);

    private final TieredOperators.Policy policy;
    private final int defaultRound;

    GpuTier(TieredOperators.Policy policy, int defaultRound) {
        this.policy = policy;
        this.defaultRound = defaultRound;
    }

    /** The tiering policy of a backend for this tier; null: native only. */
    public TieredOperators.Policy policy() { return policy; }

    /** Programs per round by default ({@link Interpreter#runRound}); 1 runs every program alone. */
    public int defaultRound() { return defaultRound; }

    /** {@code interp}, {@code native} or {@code tiered}. */
    public String label() { return name().toLowerCase(Locale.ROOT); }

    public static GpuTier parse(String s) {
        for (GpuTier t : values()) if (t.label().equals(s)) return t;
        throw new IllegalArgumentException("unknown tier '" + s + "' (known: interp, native, tiered)");
    }

    /**
     * A backend for fuzzing this tier in rounds of {@code round} programs: with rounds, submissions are made only
     * at the round's syncs (a large node limit and a long age), so each phase of a round is one submission.
     */
    public GpuBackend backend(GpuOS os, int round) {
        return round > 1 ? new GpuBackend(os, ROUND_MAX_NODES, ROUND_MAX_AGE, policy)
                : new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, GpuBackend.DEFAULT_MAX_AGE, policy);
    }

    /** What the run used: operators compiled, and tasks per tier. */
    public static String describe(GpuBackend gpu) {
        GpuBackend.Stats s = gpu.stats();
        TieredOperators t = gpu.tiers();
        String tiers = t == null ? "all tasks native"
                : String.format("%,d tasks interpreted, %,d native, %,d op programs, %d promotions",
                t.stats().interpretedTasks(), t.stats().nativeTasks(), t.stats().programs(), t.stats().promotions());
        return String.format("%,d submissions, %,d tasks, %d operators compiled, %s", s.submissions(), s.tasks(),
                s.operatorsCompiled(), tiers);
    }
}
