package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.fuzz.Tolerance.Mismatch;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs generated programs on two sides (a backend under test and the side it must agree with) and collects
 * mismatches with shrunk reproducers. Program {@code i} of a run uses seed {@code firstSeed + i}, so
 * {@code --seed S --programs 1} replays one program.
 */
public final class DifferentialFuzzer {
    /** At most this many failures are shrunk and kept; later ones are only counted. */
    public static final int MAX_REPORTED = 10;

    private final Function<FuzzProgram, FuzzRun> expected;
    private final Function<FuzzProgram, FuzzRun> actual;
    private final Function<List<FuzzProgram>, List<FuzzRun>> actualRound;
    private final int roundSize;
    private final ProgramGenerator generator = new ProgramGenerator();

    /** Every program runs alone on the actual side. */
    public DifferentialFuzzer(Function<FuzzProgram, FuzzRun> expected, Function<FuzzProgram, FuzzRun> actual) {
        this(expected, actual, null, 1);
    }

    /**
     * Programs run on the actual side in rounds of {@code roundSize} through {@code actualRound} (e.g.
     * {@link Interpreter#runRound}: one submission per phase for the whole round, so a compiling backend pays
     * one generation swap per round, not one per program). A program that mismatches in its round is run again
     * alone through {@code actual}, which also shrinks it.
     */
    public DifferentialFuzzer(Function<FuzzProgram, FuzzRun> expected, Function<FuzzProgram, FuzzRun> actual,
                              Function<List<FuzzProgram>, List<FuzzRun>> actualRound, int roundSize) {
        if (roundSize < 1 || (roundSize > 1 && actualRound == null)) {
            throw new IllegalArgumentException("rounds of " + roundSize + " need a round function");
        }
        this.expected = expected;
        this.actual = actual;
        this.actualRound = actualRound;
        this.roundSize = roundSize;
    }

    public record Failure(long seed, Mismatch mismatch, String reproducer) {}

    /**
     * @param rejected  steps the API rejected on the expected side: the overflow-prone views and casts meant to
     *                  be refused ({@link OverflowSteps}; the actual side must refuse them with the same exception),
     *                  otherwise none; {@code rejectedByOp} counts them per op
     * @param roundOnly mismatches (counted in {@code mismatches}) seen in a round that the program alone did not repeat
     */
    public record Report(long programs, long ops, Map<FuzzOp, Long> opCounts, long rejected,
                         Map<FuzzOp, Long> rejectedByOp, long mismatches, long roundOnly, int roundSize,
                         List<Failure> failures, Duration elapsed) {
        public double programsPerSecond() { return programs / Math.max(1e-9, elapsed.toNanos() / 1e9); }
    }

    private static <T> T join(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the expected run", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the expected side failed: " + e.getCause(), e.getCause());
        }
    }

    /** The first mismatch of {@code program}, if any. */
    public Optional<Mismatch> check(FuzzProgram program) {
        return Tolerance.compare(program, expected.apply(program), actual.apply(program));
    }

    /**
     * Runs up to {@code programs} programs from {@code firstSeed}, stopping early once {@code budget} is spent;
     * {@code progress} gets a line every {@code progressEvery} programs and one per failure.
     */
    public Report run(long firstSeed, long programs, Duration budget, long progressEvery, Consumer<String> progress) {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "fuzz-expected");
            t.setDaemon(true);
            return t;
        });
        try {
            return run(firstSeed, programs, budget, progressEvery, progress, pool, threads * 4);
        } finally {
            pool.shutdownNow();
        }
    }

    private record Prepared(long seed, FuzzProgram program, FuzzRun expected) {}

    /**
     * Generation and the expected side run ahead on {@code pool} (up to {@code lookahead} programs), while this
     * thread runs the actual side in seed order: a GPU backend under test is never kept waiting for the CPU.
     */
    private Report run(long firstSeed, long programs, Duration budget, long progressEvery, Consumer<String> progress,
                       ExecutorService pool, int lookahead) {
        long start = System.nanoTime(), deadline = start + budget.toNanos();
        Map<FuzzOp, Long> counts = new EnumMap<>(FuzzOp.class), refused = new EnumMap<>(FuzzOp.class);
        List<Failure> failures = new ArrayList<>();
        long done = 0, ops = 0, rejected = 0, mismatches = 0, roundOnly = 0;
        Deque<Future<Prepared>> ahead = new ArrayDeque<>();
        long queued = 0;
        lookahead = Math.max(lookahead, 2 * roundSize);
        while (done < programs && System.nanoTime() < deadline) {
            while (queued < programs && ahead.size() < lookahead) {
                long seed = firstSeed + queued++;
                ahead.add(pool.submit(() -> {
                    FuzzProgram p = generator.generate(seed);
                    return new Prepared(seed, p, expected.apply(p));
                }));
            }
            List<Prepared> round = new ArrayList<>();
            while (round.size() < roundSize && !ahead.isEmpty()) round.add(join(ahead.removeFirst()));
            List<FuzzRun> actualRuns = roundSize == 1 ? List.of(actual.apply(round.getFirst().program()))
                    : actualRound.apply(round.stream().map(Prepared::program).toList());
            for (int r = 0; r < round.size(); r++) {
                Prepared next = round.get(r);
                long seed = next.seed();
                FuzzProgram p = next.program();
                FuzzRun e = next.expected(), a = actualRuns.get(r);
                for (FuzzStep s : p.steps()) {
                    if (s.op() == FuzzOp.INPUT) continue;
                    Outcome o = s.out() >= 0 ? e.outcomes().get(s.out()) : null;
                    if (o != null && !o.ok()) {
                        rejected++;
                        refused.merge(s.op(), 1L, Long::sum);
                        continue;
                    }
                    counts.merge(s.op(), 1L, Long::sum);
                    ops++;
                }
                Optional<Mismatch> m = Tolerance.compare(p, e, a);
                done++;
                if (m.isPresent()) {
                    mismatches++;
                    Optional<Mismatch> alone = roundSize == 1 ? m : check(p);
                    if (alone.isEmpty()) {
                        roundOnly++;
                        String text = "seed " + seed + " mismatched only in its round of " + round.size()
                                + " (seeds " + round.getFirst().seed() + ".." + round.getLast().seed() + "): " + m.get()
                                + "; alone it passes, so it is not shrunk";
                        if (failures.size() < MAX_REPORTED) failures.add(new Failure(seed, m.get(), text));
                        progress.accept("MISMATCH " + text);
                    } else if (failures.size() < MAX_REPORTED && System.nanoTime() < deadline) {
                        Shrinker.Result shrunk = new Shrinker(this::check).shrink(p, alone.get());
                        String text = Shrinker.reproducer(seed, shrunk, expected.apply(shrunk.program()));
                        failures.add(new Failure(seed, alone.get(), text));
                        progress.accept("MISMATCH " + text);
                    } else {
                        progress.accept("MISMATCH seed " + seed + ": " + alone.get() + " (not shrunk: " + MAX_REPORTED
                                + " already reported or time is up)");
                    }
                }
                if (progressEvery > 0 && done % progressEvery == 0) {
                    progress.accept(String.format("%,d programs, %,d ops, %d mismatches, %.1f s", done, ops, mismatches,
                            (System.nanoTime() - start) / 1e9));
                }
            }
        }
        return new Report(done, ops, counts, rejected, refused, mismatches, roundOnly, roundSize, failures,
                Duration.ofNanos(System.nanoTime() - start));
    }
}
