package dev.gpuos.tensor.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.runtime.DeviceRuntime;
import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimulatedWorker;
import dev.gpuos.tensor.TensorScope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The time bound's cuts change nothing that is planned ({@link StableCuts}), on the GPU backend's whole host path
 * over the simulated device: {@link CutProgram} recorded with a 20 us time bound and random pauses of up to 60 us
 * between ops, so the bound expires at a different place in every run. Every run must plan the same tasks, in the
 * same order, as the program planned with no time bound at all, and no run after the first may register (compile)
 * an operator. With {@code -Dgpuos.plan.stableCuts=false} (the cut wherever the host is) this fails: tasks and
 * operators change from run to run.
 */
class StableCutsTest {
    private static final int RUNS = 12, LAYERS = 8;
    private static final long MAX_PAUSE_NANOS = 60_000;

    private final TreeMap<Long, String> seen = new TreeMap<>();

    private SimOp recorder(String name) {
        return (task, tile) -> {
            if (tile != 0) return;
            synchronized (seen) {
                seen.put(task.seq(), name);
            }
        };
    }

    @Test
    void aTimeBoundAnywhereInTheRecordingPlansTheSameTasksEveryRun() {
        try (GpuOS os = GpuOS.on(GpuOSOptions.defaults(), names -> new SimulatedWorkerDevice(
                DeviceRuntime.Config.defaults(), SimulatedWorker.Config.DEFAULT.withWorkers(2), 1L << 30, this::recorder,
                names))) {
            GpuBackend gpu = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofNanos(20_000), null);
            List<String> first = null;
            long compiled = -1, mostSubmissions = 0;
            for (int run = 0; run < RUNS; run++) {
                long submitted = gpu.stats().submissions();
                List<String> tasks = run(gpu, new CutProgram(run, MAX_PAUSE_NANOS));
                mostSubmissions = Math.max(mostSubmissions, gpu.stats().submissions() - submitted);
                List<String> names = gpu.operatorsCompiled();
                if (run == 0) {
                    first = tasks;
                    compiled = names.size();
                    continue;
                }
                assertEquals(compiled, names.size(), "run " + run + " compiled "
                        + names.subList((int) Math.min(compiled, names.size()), names.size()));
                assertEquals(first, tasks, "run " + run + ": the tasks planned");
            }
            // The time bound did cut the recordings (the sync is the program's only cut of its own).
            assertTrue(mostSubmissions >= 3, "submissions in a run, at most: " + mostSubmissions);

            // Planned with no time bound (the sync is the only cut): what every run planned.
            GpuBackend uncut = new GpuBackend(os, GpuBackend.DEFAULT_MAX_NODES, Duration.ofSeconds(30), null);
            long submitted = uncut.stats().submissions();
            assertEquals(first, run(uncut, new CutProgram(0, 0)), "tasks with no time bound");
            assertEquals(1, uncut.stats().submissions() - submitted);
        }
    }

    /** The operators of the tasks the device ran for one recording of the program, in order (joins left out). */
    private List<String> run(GpuBackend gpu, CutProgram program) {
        synchronized (seen) {
            seen.clear();
        }
        try (TensorScope s = TensorScope.open(gpu)) {
            program.record(s, LAYERS);
            gpu.sync();
        }
        List<String> out = new ArrayList<>();
        synchronized (seen) {
            for (String name : seen.values()) if (!name.equals(GpuReplay.Task.JOIN)) out.add(name);
            seen.clear();
        }
        return out;
    }
}
