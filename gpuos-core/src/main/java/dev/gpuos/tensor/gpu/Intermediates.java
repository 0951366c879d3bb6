package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.fusion.ElementwiseFusion;
import dev.gpuos.tensor.op.OpNode;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The buffers of a captured program that no one can read once the capture ends ({@link GpuBackend#captureReturning}):
 * created inside the program and not returned. For each, the span of work positions (the planner's node list)
 * whose nodes touch it. A fused task covering that whole span need not store what its members write there: every
 * reader is a later member of the same task, which takes the value from a register.
 *
 * <p>Everything else is stored: buffers that existed before the capture (inputs, and outside tensors written
 * in place or by copyFrom), returned ones, and internal ones touched by more than one task. Submissions that are
 * not captures use {@link #NONE}: a later op or read may still want any buffer.
 */
final class Intermediates {
    /** Nothing is internal: every member output is stored. */
    static final Intermediates NONE = new Intermediates(Map.of(), Map.of());

    private final Map<Storage, int[]> spans;      // internal buffer -> {first, last} work position touching it
    private final Map<OpNode, Integer> positions; // work position of every node (empty for NONE)

    private Intermediates(Map<Storage, int[]> spans, Map<OpNode, Integer> positions) {
        this.spans = spans;
        this.positions = positions;
    }

    /** The internal buffers of {@code work} among {@code internal}, with the span of nodes touching each. */
    static Intermediates of(List<OpNode> work, Set<Storage> internal) {
        if (internal.isEmpty()) return NONE;
        Map<Storage, int[]> spans = new IdentityHashMap<>();
        Map<OpNode, Integer> positions = new IdentityHashMap<>(work.size() * 2);
        for (int p = 0; p < work.size(); p++) {
            OpNode n = work.get(p);
            positions.put(n, p);
            for (Storage s : n.reads()) touch(spans, internal, s, p);
            for (Storage s : n.writes()) touch(spans, internal, s, p);
        }
        return new Intermediates(spans, positions);
    }

    private static void touch(Map<Storage, int[]> spans, Set<Storage> internal, Storage s, int p) {
        if (!internal.contains(s)) return;
        int[] span = spans.computeIfAbsent(s, k -> new int[]{p, p});
        span[1] = p;
    }

    boolean isEmpty() {
        return spans.isEmpty();
    }

    /**
     * How long a fusion group may be: long ({@link ElementwiseFusion#MAX_GROUP}) only where intermediates can
     * stay in registers, since only there does a task hold more than three members.
     */
    int groupBound() {
        return isEmpty() ? ElementwiseFusion.STORED_GROUP : ElementwiseFusion.MAX_GROUP;
    }

    /**
     * True if a task running the nodes at work positions {@code first..last} (consecutive) need not store what
     * it writes into {@code s}: s is internal and no node outside those positions touches it. The caller must
     * still store s if a member reads it from memory rather than from an earlier member's register.
     */
    boolean unstored(Storage s, int first, int last) {
        int[] span = spans.get(s);
        return span != null && span[0] >= first && span[1] <= last;
    }

    /** The work position of {@code node}; only asked when {@link #isEmpty()} is false. */
    int position(OpNode node) {
        Integer p = positions.get(node);
        if (p == null) throw new IllegalArgumentException(node.opName() + " is not a node of the planned program");
        return p;
    }
}
