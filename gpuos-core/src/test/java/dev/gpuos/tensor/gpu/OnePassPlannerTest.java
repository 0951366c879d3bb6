package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedWorker;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The streamed planner's single pass ({@code BatchPlanner.Encoder}) against the task-list planner that captures
 * and the interpreter tier use: one random program (independent and connected elementwise runs, runs past 4
 * operands through operand tables, row ops with prologue and epilogue, reductions, products, views, in-place
 * writes, flushes at random points) runs on a fresh simulated GpuOS under each, and the device must see the same
 * tasks: the same operators in the same order, the same dependencies, the same operands (sizes, strides,
 * dtypes, and which bytes of which buffer). The worker is held while the program is submitted, so no dependency
 * is dropped as already complete (a first run registers the operators: a registration parks the worker).
 */
class OnePassPlannerTest {
    /** One task as the device saw it; {@code refs}: per operand its dtype, sizes and strides, and buffer bytes. */
    record Seen(String name, long[] deps, String refs) {
        @Override
        public String toString() {
            return name + " deps " + Arrays.toString(deps) + " refs " + refs;
        }
    }

    private final TreeMap<Long, Seen> seen = new TreeMap<>();
    private final WorkerHold hold = new WorkerHold();
    /** The lowest operand address seen: addresses are compared as offsets from it (each run has its own device). */
    private long lowest = Long.MAX_VALUE;

    private SimOp recorder(String name) {
        return (task, tile) -> {
            hold.awaitRelease();
            if (tile != 0) return;
            long[] deps = new long[task.ndeps()];
            for (int i = 0; i < deps.length; i++) deps[i] = task.dep(i);
            StringBuilder refs = new StringBuilder();
            for (int i = 0; i < task.nrefs(); i++) {
                refs.append(task.refDtype(i)).append(" n").append(task.refNumel(i)).append(" [");
                for (int d = 0; d < task.refNdim(i); d++) {
                    refs.append(task.refSize(i, d)).append(':').append(task.refStride(i, d)).append(' ');
                }
                refs.append("] @").append(task.refData(i)).append("; ");
            }
            synchronized (seen) {
                for (int i = 0; i < task.nrefs(); i++) lowest = Math.min(lowest, task.refData(i));
                seen.put(task.seq(), new Seen(name, deps, refs.toString()));
            }
        };
    }

    @Test
    void theSinglePassWritesTheTaskListPlannersTasks() {
        List<Seen> onePass = run(true), listed = run(false);
        assertTrue(onePass.size() > 200, "tasks seen: " + onePass.size());
        for (int i = 0; i < Math.min(onePass.size(), listed.size()); i++) {
            Seen a = onePass.get(i), b = listed.get(i);
            String where = "task " + i + ": " + a + " vs " + b;
            assertEquals(b.name(), a.name(), where);
            assertEquals(Arrays.toString(b.deps()), Arrays.toString(a.deps()), where);
            assertEquals(b.refs(), a.refs(), where);
        }
        assertEquals(listed.size(), onePass.size(), "tasks");
        assertTrue(onePass.stream().anyMatch(s -> s.refs().startsWith("U8")), "a run went through an operand table");
    }

    /** The tasks the device saw for the held run of the program, deps as offsets from its first seq. */
    private List<Seen> run(boolean onePass) {
        synchronized (seen) {
            seen.clear();
            lowest = Long.MAX_VALUE;
        }
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), names -> new SimulatedWorkerDevice(
                DeviceRuntime.Config.defaults(), SimulatedWorker.Config.DEFAULT.withWorkers(2), 1L << 30, this::recorder,
                names))) {
            GpuBackend gpu = new GpuBackend(os, 24, Duration.ofSeconds(30), null);
            gpu.planner().onePass = onePass;
            program(gpu);  // registers the operators
            gpu.sync();
            long first = os.queue().submitted();
            synchronized (seen) {
                seen.clear();
                lowest = Long.MAX_VALUE;
            }
            hold.set(true);
            try {
                program(gpu);
                gpu.flush();
            } finally {
                hold.set(false);
            }
            gpu.sync();
            List<Seen> out = new ArrayList<>();
            synchronized (seen) {
                for (Seen s : seen.values()) {
                    long[] deps = s.deps().clone();
                    for (int i = 0; i < deps.length; i++) deps[i] -= first;
                    out.add(new Seen(s.name(), deps, relative(s.refs())));
                }
            }
            return out;
        }
    }

    /** The operand addresses of {@code refs} as offsets from the lowest address of the run. */
    private String relative(String refs) {
        var m = java.util.regex.Pattern.compile("@(\\d+)").matcher(refs);
        return m.replaceAll(r -> "@" + (Long.parseLong(r.group(1)) - lowest));
    }

    private void program(GpuBackend gpu) {
        try (TensorScope scope = TensorScope.open(gpu)) {
            List<Tensor> keep = new ArrayList<>();  // nothing becomes unreachable: no block is reused mid-program
            Tensor[] pool = new Tensor[8];
            for (int i = 0; i < pool.length; i++) keep.add(pool[i] = scope.full(i * 0.5, DType.F32, 16, 32));
            Tensor w = scope.full(0.25, DType.F32, 32, 32), g = scope.full(1.0, DType.F32, 32);
            keep.add(w);
            keep.add(g);
            Random rnd = new Random(7);
            for (int step = 0; step < 300; step++) {
                int i = rnd.nextInt(pool.length), j = rnd.nextInt(pool.length), k = rnd.nextInt(pool.length);
                Tensor r = switch (rnd.nextInt(10)) {
                    case 0 -> pool[i].add(pool[j]);
                    case 1 -> pool[i].mul(pool[j]).relu().sub(1.0);
                    case 2 -> pool[k].copyFrom(pool[i].sub(2.0));
                    case 3 -> {
                        pool[k].narrow(0, 4, 8).copyFrom(pool[j].narrow(0, 0, 8).mul(2.0));
                        yield pool[k];
                    }
                    case 4 -> pool[i].sum(new int[]{1}, true).expand(16, 32).add(pool[j]);
                    // Connected members reading 6 buffers: one task through an operand table.
                    case 5 -> pool[0].mul(pool[1]).add(pool[2].mul(pool[3])).add(pool[4].mul(pool[5])).tanh();
                    case 6 -> pool[i].add(pool[j]).softmax(-1).mul(3.0);
                    case 7 -> pool[i].add(pool[j]).rmsNorm(new long[]{32}, g, 1e-5).matmul(w);
                    case 8 -> pool[i].transpose(0, 1).contiguous().transpose(0, 1).add(pool[j]);
                    default -> pool[i].select(0, rnd.nextInt(16)).expand(16, 32).mul(pool[j]).sigmoid();
                };
                keep.add(r);
                pool[k] = r;
                if (rnd.nextInt(40) == 0) gpu.flush();
            }
        }
    }
}
