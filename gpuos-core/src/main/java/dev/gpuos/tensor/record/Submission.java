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
        Map<Storage, Integer> lastWriter = new IdentityHashMap<>();
        Map<Storage, List<Integer>> readersSinceWrite = new IdentityHashMap<>();
        List<Dependency> edges = new ArrayList<>();
        for (int j = 0; j < nodes.size(); j++) {
            OpNode node = nodes.get(j);
            for (Storage s : node.reads()) {
                Integer w = lastWriter.get(s);
                if (w != null) edges.add(new Dependency(w, j, Hazard.RAW, s));
            }
            for (Storage s : node.writes()) {
                Integer w = lastWriter.get(s);
                if (w != null) edges.add(new Dependency(w, j, Hazard.WAW, s));
                for (int r : readersSinceWrite.getOrDefault(s, List.of())) {
                    if (r != j) edges.add(new Dependency(r, j, Hazard.WAR, s));
                }
            }
            for (Storage s : node.reads()) readersSinceWrite.computeIfAbsent(s, k -> new ArrayList<>()).add(j);
            for (Storage s : node.writes()) {
                lastWriter.put(s, j);
                readersSinceWrite.remove(s);
            }
        }
        return edges;
    }
}
