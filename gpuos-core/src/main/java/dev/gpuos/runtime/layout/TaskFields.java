package dev.gpuos.runtime.layout;

/**
 * Byte offsets of {@code gpuos_task} and {@code gpuos_tensor_ref} fields, taken once from {@link Layouts}, for
 * every flyweight that reads or writes descriptors (the host's batch and ring writer, the simulated device).
 */
public final class TaskFields {
    private TaskFields() {}

    public static final long TASK_BYTES = Layouts.TASK.size();
    public static final long OP = Layouts.TASK.offset("op");
    public static final long NTILES = Layouts.TASK.offset("ntiles");
    public static final long SEQ = Layouts.TASK.offset("seq");
    public static final long TILE_BASE = Layouts.TASK.offset("tileBase");
    public static final long FLAGS = Layouts.TASK.offset("flags");
    public static final long NDEPS = Layouts.TASK.offset("ndeps");
    public static final long NREFS = Layouts.TASK.offset("nrefs");
    public static final long TILE_SIZE = Layouts.TASK.offset("tileSize");
    public static final long REFS_AT = Layouts.TASK.offset("refsAt");
    public static final long SEAL = Layouts.TASK.offset("seal");
    public static final long DEPS = Layouts.TASK.offset("deps");
    public static final long ARGS = Layouts.TASK.offset("args");
    public static final long REFS = Layouts.TASK.offset("refs");

    public static final long REF_BYTES = Layouts.TENSOR_REF.size();
    public static final long REF_DATA = Layouts.TENSOR_REF.offset("data");
    public static final long REF_NUMEL = Layouts.TENSOR_REF.offset("numel");
    public static final long REF_DTYPE = Layouts.TENSOR_REF.offset("dtype");
    public static final long REF_NDIM = Layouts.TENSOR_REF.offset("ndim");
    public static final long REF_FLAGS = Layouts.TENSOR_REF.offset("flags");
    public static final long REF_RESERVED = Layouts.TENSOR_REF.offset("reserved");
    public static final long REF_SIZES = Layouts.TENSOR_REF.offset("sizes");
    public static final long REF_STRIDES = Layouts.TENSOR_REF.offset("strides");
    public static final long REF_AUX = Layouts.TENSOR_REF.offset("aux");
}
