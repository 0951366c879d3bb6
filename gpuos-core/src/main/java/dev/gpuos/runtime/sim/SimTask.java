package dev.gpuos.runtime.sim;

import static dev.gpuos.runtime.layout.TaskFields.*;

import dev.gpuos.runtime.layout.DTypeCode;
import dev.gpuos.runtime.layout.Layouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Read-only flyweight over one {@code gpuos_task} in the simulated device ring: what a {@code GPUOS_OP} body
 * sees as {@code task}. One per simulated worker block; {@link SimulatedWorker} repositions it for each tile.
 * The helpers mirror those of {@code gpuos_device.cuh} ({@code tile_range}, {@code offset_of}, {@code arg_f64}).
 */
public final class SimTask {
    static final long BYTES = TASK_BYTES;

    private final SimulatedDevice device;
    private final MemorySegment ring;
    private long base;
    private final SimBuffer[] resolved = new SimBuffer[Layouts.MAX_REFS];

    SimTask(SimulatedDevice device, MemorySegment ring) {
        this.device = device;
        this.ring = ring;
    }

    /** Positions the flyweight on ring slot {@code slot} (that is, {@code seq & (capacity - 1)}). */
    SimTask at(long slot) {
        base = slot * BYTES;
        java.util.Arrays.fill(resolved, null);
        return this;
    }

    public int op() {
        return ring.get(ValueLayout.JAVA_INT, base + OP);
    }

    public int ntiles() {
        return ring.get(ValueLayout.JAVA_INT, base + NTILES);
    }

    public long seq() {
        return ring.get(ValueLayout.JAVA_LONG, base + SEQ);
    }

    public long tileBase() {
        return ring.get(ValueLayout.JAVA_LONG, base + TILE_BASE);
    }

    public int flags() {
        return Short.toUnsignedInt(ring.get(ValueLayout.JAVA_SHORT, base + FLAGS));
    }

    public int ndeps() {
        return Byte.toUnsignedInt(ring.get(ValueLayout.JAVA_BYTE, base + NDEPS));
    }

    public int nrefs() {
        return Byte.toUnsignedInt(ring.get(ValueLayout.JAVA_BYTE, base + NREFS));
    }

    public int tileSize() {
        return ring.get(ValueLayout.JAVA_INT, base + TILE_SIZE);
    }

    public long dep(int i) {
        return ring.get(ValueLayout.JAVA_LONG, base + DEPS + 8L * i);
    }

    public long arg(int i) {
        return ring.get(ValueLayout.JAVA_LONG, base + ARGS + 8L * i);
    }

    public double argDouble(int i) {
        return Double.longBitsToDouble(arg(i));
    }

    private long ref(int i) {
        return base + REFS + REF_BYTES * i;
    }

    public long refData(int i) {
        return ring.get(ValueLayout.JAVA_LONG, ref(i) + REF_DATA);
    }

    public long refNumel(int i) {
        return ring.get(ValueLayout.JAVA_LONG, ref(i) + REF_NUMEL);
    }

    public DTypeCode refDtype(int i) {
        return DTypeCode.of(Byte.toUnsignedInt(ring.get(ValueLayout.JAVA_BYTE, ref(i) + REF_DTYPE)));
    }

    public int refNdim(int i) {
        return Byte.toUnsignedInt(ring.get(ValueLayout.JAVA_BYTE, ref(i) + REF_NDIM));
    }

    public int refFlags(int i) {
        return Short.toUnsignedInt(ring.get(ValueLayout.JAVA_SHORT, ref(i) + REF_FLAGS));
    }

    public int refSize(int i, int dim) {
        return ring.get(ValueLayout.JAVA_INT, ref(i) + REF_SIZES + 4L * dim);
    }

    public long refStride(int i, int dim) {
        return ring.get(ValueLayout.JAVA_LONG, ref(i) + REF_STRIDES + 8L * dim);
    }

    public long refAux(int i) {
        return ring.get(ValueLayout.JAVA_LONG, ref(i) + REF_AUX);
    }

    /** First element of {@code tile} in a flat index space of {@code numel} elements ({@code tile_range}). */
    public long tileBegin(int tile, long numel) {
        return Math.min((long) tile * tileSize(), numel);
    }

    /** One past the last element of {@code tile} ({@code tile_range}). */
    public long tileEnd(int tile, long numel) {
        return Math.min((long) tile * tileSize() + tileSize(), numel);
    }

    /** Element offset of flat (row-major) index {@code flat} of operand {@code i} ({@code offset_of}). */
    public long offsetOf(int i, long flat) {
        if ((refFlags(i) & Layouts.REF_CONTIGUOUS) != 0) {
            return flat;
        }
        long off = 0;
        for (int d = refNdim(i) - 1; d >= 0; d--) {
            long size = refSize(i, d);
            off += (flat % size) * refStride(i, d);
            flat /= size;
        }
        return off;
    }

    /**
     * The whole device buffer operand {@code i} points into. An address that lies in no live buffer is what
     * an illegal address is on a GPU: the simulated worker dies with this exception.
     */
    public MemorySegment memory(int i) {
        SimBuffer b = resolved[i];
        if (b == null) {
            b = device.bufferContaining(refData(i), "task " + seq() + " operand " + i);
            resolved[i] = b;
        }
        return b.segment();
    }

    /** Byte offset, within {@link #memory(int)}, of flat element {@code flat} of operand {@code i}. */
    public long byteOffset(int i, long flat) {
        long data = refData(i);
        if (resolved[i] == null) {
            memory(i);
        }
        return data - resolved[i].address() + offsetOf(i, flat) * refDtype(i).byteSize;
    }
}
