package dev.gpuos.tensor;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What a capture is on a backend that has nothing to plan ahead (the CPU backends): every {@link #run()} calls
 * the program again, so it computes exactly what the captured program computes on the GPU backend. The
 * outputs keep their identity across runs, as on the GPU: the first run's returned tensors are the outputs,
 * and each later run copies its results into them (the new results are dropped and reclaimed).
 */
final class RerunReplay implements Replay {
    private Supplier<? extends Collection<Tensor>> program;  // null once closed
    private final boolean returnsOutputs;
    private List<Tensor> outputs;
    private long runs;
    private boolean closed;

    RerunReplay(Supplier<? extends Collection<Tensor>> program, boolean returnsOutputs) {
        this.program = Objects.requireNonNull(program, "program");
        this.returnsOutputs = returnsOutputs;
        this.outputs = returnsOutputs ? null : List.of();
    }

    @Override
    public synchronized void run() {
        if (closed) throw new IllegalStateException("this replay was closed; capture the program again to run it");
        Collection<Tensor> returned = program.get();
        if (returnsOutputs) {
            if (returned == null) {
                throw new NullPointerException("the captured program returned null instead of its outputs (List.of() for none)");
            }
            List<Tensor> now = new ArrayList<>(returned.size());
            for (Tensor t : returned) now.add(Objects.requireNonNull(t, "an output of the captured program is null"));
            if (outputs == null) {
                outputs = List.copyOf(now);
            } else {
                if (now.size() != outputs.size()) {
                    throw new IllegalStateException("the captured program returned " + now.size() + " tensors, its first"
                            + " run " + outputs.size());
                }
                for (int i = 0; i < now.size(); i++) if (now.get(i) != outputs.get(i)) outputs.get(i).copyFrom(now.get(i));
            }
        }
        runs++;
    }

    /** @throws IllegalStateException before the first run: a rerun capture knows its outputs only by running */
    @Override
    public synchronized List<Tensor> outputs() {
        if (outputs == null) {
            throw new IllegalStateException("a capture on a CPU backend runs the program only in run(): call run() before"
                    + " outputs()");
        }
        return outputs;
    }

    @Override
    public synchronized long runs() { return runs; }

    @Override
    public synchronized void close() {
        closed = true;
        program = null;  // what the program's lambda holds may be reclaimed now
    }
}
