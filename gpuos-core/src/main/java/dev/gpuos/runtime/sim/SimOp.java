package dev.gpuos.runtime.sim;

/**
 * An operator of the simulated device: the Java stand-in for a {@code GPUOS_OP} body. It is called once per
 * tile by one simulated worker block (a Java thread) and may read and write device buffers through
 * {@link SimTask#memory(int)}. Like a CUDA operator it must not keep {@code task}: the flyweight moves on.
 */
@FunctionalInterface
public interface SimOp {
    void run(SimTask task, int tile);
}
