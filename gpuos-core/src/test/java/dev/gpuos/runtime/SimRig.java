package dev.gpuos.runtime;

import dev.gpuos.runtime.sim.SimOp;
import dev.gpuos.runtime.sim.SimTask;
import dev.gpuos.runtime.sim.SimulatedDevice;
import dev.gpuos.runtime.sim.SimulatedWorker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A simulated device with a running worker, a {@link TaskQueue} on it, and three checkable operators on
 * i64 buffers. Every tile records when it started and finished on one global clock, so a test can prove that
 * no task started before each of its dependencies finished, and that every tile ran exactly once.
 */
final class SimRig implements AutoCloseable {
    static final int FILL = 0;   // out[j] = c1 + j * c2
    static final int ADD = 1;    // out[j] = a[j % na] + b[j % nb] + c1
    static final int SCALE = 2;  // out[j] = a[j % na] * c1 + c2

    final SimulatedDevice device;
    final TaskQueue queue;
    final List<SimOp> ops = new ArrayList<>();
    final AtomicLong clock = new AtomicLong();
    final AtomicLongArray start;
    final AtomicLongArray finish;
    final AtomicIntegerArray tilesRun;
    SimulatedWorker.Config config;

    SimRig(long capacity, long tileCapacity, int maxTasks, SimulatedWorker.Config config) {
        this.device = new SimulatedDevice(capacity, tileCapacity);
        this.config = config;
        this.start = new AtomicLongArray(maxTasks);
        this.finish = new AtomicLongArray(maxTasks);
        this.tilesRun = new AtomicIntegerArray(maxTasks);
        for (int i = 0; i < maxTasks; i++) {
            start.set(i, Long.MAX_VALUE);
        }
        ops.add(stamped((t, j) -> t.arg(1) + j * t.arg(2)));
        ops.add(stamped((t, j) -> load(t, 1, j % t.refNumel(1)) + load(t, 2, j % t.refNumel(2)) + t.arg(1)));
        ops.add(stamped((t, j) -> load(t, 1, j % t.refNumel(1)) * t.arg(1) + t.arg(2)));
        device.launch(ops, config);
        this.queue = new TaskQueue(device.hostRing(), capacity, device.control(), device.liveness(),
                slot -> "op" + slot);
    }

    interface Element {
        long at(SimTask task, long j);
    }

    static long load(SimTask task, int ref, long j) {
        return task.memory(ref).get(ValueLayout.JAVA_LONG, task.byteOffset(ref, j));
    }

    private SimOp stamped(Element element) {
        return (task, tile) -> {
            int id = (int) task.arg(0);
            start.accumulateAndGet(id, clock.incrementAndGet(), Math::min);
            long numel = task.refNumel(0);
            MemorySegment out = task.memory(0);
            for (long j = task.tileBegin(tile, numel); j < task.tileEnd(tile, numel); j++) {
                out.set(ValueLayout.JAVA_LONG, task.byteOffset(0, j), element.at(task, j));
            }
            tilesRun.incrementAndGet(id);
            finish.accumulateAndGet(id, clock.incrementAndGet(), Math::max);
        };
    }

    /** Generation swap with the same operators plus one more (slots never move, as with the alias table). */
    SimulatedWorker swap() {
        ops.add((task, tile) -> {});
        return device.relaunch(ops, config);
    }

    @Override
    public void close() {
        queue.close();
        device.close();
    }
}
