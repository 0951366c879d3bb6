package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.fuzz.FuzzProgram;
import dev.gpuos.tensor.fuzz.Interpreter;
import dev.gpuos.tensor.fuzz.ProgramGenerator;
import dev.gpuos.testkit.NodeRecorder;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The differential fuzzer generates the forms the GPU backend fuses past single ops (issue 12): the nodes of
 * its programs, planned as the GPU backend plans a submission ({@link TaskPlan}), contain row-fused tasks (a norm
 * or softmax with its prologue and epilogue) and elementwise tasks past 4 operands (an operand table), so the
 * fuzzer's native tier runs them against the CPU backend (the CI's FuzzSliceTest runs the same programs on the
 * CPU backends against the reference).
 */
class FuzzFusionPlanTest {

    @Test
    void fuzzProgramsContainRowFusedAndOperandTableTasks() {
        ProgramGenerator generator = new ProgramGenerator();
        int programs = 0, rowFused = 0, withPrologueAndEpilogue = 0, tables = 0;
        for (long seed = 3; seed < 800; seed += 4) {
            FuzzProgram p = generator.generate(seed);
            NodeRecorder rec = new NodeRecorder();
            Interpreter.run(p, rec);  // records every node; its reads fail on the recorder, which holds no data
            programs++;
            boolean row = false, both = false, table = false;
            for (TaskPlan.Item item : TaskPlan.of(rec.nodes(), Intermediates.NONE, true)) {
                switch (item) {
                    case TaskPlan.Row r -> {
                        row = true;
                        both |= !r.fused().prologue.isEmpty() && !r.fused().epilogue.isEmpty();
                        table |= r.fused().refCount() > ElementwiseKernels.MAX_REFS;
                    }
                    case TaskPlan.Run r -> table |= ElementwiseKernels.operands(r.members(), Intermediates.NONE).size()
                            > ElementwiseKernels.MAX_REFS;
                    case TaskPlan.Single s -> { }
                }
            }
            rowFused += row ? 1 : 0;
            withPrologueAndEpilogue += both ? 1 : 0;
            tables += table ? 1 : 0;
        }
        String counts = programs + " motif programs: " + rowFused + " with a row-fused task, " + withPrologueAndEpilogue
                + " with prologue and epilogue, " + tables + " with an operand table";
        System.out.println("[fuzz fusion] " + counts);
        assertTrue(rowFused >= programs / 4, counts);
        assertTrue(withPrologueAndEpilogue >= programs / 16, counts);
        assertTrue(tables >= programs / 4, counts);
    }
}
