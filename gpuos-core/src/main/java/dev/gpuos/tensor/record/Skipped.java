package dev.gpuos.tensor.record;

import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.TensorClosedException;
import dev.gpuos.tensor.op.OpNode;
import dev.gpuos.tensor.op.UploadNode;

/**
 * Recorded nodes that cannot run when their submission is built, for every batching backend: a node touching a
 * buffer released meanwhile (a tensor closed by another thread after the op passed its open check), reading
 * one whose contents were never computed, or an upload whose caller's segment was closed. Such a node is skipped and what it writes is marked never computed,
 * with the reason: reading that tensor (or computing from it) then throws, while the rest of the submission,
 * other threads' ops included, runs.
 */
public final class Skipped {
    private Skipped() {}

    /** Why {@code node} cannot run now, or null if it can. */
    public static RuntimeException why(OpNode node) {
        if (node instanceof UploadNode u && !u.hostData().scope().isAlive()) {
            return u.dataClosed();   // the caller's segment: only what the upload writes fails, not its submission
        }
        if (node.output().storage().isReleased()) {  // what every node writes (OpNode.writes)
            return new TensorClosedException(node.opName() + " wrote a tensor whose buffer was released (its scope "
                    + "closed) before the op ran");
        }
        for (int i = 0, n = node.readCount(); i < n; i++) {
            Storage s = node.read(i);
            if (s.isReleased()) {
                return new TensorClosedException(node.opName() + " read a tensor whose buffer was released (its scope "
                        + "closed) before the op ran");
            }
            RuntimeException f = s.neverComputed();
            if (f != null) return notComputed(f);
        }
        return null;
    }

    /** Skips {@code node}: what it writes is marked never computed, because of {@code why}. */
    public static void skip(OpNode node, RuntimeException why) {
        for (Storage s : node.writes()) s.markNeverComputed(why);
    }

    /** Skips {@code node} if it cannot run; true if it was skipped. */
    public static boolean skipIfUnrunnable(OpNode node) {
        RuntimeException why = why(node);
        if (why == null) return false;
        skip(node, why);
        return true;
    }

    /** Throws if a recorded op that should have written {@code storage} could not run. */
    public static void checkComputed(Storage storage) {
        RuntimeException f = storage.neverComputed();
        if (f != null) throw notComputed(f);
    }

    /** A tensor never computed because a scope closed under it is a closed tensor: TensorClosedException. */
    private static IllegalStateException notComputed(RuntimeException cause) {
        String prefix = "this tensor's data was never computed: ", why = String.valueOf(cause.getMessage());
        String message = why.startsWith(prefix) ? why : prefix + why;   // passed on from a tensor it was computed from
        if (cause instanceof TensorClosedException) {
            TensorClosedException e = new TensorClosedException(message);
            e.initCause(cause);
            return e;
        }
        return new IllegalStateException(message, cause);
    }
}
