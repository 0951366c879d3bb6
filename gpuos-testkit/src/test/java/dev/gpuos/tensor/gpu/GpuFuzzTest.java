package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.GpuTier;
import dev.gpuos.tensor.fuzz.Interpreter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The differential fuzzer on the GPU backend against the CPU backend, once per code path of elementwise
 * structures: the interpreter tier (never promoted: no compiles, so thousands of programs) and native operators
 * (every new structure compiled, in rounds that share one generation swap). Both are bounded in time and need a
 * minimum done. Failures print shrunk reproducers; {@code ./gpuos fuzz --tier T --round 1 --seed S --programs 1}
 * replays one.
 */
@Tag("gpu")
@Tag("gpu-fuzz")
class GpuFuzzTest extends SharedGpuOS {

    @Test
    void interpreterTierMatchesTheCpuOnGeneratedPrograms() {
        fuzz(GpuTier.INTERP, 2_000_000, 2_000, Duration.ofSeconds(40), 500);
    }

    @Test
    void nativeOperatorsMatchTheCpuOnGeneratedPrograms() {
        // Native: about one program a second on the H100 (each new fused structure is an NVRTC compile, one
        // after another; a round of 32 shares one link and swap): two rounds.
        fuzz(GpuTier.NATIVE, 1_000_000, 64, Duration.ofSeconds(90), 32);
    }

    private static void fuzz(GpuTier tier, long firstSeed, int programs, Duration bound, int needed) {
        GpuBackend gpu = tier.backend(os, tier.defaultRound());
        CpuBackend cpu = CpuBackend.eager();
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, gpu),
                ps -> Interpreter.runRound(ps, gpu), tier.defaultRound());
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(firstSeed, programs, bound, programs / 10, line -> {
            System.out.println(line);
            log.append(line).append('\n');
        });
        System.out.printf("gpu fuzz, tier %s, rounds of %d: %d programs, %d ops, %.0f programs/s, %s%n", tier.label(),
                report.roundSize(), report.programs(), report.ops(), report.programsPerSecond(), GpuTier.describe(gpu));
        assertEquals(0, report.mismatches(), log.toString());
        assertTrue(report.programs() >= needed, "only " + report.programs() + " programs in " + bound.toSeconds()
                + " s (tier " + tier.label() + "): " + GpuTier.describe(gpu));
        if (tier == GpuTier.INTERP) {
            assertTrue(gpu.tiers().stats().interpretedTasks() > 0, "nothing ran interpreted: " + GpuTier.describe(gpu));
            assertEquals(0, gpu.tiers().stats().promotions(), "the interp tier promoted: " + GpuTier.describe(gpu));
        }
    }
}
