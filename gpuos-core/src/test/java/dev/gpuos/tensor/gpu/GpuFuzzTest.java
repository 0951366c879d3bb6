package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuTestSupport;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.Interpreter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The differential fuzzer on the GPU backend: 500 generated programs (a fixed seed range) against the CPU
 * backend. Bounded in time as well, since every new fused structure is compiled once: the test needs at least
 * 100 programs done. Failures print shrunk reproducers; {@code ./gpuos fuzz --seed S --programs 1} replays one.
 */
@Tag("gpu")
class GpuFuzzTest {
    static final long FIRST_SEED = 1_000_000;
    static GpuOS os;
    static GpuBackend gpu;

    @BeforeAll
    static void start() {
        GpuTestSupport.assumeGpu();
        os = GpuOS.start(GpuTestSupport.options());
        gpu = new GpuBackend(os);
    }

    @AfterAll
    static void stop() {
        if (os != null) os.close();
    }

    @Test
    void gpuBackendMatchesTheCpuOnGeneratedPrograms() {
        CpuBackend cpu = CpuBackend.eager();
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, gpu));
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(FIRST_SEED, 500, Duration.ofSeconds(40), 100, line -> {
            System.out.println(line);
            log.append(line).append('\n');
        });
        System.out.printf("gpu fuzz: %d programs, %d ops, %.0f programs/s, %s%n", report.programs(), report.ops(),
                report.programsPerSecond(), gpu.stats());
        assertEquals(0, report.mismatches(), log.toString());
        assertTrue(report.programs() >= 100, "only " + report.programs() + " programs in the time bound");
    }
}
