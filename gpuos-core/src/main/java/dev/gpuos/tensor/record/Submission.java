package dev.gpuos.tensor.record;

import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.op.OpNode;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A batch of recorded nodes handed to a device at once, with the dependency edges among them. Node order is
 * recording order, which is a valid execution order; the edges say which reorderings (or concurrent
 * executions) are allowed. Edges only connect nodes of this submission: a runtime must also finish (or track)
 * earlier submissions' writes to the same buffers before running these.
 *
 * <p>Edges are minimal per buffer: a reader depends on the last writer (RAW); a writer on the last writer (WAW)
 * and on every reader since then (WAR). Transitive edges are not repeated.
 */
public record Submission(long sequence, List<OpNode> nodes, List<Dependency> dependencies) {
    public Submission {
        nodes = List.copyOf(nodes);
        dependencies = List.copyOf(dependencies);
    }

    public static Submission of(long sequence, List<OpNode> nodes) {
        return new Submission(sequence, nodes, dependenciesOf(nodes));
    }

    public static List<Dependency> dependenciesOf(List<OpNode> nodes) {
        // One map lookup per buffer touch: the buffer's last writer and its readers since, in one object.
        Map<Storage, Access> state = new IdentityHashMap<>(Math.max(16, nodes.size() * 2));
        List<Dependency> edges = new ArrayList<>();
        for (int j = 0; j < nodes.size(); j++) {
            OpNode node = nodes.get(j);
            List<Storage> reads = node.reads(), writes = node.writes();
            for (Storage s : reads) {
                Access a = state.get(s);
                if (a != null && a.lastWriter >= 0) edges.add(new Dependency(a.lastWriter, j, Hazard.RAW, s));
            }
            for (Storage s : writes) {
                Access a = state.get(s);
                if (a == null) continue;
                if (a.lastWriter >= 0) edges.add(new Dependency(a.lastWriter, j, Hazard.WAW, s));
                for (int k = 0; k < a.readerCount; k++) {
                    if (a.readers[k] != j) edges.add(new Dependency(a.readers[k], j, Hazard.WAR, s));
                }
            }
            for (Storage s : reads) state.computeIfAbsent(s, k -> new Access()).addReader(j);
            for (Storage s : writes) {
                Access a = state.computeIfAbsent(s, k -> new Access());
                a.lastWriter = j;
                a.readerCount = 0;
            }
        }
        return edges;
    }

    /** A buffer's last writer in the node list (-1: none yet) and the nodes that read it since. */
    private static final class Access {
        int lastWriter = -1;
        int[] readers = new int[2];
        int readerCount;

        void addReader(int j) {
            if (readerCount == readers.length) readers = java.util.Arrays.copyOf(readers, readerCount * 2);
            readers[readerCount++] = j;
        }
    }
}
