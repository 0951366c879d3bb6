package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.fusion.FusionGroup;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.testkit.NodeRecorder;
import dev.gpuos.testkit.NodeRecorder.Captured;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How a captured program that returns its outputs is cut into tasks, without a GPU: the recorded nodes of real
 * tensor-API programs (W5's dependent chain, W2's mixed iteration) planned with the 4-inline-operand cut
 * ({@link ElementwiseFusion}, then {@link ElementwiseKernels#runs} with {@link Intermediates}: what the interpreter
 * tier's path plans; the native planner also widens connected runs into operand tables, see RowFusionPlanTest), and
 * the operands each task gets. The buffers a capture treats as internal are, as in
 * {@link GpuBackend#captureReturning}, those allocated while the program records, less the returned ones.
 */
class CapturedIntermediatesTest {

    /** A tensor as a task operand: its buffer and layout (ops may hand out new Tensor objects for one view). */
    record View(Storage storage, dev.gpuos.tensor.Layout layout) {}

    static List<View> views(List<Tensor> tensors) {
        return tensors.stream().map(t -> new View(t.storage(), t.layout())).toList();
    }

    /** The planned tasks: elementwise runs (as member lists) and other nodes, in order, as BatchPlanner.tasksOf. */
    record Plan(List<List<ElementwiseNode>> runs, int otherTasks, Intermediates intermediates) {
        int tasks() {
            return runs.size() + otherTasks;
        }
    }

    static Plan plan(List<OpNode> work, Intermediates intermediates) {
        List<List<ElementwiseNode>> runs = new ArrayList<>();
        int other = 0;
        for (Object item : ElementwiseFusion.plan(work, intermediates.groupBound())) {
            if (item instanceof FusionGroup g) {
                List<List<ElementwiseNode>> cut = ElementwiseKernels.runs(g, intermediates);
                // The incremental cut agrees with analysing every trial run, and every run fits one task.
                assertEquals(ElementwiseKernels.runsByTrial(g, intermediates), cut);
                for (List<ElementwiseNode> run : cut) {
                    assertTrue(ElementwiseKernels.operands(run, intermediates).size() <= ElementwiseKernels.MAX_REFS);
                }
                runs.addAll(cut);
            } else {
                other++;
            }
        }
        return new Plan(runs, other, intermediates);
    }

    static Plan planAllStored(Captured c) {
        return plan(c.work(), Intermediates.NONE);
    }

    static Plan planCaptured(Captured c) {
        return plan(c.work(), Intermediates.of(c.work(), c.internal()));
    }

    /** W5 (gpuos-bench DependentChain): {@code x = x.mul(c)} {@code steps} times. */
    static Captured dependentChain(NodeRecorder rec, TensorScope s, int n, int steps) {
        Tensor x0 = s.ones(DType.F32, n), c = s.ones(DType.F32, n);
        return rec.capture(() -> {
            Tensor x = x0;
            for (int i = 0; i < steps; i++) x = x.mul(c);
            return List.of(x);
        });
    }

    /** W2 (gpuos-bench MixedChain): per iteration k, {@code (relu((a_k + b_k) * c_k)).sigmoid() / d_k}. */
    static Captured mixedChain(NodeRecorder rec, TensorScope s, int n, int iterations) {
        Tensor a = s.ones(DType.F32, iterations, n), b = s.ones(DType.F32, iterations, n);
        Tensor c = s.ones(DType.F32, iterations, n), d = s.ones(DType.F32, iterations, n);
        return rec.capture(() -> {
            List<Tensor> rows = new ArrayList<>();
            for (int k = 0; k < iterations; k++) {
                Tensor x = a.select(0, k).add(b.select(0, k));
                Tensor y = x.mul(c.select(0, k));
                rows.add(y.relu().sigmoid().div(d.select(0, k)));
            }
            return rows;
        });
    }

    @Test
    void aCapturedDependentChainFillsTasksUpToTheGroupBound() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            int steps = 1000;
            Captured w5 = dependentChain(rec, s, 1024, steps);
            assertEquals(steps, w5.work().size());
            // Every output stored: x and c plus two outputs per task.
            assertEquals(steps / 2, planAllStored(w5).tasks());
            System.out.printf("W5 (%d steps): %d tasks with every intermediate stored, %d captured%n",
                    steps, planAllStored(w5).tasks(), planCaptured(w5).tasks());
            Plan plan = planCaptured(w5);
            int groups = (steps + ElementwiseFusion.MAX_GROUP - 1) / ElementwiseFusion.MAX_GROUP;
            assertEquals(groups, plan.tasks(), "one task per fusion group of " + ElementwiseFusion.MAX_GROUP);
            // Each task reads the chain so far and c, and stores only its last member's result.
            Tensor c = (Tensor) ((ElementwiseNode) w5.work().getFirst()).operands().get(1);
            Tensor previous = ((ElementwiseNode) w5.work().getFirst()).inputs().getFirst();
            for (List<ElementwiseNode> run : plan.runs()) {
                List<Tensor> operands = ElementwiseKernels.operands(run, plan.intermediates());
                assertEquals(views(List.of(previous, c, run.getLast().output())), views(operands));
                previous = run.getLast().output();
            }
            assertSame(w5.outputs().getFirst(), previous, "the returned tensor is the last task's stored output");
        }
    }

    @Test
    void aCapturedMixedIterationFusesIntoTwoTasks() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            int iterations = 1000;
            Captured w2 = mixedChain(rec, s, 64, iterations);
            Plan stored = planAllStored(w2), captured = planCaptured(w2);
            // Four row inputs and one output are five operands: no task can hold a whole iteration, and with
            // x, y and z in registers two always do (add..sigmoid with w stored, then div), across group bounds too.
            assertEquals(2 * iterations, captured.tasks());
            assertTrue(stored.tasks() >= 3 * iterations, "all stored: " + stored.tasks());
            System.out.printf("W2 (%d iterations): %d tasks with every intermediate stored, %d captured%n",
                    iterations, stored.tasks(), captured.tasks());
            // Stored exactly when returned or read by another task (w, and x/y/z where a group bound cuts an iteration).
            IdentityHashMap<Storage, Set<Integer>> readIn = new IdentityHashMap<>();
            for (int r = 0; r < captured.runs().size(); r++) {
                for (ElementwiseNode m : captured.runs().get(r)) {
                    for (Storage st : m.reads()) readIn.computeIfAbsent(st, k -> new java.util.HashSet<>()).add(r);
                }
            }
            Set<Storage> returned = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Tensor t : w2.outputs()) returned.add(t.storage());
            int storedOutputs = 0, registers = 0;
            for (int r = 0; r < captured.runs().size(); r++) {
                List<Tensor> operands = ElementwiseKernels.operands(captured.runs().get(r), captured.intermediates());
                for (ElementwiseNode m : captured.runs().get(r)) {
                    boolean isStored = operands.stream().anyMatch(t -> t == m.output());
                    Storage out = m.output().storage();
                    int task = r;
                    boolean readElsewhere = readIn.getOrDefault(out, Set.of()).stream().anyMatch(q -> q != task);
                    assertEquals(returned.contains(out) || readElsewhere, isStored, m.opName() + " in task " + r);
                    if (returned.contains(out)) storedOutputs++;
                    if (!isStored) registers++;
                }
            }
            assertTrue(registers >= 2 * iterations, "x, y, z mostly stay in registers: " + registers);
            assertEquals(iterations, storedOutputs);
        }
    }

    @Test
    void outsideTensorsAndBuffersReadByOtherTasksStayStored() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 4, 8), c = s.ones(DType.F32, 4, 8), outside = s.zeros(DType.F32, 4, 8);
            Tensor[] kept = new Tensor[3];
            Captured cap = rec.capture(() -> {
                kept[0] = x.mul(c);               // internal, read only inside its task
                outside.copyFrom(kept[0]);        // an outside tensor written in the capture
                kept[1] = kept[0].exp();          // internal, also read by a reduction (another task)
                Tensor total = kept[1].sum(new int[]{1}, false);
                kept[2] = kept[1].add(1.0);       // returned
                return List.of(kept[2], total);
            });
            Plan plan = planCaptured(cap);
            assertEquals(1, plan.otherTasks(), "the sum");
            List<Tensor> stored = new ArrayList<>();
            for (List<ElementwiseNode> run : plan.runs()) {
                List<Tensor> operands = ElementwiseKernels.operands(run, plan.intermediates());
                for (ElementwiseNode m : run) if (operands.stream().anyMatch(t -> t == m.output())) stored.add(m.output());
            }
            assertTrue(stored.contains(outside), "copyFrom's destination existed before the capture: " + stored);
            assertTrue(stored.contains(kept[1]), "exp's result is read by the sum task: " + stored);
            assertTrue(stored.contains(kept[2]), "the returned tensor: " + stored);
            assertFalse(stored.contains(kept[0]), "mul's result is read by members of its own task only: " + stored);
        }
    }

    @Test
    void aCaptureThatReturnsNothingStillStoresWhatItWritesOutside() {
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Tensor x = s.ones(DType.F32, 16), y = s.zeros(DType.F32, 16);
            Captured cap = rec.capture(() -> {
                y.copyFrom(x.mul(2.0).add(1.0));
                return List.of();
            });
            Plan plan = planCaptured(cap);
            assertEquals(1, plan.tasks());
            assertEquals(views(List.of(x, y)), views(ElementwiseKernels.operands(plan.runs().getFirst(), plan.intermediates())));
        }
    }

    @Test
    void aFullGroupOfRegisterIntermediatesCompiles() {
        Nvcc.assumeInstalled();
        NodeRecorder rec = new NodeRecorder();
        try (TensorScope s = TensorScope.open(rec)) {
            Plan w5 = planCaptured(dependentChain(rec, s, 1024, ElementwiseFusion.MAX_GROUP));
            assertEquals(1, w5.tasks());
            List<ElementwiseNode> chain = w5.runs().getFirst();
            assertEquals(ElementwiseFusion.MAX_GROUP, chain.size());
            String source = ElementwiseKernels.source(chain, w5.intermediates());
            // Every member is rendered twice (the pack loop and the one-at-a-time loop); all but the last stay in
            // registers in both, and only the last one is stored.
            assertEquals(2 * (ElementwiseFusion.MAX_GROUP - 1), source.split("\\(register\\)", -1).length - 1, source);
            assertEquals(1, source.split("store_pack<", -1).length - 1, "one stored member, packed: " + source);
            assertEquals(1, source.split("\\]\\] = s", -1).length - 1, "one stored member, one at a time: " + source);
            Nvcc.compileOperator("ew_chain64", source);
            Plan w2 = planCaptured(mixedChain(rec, s, 64, 2));
            List<String> sources = new ArrayList<>();
            for (List<ElementwiseNode> run : w2.runs()) sources.add(ElementwiseKernels.source(run, w2.intermediates()));
            Nvcc.compileMany(ElementwiseKernels.PREFIX, sources);
        }
    }
}
