package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.FuzzProgram;
import dev.gpuos.tensor.fuzz.FuzzRun;
import dev.gpuos.tensor.fuzz.FuzzStep;
import dev.gpuos.tensor.fuzz.Interpreter;
import dev.gpuos.tensor.fuzz.Outcome;
import dev.gpuos.tensor.fuzz.ProgramGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: the fuzzer tries overflow-prone sizes, offsets and strides (as_strided, narrow, select, expand,
 * reshape, slice) and casts of NaN and infinities to integers (saturating): programs hold such steps, the backends refuse the illegal ones with the exception the
 * reference expects (checked by {@link FuzzSliceTest}'s reference run) and agree with each other (here: eager
 * against batched CPU).
 */
class OverflowFuzzTest {

    @Test
    void programsTryOverflowingViewsAndEveryClassOfRefusalOccurs() {
        ProgramGenerator generator = new ProgramGenerator();
        CpuBackend cpu = CpuBackend.eager();
        Map<String, Integer> outcomes = new TreeMap<>();
        for (long seed = 1; seed <= 3000; seed++) {
            FuzzProgram p = generator.generate(seed);
            FuzzRun run = null;
            for (FuzzStep s : p.steps()) {
                if (s.op() == FuzzOp.CAST && s.dtype().isIntegral()) {
                    if (run == null) run = Interpreter.run(p, cpu);
                    Outcome o = run.outcomes().get(s.out());
                    if (o != null && o.ok()) {
                        for (double v : o.values()) {
                            if (Math.abs(v) == 2147483647.0 || v == -2147483648.0 || Math.abs(v) == 0x1p63) {
                                outcomes.merge("cast saturated", 1, Integer::sum);
                                break;
                            }
                        }
                    }
                    continue;
                }
                if (s.op() != FuzzOp.AS_STRIDED && !hugeArgument(s)) continue;
                if (run == null) run = Interpreter.run(p, cpu);
                Outcome o = run.outcomes().get(s.out());
                String kind = o == null ? "skipped" : o.ok() ? "legal" : o.error().substring(0, o.error().indexOf(':'));
                outcomes.merge(s.op().apiName() + " " + kind, 1, Integer::sum);
            }
        }
        System.out.println("overflow-prone steps in 3000 programs: " + outcomes);
        for (String expected : new String[]{"as_strided legal", "as_strided IndexOutOfBoundsException",
                "as_strided ShapeMismatchException", "as_strided IllegalArgumentException",
                "narrow IndexOutOfBoundsException", "select IndexOutOfBoundsException",
                "expand ShapeMismatchException", "reshape ShapeMismatchException", "slice legal", "cast saturated"}) {
            assertTrue(outcomes.getOrDefault(expected, 0) > 0, "no '" + expected + "' in " + outcomes);
        }
    }

    private static boolean hugeArgument(FuzzStep s) {
        if (s.op().kind() != FuzzOp.Kind.VIEW) return false;
        for (long a : s.args()) if (Math.abs((double) a) >= 1L << 31) return true;
        return false;
    }

    @Test
    void eagerAndBatchedCpuAgreeOnEveryProgram() {
        CpuBackend eager = CpuBackend.eager(), batched = CpuBackend.batched(256, Duration.ofSeconds(10));
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, eager), p -> Interpreter.run(p, batched));
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(20_001, 400, Duration.ofMinutes(5), 0,
                line -> log.append(line).append('\n'));
        assertEquals(0, report.mismatches(), log.toString());
    }
}
