package dev.gpuos.bench.workloads;

import java.util.List;

/**
 * A workload as raw tasks of one binary float32 operator ({@code out = a OP b} over {@code n} dense elements),
 * the form the raw-task and launch-per-op runs execute: the same operator source, the same tasks, once through
 * the GPUOS queue and once as one kernel launch each.
 *
 * @param operator  resource name of the operator source (add_f32, mul_f32)
 * @param n         elements per task
 * @param buffers   device buffers, in order; an input buffer holds the named input, a scratch buffer nothing
 * @param tasks     the tasks, in submission order
 * @param chained   task t waits for task t-1 (a dependent chain); otherwise all tasks are independent
 * @param rows      where each output row lies once the last task completed
 */
public record BinaryProgram(String operator, int n, List<Buffer> buffers, List<Task> tasks, boolean chained,
                            List<Operand> rows) {

    /** Elements per tile: one worker block (or one launched block) handles one tile. */
    public static final int TILE = 2048;

    /** {@code input} names the case input this buffer is loaded with, or is null for scratch. */
    public record Buffer(String name, long elements, String input) {}

    /** {@code n} elements starting at {@code element} of buffer {@code buffer}. */
    public record Operand(int buffer, long element) {
        long byteOffset() {
            return element * Float.BYTES;
        }
    }

    public record Task(Operand out, Operand a, Operand b) {}

    public int ntiles() {
        return Math.ceilDiv(n, TILE);
    }

    public int tileSize() {
        return Math.min(n, TILE);
    }
}
