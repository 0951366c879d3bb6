package dev.gpuos.tensor.record;

import dev.gpuos.tensor.op.OpNode;

import java.util.Collections;
import java.util.List;

/**
 * A batch of recorded nodes handed to a device at once. Node order is recording order, which is a valid
 * execution order; which reorderings (or concurrent executions) the buffers the nodes read and write allow is
 * the device's to work out (the GPU backend's buffers track their own hazards, across submissions too).
 *
 * @param nodes handed over by the recording, not copied: nobody changes the list afterwards
 */
public record Submission(long sequence, List<OpNode> nodes) {
    public Submission {
        nodes = Collections.unmodifiableList(nodes);
    }

    public static Submission of(long sequence, List<OpNode> nodes) {
        return new Submission(sequence, nodes);
    }
}
