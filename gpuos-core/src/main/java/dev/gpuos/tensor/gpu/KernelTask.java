package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.TaskBatch;
import dev.gpuos.tensor.op.OpNode;

import java.util.List;

/**
 * What one GpuOS task runs: an operator (its structure: the same operator serves every shape), how it is
 * tiled, its operands and scalar arguments, and the op nodes it carries out.
 *
 * @param operator  the operator's structure: its key looks the operator up, its source is rendered only for a
 *                  native compile
 * @param args   raw 64-bit argument words (long or double bits), at most 6
 * @param nodes  the nodes whose effects this task has: their reads and writes give its dependencies
 * @param smemBytes dynamic shared memory the operator uses through {@code env->smem} (0: none); the worker
 *                  offers at least {@link GpuBackend#MIN_SMEM_BYTES}, a kernel of its own needs exactly this
 */
record KernelTask(OperatorStructure operator, int ntiles, int tileSize, List<GpuView> refs, long[] args,
                  List<OpNode> nodes, int smemBytes) {

    /** An operator that uses no shared memory. */
    KernelTask(OperatorStructure operator, int ntiles, int tileSize, List<GpuView> refs, long[] args, List<OpNode> nodes) {
        this(operator, ntiles, tileSize, refs, args, nodes, 0);
    }

    KernelTask {
        if (!(refs instanceof ElementwiseOperands)) refs = List.copyOf(refs);  // that one is immutable already
        args = args.length == 0 ? args : args.clone();  // an empty array is immutable
        nodes = List.copyOf(nodes);
        if (smemBytes < 0 || smemBytes > GpuBackend.MIN_SMEM_BYTES) {
            throw new IllegalArgumentException(operator.name() + ": " + smemBytes + " bytes of shared memory; the worker offers "
                    + GpuBackend.MIN_SMEM_BYTES);
        }
        if (refs.size() > ElementwiseKernels.MAX_TABLE_REFS || args.length > 6) {
            throw new IllegalArgumentException(operator.name() + ": " + refs.size() + " operands and " + args.length
                    + " args exceed a task's " + ElementwiseKernels.MAX_TABLE_REFS + " operands and 6 args");
        }
    }

    /** The operator's readable name. */
    String name() {
        return operator.name();
    }

    /** The operator's whole CUDA source (without the runtime header, which the JIT adds); renders it if needed. */
    String source() {
        return operator.source();
    }

    /** Writes the operands (at most 4: inline) and args into the descriptor. */
    void writeOperands(TaskBatch.TaskWriter w) {
        if (OperandTables.wide(this)) {
            throw new IllegalStateException(operator.name() + ": " + refs.size() + " operands need an operand table");
        }
        writeOperands(w, null);
    }

    /**
     * Writes operands and args into the descriptor: up to 4 operands inline, more through {@code tables} (which
     * must then be the batch's tables, see {@link OperandTables}).
     */
    void writeOperands(TaskBatch.TaskWriter w, OperandTables tables) {
        if (OperandTables.wide(this)) tables.write(this, w);
        else if (refs instanceof ElementwiseOperands e) e.write(w);
        else for (int i = 0; i < refs.size(); i++) refs.get(i).write(w, i);
        for (int i = 0; i < args.length; i++) w.arg(i, args[i]);
    }
}
