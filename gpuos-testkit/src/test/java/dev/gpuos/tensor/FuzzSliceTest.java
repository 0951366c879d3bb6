package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.Interpreter;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CI slice of the differential fuzzer: a fixed range of seeds, the CPU backend against the independent
 * double-precision reference ({@link FuzzReference}). A failure message holds the shrunk reproducer.
 */
class FuzzSliceTest {
    static final long FIRST_SEED = 1;
    static final int PROGRAMS = 2000;

    @Test
    void cpuBackendMatchesTheReference() {
        CpuBackend cpu = CpuBackend.eager();
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(
                p -> FuzzReference.run(p, Interpreter.run(p, cpu)),
                p -> Interpreter.run(p, cpu));
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(FIRST_SEED, PROGRAMS, Duration.ofMinutes(10), 0,
                line -> log.append(line).append('\n'));
        System.out.printf("fuzz slice: %d programs, %d ops, %d rejected, %.0f programs/s, ops %s%n",
                report.programs(), report.ops(), report.rejected(), report.programsPerSecond(), report.opCounts());
        assertEquals(0, report.mismatches(), log.toString());
        assertTrue(report.rejected() < report.ops() / 20, "the generator should make valid programs; rejected "
                + report.rejected() + " of " + report.ops() + "\n" + log);
    }
}
