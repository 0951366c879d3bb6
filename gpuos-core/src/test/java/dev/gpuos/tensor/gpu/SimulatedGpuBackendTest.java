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
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The GPU backend's whole host path (recording, planning, encoding, submission) on the simulated device, whose
 * operators record each task's descriptor instead of computing. The descriptors cannot tell which operand a task
 * writes, so the dependencies are checked against those of a reviewed version of the planner (the resource
 * {@code planner-deps.txt}, which HEAD's planner produced and the GPU tests checked with values): every pair of
 * tasks that touch overlapping bytes and were ordered then must be ordered now (the same tasks, by operator name,
 * in the same order). Regenerate it with {@code -Dgpuos.test.regenerate=DIR} after a reviewed change to fusion.
 * The worker is held until everything is submitted, so no hazard may be skipped as already complete (a first
 * run of the same program registers its operators: a registration parks the worker, which must drain).
 */
class SimulatedGpuBackendTest {
    /** One task as the device saw it: its seq, the seqs it waited for, and its operands' byte ranges. */
    record Seen(long seq, String name, long[] deps, long[] from, long[] to) {}

    private final TreeMap<Long, Seen> seen = new TreeMap<>();
    private final WorkerHold hold = new WorkerHold();

    private SimOp recorder(String name) {
        return (task, tile) -> record(name, task, tile);
    }

    private void record(String name, dev.gpuos.runtime.sim.SimTask task, int tile) {
        hold.awaitRelease();
        if (tile != 0) return;
        long[] deps = new long[task.ndeps()];
        for (int i = 0; i < deps.length; i++) deps[i] = task.dep(i);
        int n = task.nrefs();
        long[] from = new long[n], to = new long[n];
        for (int i = 0; i < n; i++) {
            long extent = 1;  // elements spanned: 1 + sum (size - 1) * |stride|
            for (int d = 0; d < task.refNdim(i); d++) extent += (task.refSize(i, d) - 1L) * Math.abs(task.refStride(i, d));
            from[i] = task.refData(i);
            to[i] = from[i] + (task.refNumel(i) == 0 ? 0 : extent * task.refDtype(i).byteSize);
        }
        synchronized (seen) {
            seen.put(task.seq(), new Seen(task.seq(), name, deps, from, to));
        }
    }

    private GpuOS start() {
        return GpuOS.on(GpuOSOptions.defaults(), names -> new SimulatedWorkerDevice(DeviceRuntime.Config.defaults(),
                SimulatedWorker.Config.DEFAULT.withWorkers(2), 1L << 30, this::recorder, names));
    }

    @Test
    void dependenciesOrderEveryConflictingPairAcrossSubmissions() {
        try (GpuOS os = start()) {
            GpuBackend gpu = new GpuBackend(os, 16, Duration.ofSeconds(30), null);
            runProgram(os, gpu);  // registers the operators
            synchronized (seen) {
                seen.clear();
            }
            hold.set(true);
            try {
                runProgram(os, gpu);
            } finally {
                hold.set(false);
            }
            checkOrdered();
        }
    }

    private void runProgram(GpuOS os, GpuBackend gpu) {
        List<Tensor> keep = new ArrayList<>();  // nothing becomes unreachable: no block is reused mid-program
        long submissions = gpu.stats().submissions();
        try (TensorScope scope = TensorScope.open(gpu)) {
            Tensor[] pool = new Tensor[6];
            for (int i = 0; i < pool.length; i++) keep.add(pool[i] = scope.full(i, DType.F32, 256));
            Random rnd = new Random(12);
            for (int step = 0; step < 400; step++) {
                int i = rnd.nextInt(pool.length), j = rnd.nextInt(pool.length), k = rnd.nextInt(pool.length);
                Tensor r = switch (rnd.nextInt(6)) {
                    case 0 -> pool[i].add(pool[j]);
                    case 1 -> pool[i].mul(pool[j]).relu();
                    case 2 -> pool[k].copyFrom(pool[i].sub(1.0));
                    case 3 -> {
                        pool[k].narrow(0, 64, 128).copyFrom(pool[j].narrow(0, 0, 128).mul(2.0));
                        yield pool[k];
                    }
                    case 4 -> pool[i].sum(new int[]{0}, true).expand(256).add(pool[j]);
                    default -> pool[i].reshape(16, 16).transpose(0, 1).contiguous().reshape(256);
                };
                keep.add(r);
                pool[k] = r;
                if (rnd.nextInt(50) == 0) gpu.flush();
            }
            gpu.flush();
            long submitted = os.queue().submitted();
            assertTrue(gpu.stats().submissions() - submissions > 20, "a submission every 16 nodes: " + gpu.stats());
            hold.set(false);
            gpu.sync();
            assertEquals(submitted, os.queue().completed());
            // The names a compile-bound run reports are the operators counted, each registered once.
            List<String> compiled = gpu.operatorsCompiled();
            assertEquals(gpu.stats().operatorsCompiled(), compiled.size());
            assertEquals(compiled.size(), new java.util.HashSet<>(compiled).size(), compiled.toString());
        }
    }

    /**
     * Each op its own submission, nothing complete: reads wait for the last writer, writes for the last writer
     * and every reader since, and nothing else (the hazards on buffers x, y, a, b, one task per op).
     */
    @Test
    void hazardsAcrossSubmissionsAreExactlyTheLastWriterAndTheReadersSince() {
        try (GpuOS os = start()) {
            GpuBackend gpu = new GpuBackend(os, 1024, Duration.ofSeconds(30), null);
            try (TensorScope scope = TensorScope.open(gpu)) {
                Tensor x = scope.full(1, DType.F32, 4), y = scope.full(2, DType.F32, 4);
                gpu.sync();
                for (int warm = 0; warm < 2; warm++) {  // the first round registers the operators
                    synchronized (seen) {
                        seen.clear();
                    }
                    hold.set(warm == 1);
                    try {
                        Tensor a = x.add(y);                   // 0: reads x y, writes a
                        gpu.flush();
                        Tensor b = a.neg();                    // 1: RAW a (0)
                        gpu.flush();
                        x.copyFrom(y);                         // 2: WAR x (0)
                        gpu.flush();
                        a.reshape(2, 2).copyFrom(b.reshape(2, 2));  // 3: WAW a (0), WAR a (1), RAW b (1)
                        gpu.flush();
                        y.copyFrom(x);                         // 4: RAW x (2), WAR y (0, 2)
                        gpu.flush();
                    } finally {
                        hold.set(false);
                    }
                    gpu.sync();
                }
            }
        }
        List<Seen> tasks = new ArrayList<>(seen.values());
        assertEquals(5, tasks.size(), "one task per op");
        long base = tasks.getFirst().seq();
        List<java.util.Set<Long>> deps = tasks.stream()
                .map(t -> java.util.Arrays.stream(shifted(t.deps(), base)).boxed().collect(java.util.stream.Collectors.toSet()))
                .toList();
        assertEquals(List.of(java.util.Set.of(), java.util.Set.of(0L), java.util.Set.of(0L), java.util.Set.of(0L, 1L),
                java.util.Set.of(0L, 2L)), deps);
    }

    @Test
    void replaysRunTheirCapturedTasks() {
        try (GpuOS os = start()) {
            GpuBackend gpu = new GpuBackend(os);
            try (TensorScope scope = TensorScope.open(gpu)) {
                Tensor x = scope.full(1, DType.F32, 1024), b = scope.full(2, DType.F32, 1024);
                GpuReplay step = gpu.captureReturning(() -> List.of(x.mul(3.0).add(b).relu()));
                long before = os.queue().submitted();
                step.run();
                step.run();
                gpu.sync();
                assertEquals(2 * step.tasks().size(), os.queue().submitted() - before);
                assertEquals(1, step.tasks().size(), "mul, add and relu fuse into one task: " + step.tasks());
            }
        }
    }

    /** Every pair (earlier, later) touching overlapping bytes that the reviewed planner ordered is ordered. */
    private void checkOrdered() {
        List<Seen> tasks = new ArrayList<>(seen.values());
        long base = tasks.getFirst().seq();
        assertEquals(tasks.size(), tasks.getLast().seq() - base + 1, "every task ran once");
        String regenerate = System.getProperty("gpuos.test.regenerate");
        if (regenerate != null) {
            StringBuilder out = new StringBuilder();
            for (Seen t : tasks) {
                out.append(t.name());
                for (long d : t.deps()) out.append(' ').append(d - base);
                out.append('\n');
            }
            try {
                java.nio.file.Files.writeString(java.nio.file.Path.of(regenerate, "planner-deps.txt"), out);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        List<String> golden = golden();
        // Join tasks (a task waits for at most 6 others) depend on how many dependencies there are: not compared.
        int[] nowAt = nonJoin(tasks.stream().map(Seen::name).toList());
        int[] thenAt = nonJoin(golden.stream().map(l -> l.split(" ")[0]).toList());
        assertEquals(thenAt.length, nowAt.length, "the same tasks as the reviewed planner's");
        BitSet[] now = closure(tasks, base, null), then = closure(tasks, base, golden);
        int conflicts = 0, extra = 0;
        for (int k = 0; k < nowAt.length; k++) {
            Seen t = tasks.get(nowAt[k]);
            assertEquals(golden.get(thenAt[k]).split(" ")[0], t.name(), "task " + k + " runs the reviewed planner's operator");
            for (int m = 0; m < k; m++) {
                Seen earlier = tasks.get(nowAt[m]);
                if (!overlap(earlier, t)) continue;
                if (then[thenAt[k]].get(thenAt[m])) {
                    conflicts++;
                    assertTrue(now[nowAt[k]].get(nowAt[m]), "task " + t.seq() + " touches bytes that task "
                            + earlier.seq() + " touches too, the reviewed planner ordered them, and it does not wait"
                            + " for it: " + describe(earlier) + " / " + describe(t));
                } else if (now[nowAt[k]].get(nowAt[m])) {
                    extra++;
                }
            }
        }
        assertTrue(conflicts > 200, "the program has hazards to check: " + conflicts);
        assertTrue(extra <= conflicts / 10, extra + " orderings the reviewed planner did not need");
    }

    private static int[] nonJoin(List<String> names) {
        return java.util.stream.IntStream.range(0, names.size()).filter(i -> !names.get(i).startsWith("join_")).toArray();
    }

    /** Which earlier tasks each task waits for, transitively (the deps seen, or the golden ones). */
    private static BitSet[] closure(List<Seen> tasks, long base, List<String> golden) {
        int n = golden == null ? tasks.size() : golden.size();
        BitSet[] before = new BitSet[n];
        for (int j = 0; j < n; j++) {
            before[j] = new BitSet(j);
            long[] deps = golden == null ? shifted(tasks.get(j).deps(), base)
                    : java.util.Arrays.stream(golden.get(j).split(" ")).skip(1).mapToLong(Long::parseLong).toArray();
            for (long d : deps) {
                if (d < 0) continue;  // a task of the warm-up run, complete before the hold
                assertTrue(d < j, "task " + j + " waits for a later task " + d);
                before[j].set((int) d);
                before[j].or(before[(int) d]);
            }
        }
        return before;
    }

    private static long[] shifted(long[] deps, long base) {
        long[] out = new long[deps.length];
        for (int i = 0; i < deps.length; i++) out[i] = deps[i] - base;
        return out;
    }

    private static List<String> golden() {
        try (var in = SimulatedGpuBackendTest.class.getResourceAsStream("planner-deps.txt")) {
            assertTrue(in != null, "planner-deps.txt is missing");
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String describe(Seen t) {
        StringBuilder s = new StringBuilder(t.name() + " seq " + t.seq() + " deps " + java.util.Arrays.toString(t.deps()) + " refs");
        for (int i = 0; i < t.from().length; i++) s.append(String.format(" [%x, %x)", t.from()[i], t.to()[i]));
        return s.toString();
    }

    private static boolean overlap(Seen a, Seen b) {
        for (int x = 0; x < a.from().length; x++) {
            for (int y = 0; y < b.from().length; y++) {
                if (a.from()[x] < b.to()[y] && b.from()[y] < a.to()[x]) return true;
            }
        }
        return false;
    }
}
