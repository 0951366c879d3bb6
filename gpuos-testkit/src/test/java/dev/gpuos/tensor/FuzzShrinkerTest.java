package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.fuzz.DifferentialFuzzer;
import dev.gpuos.tensor.fuzz.FuzzOp;
import dev.gpuos.tensor.fuzz.FuzzStep;
import dev.gpuos.tensor.fuzz.Interpreter;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fuzzer finds a deliberately broken op and shrinks the program to a short reproducer that names it. */
class FuzzShrinkerTest {

    @Test
    void aBrokenOpIsFoundAndShrunkToAShortReproducer() {
        CpuBackend cpu = CpuBackend.eager();
        FaultInjectingBackend broken = new FaultInjectingBackend(ElementwiseOp.SIN, ElementwiseOp.COS);
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, broken));
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(1, 400, Duration.ofMinutes(5), 0, l -> log.append(l).append('\n'));
        assertTrue(report.mismatches() > 0, "sin computed as cos went unnoticed in " + report.programs() + " programs");
        assertFalse(report.failures().isEmpty());
        for (DifferentialFuzzer.Failure f : report.failures()) {
            String text = f.reproducer();
            System.out.println(text);
            assertEquals(FuzzOp.SIN, f.mismatch().step().op(), text);
            assertTrue(text.contains(".sin()"), text);
            assertTrue(text.contains("seed " + f.seed()), text);
            long lines = text.lines().filter(l -> l.startsWith("  t")).count();
            assertTrue(lines <= 3, "expected at most an input, maybe a view, and the sin:\n" + text);
        }
    }

    @Test
    void shrinkingKeepsTheFailingStepAndDropsIndependentOnes() {
        CpuBackend cpu = CpuBackend.eager();
        FaultInjectingBackend broken = new FaultInjectingBackend(ElementwiseOp.EXP, ElementwiseOp.SIN);
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, broken));
        DifferentialFuzzer.Report report = fuzzer.run(1, 400, Duration.ofMinutes(5), 0, l -> {});
        DifferentialFuzzer.Failure f = report.failures().getFirst();
        FuzzStep culprit = f.mismatch().step();
        assertEquals(FuzzOp.EXP, culprit.op());
        assertTrue(f.reproducer().contains(".exp()"), f.reproducer());
    }

    @Test
    void inRoundsAMismatchIsRunAloneAndShrunk() {
        CpuBackend cpu = CpuBackend.eager();
        FaultInjectingBackend broken = new FaultInjectingBackend(ElementwiseOp.SIN, ElementwiseOp.COS);
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, broken),
                ps -> Interpreter.runRound(ps, broken), 16);
        DifferentialFuzzer.Report report = fuzzer.run(1, 400, Duration.ofMinutes(5), 0, l -> {});
        assertTrue(report.mismatches() > 0, "sin computed as cos went unnoticed in rounds");
        assertEquals(0, report.roundOnly(), "a broken op fails alone too");
        for (DifferentialFuzzer.Failure f : report.failures()) {
            assertEquals(FuzzOp.SIN, f.mismatch().step().op(), f.reproducer());
            assertTrue(f.reproducer().contains(".sin()"), f.reproducer());
        }
    }

    @Test
    void roundsOnTheBatchedBackendAgreeWithTheEagerOne() {
        CpuBackend cpu = CpuBackend.eager();
        CpuBackend batched = CpuBackend.batched(1 << 16, Duration.ofSeconds(30));
        DifferentialFuzzer fuzzer = new DifferentialFuzzer(p -> Interpreter.run(p, cpu), p -> Interpreter.run(p, batched),
                ps -> Interpreter.runRound(ps, batched), 16);
        StringBuilder log = new StringBuilder();
        DifferentialFuzzer.Report report = fuzzer.run(5_000, 480, Duration.ofMinutes(5), 0, l -> log.append(l).append('\n'));
        assertEquals(480, report.programs());
        assertEquals(0, report.mismatches(), log.toString());
    }
}
