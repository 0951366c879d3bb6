package dev.gpuos.runtime;

import dev.gpuos.runtime.layout.CudaHeader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;

/**
 * The CUDA sources of the device side of the runtime: the generated layout header, the support header every
 * operator includes, the worker kernel, and the per-generation dispatch table.
 */
public final class WorkerSources {
    private WorkerSources() {}

    public static final String DEVICE_HEADER = "gpuos_device.cuh";
    public static final String WORKER_NAME = "worker.cu";
    public static final String KERNEL_NAME = "gpuos_worker";
    public static final String OP_SYMBOL_MACRO = "GPUOS_OP_SYMBOL";

    /**
     * How the worker's blocks hand work to each other (issue 13), read once from {@code -Dgpuos.worker.handoff}:
     * <ul>
     *   <li>{@code spin}: acquire polls without back-off, the descriptor of a guessed slot loaded
     *       with the tile-map read, one completion flag per 128-byte line, an agent completion warp that publishes
     *       completion apart from staging, staging without a doorbell read per busy round and from shared-memory
     *       headers, the first task of a submission taken from one read of its sealed slot (TaskSeal), template
     *       tasks' operand records read by their workers, and runs of dependent single-tile tasks on one block
     *       (see worker.cu and the README, "Device hand-offs"). Opt-in until a GPU run shows its latest form
     *       correct and nowhere slower.</li>
     *   <li>{@code legacy} (the default): acquire polls with exponential back-off, one agent loop paced by a
     *       doorbell read per round, dense completion flags: the protocol every earlier GPU run verified.</li>
     * </ul>
     * A second product while both exist: the loser goes once the A/B measurement is in.
     */
    public enum Handoff {
        LEGACY("#define GPUOS_HANDOFF_LEGACY 1\n"), SPIN("");

        private final String defines;

        Handoff(String defines) {
            this.defines = defines;
        }

        /** The property value that selects it. */
        public String value() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    public static final String HANDOFF_PROPERTY = "gpuos.worker.handoff";
    private static final Handoff HANDOFF = handoffFrom(System.getProperty(HANDOFF_PROPERTY, "legacy"));

    /**
     * Diagnostic switches of the spin protocol for A/B GPU runs, read from {@code -Dgpuos.worker.ab}
     * (comma-separated), each one {@code #define GPUOS_AB_<NAME>}: {@code no-runs} (the agent marks no runs of
     * dependent single-tile tasks, see worker.cu's kRunMember: not GPU-run yet, so a failing spin run can be
     * bisected). (dense-done and cw-gentle, measured on the H100 in handoff-2-1, changed nothing and are gone.)
     */
    public static final String AB_PROPERTY = "gpuos.worker.ab";
    static final java.util.List<String> AB_SWITCHES = java.util.List.of("no-runs");
    private static final String AB_DEFINES = abDefines(System.getProperty(AB_PROPERTY, ""));

    static String abDefines(String value) {
        var out = new StringBuilder();
        for (String name : value.split(",")) {
            String n = name.trim().toLowerCase(java.util.Locale.ROOT);
            if (n.isEmpty()) continue;
            if (!AB_SWITCHES.contains(n)) {
                throw new IllegalArgumentException("-D" + AB_PROPERTY + "=" + value + ": " + n + " is not one of " + AB_SWITCHES);
            }
            out.append("#define GPUOS_AB_").append(n.toUpperCase(java.util.Locale.ROOT).replace('-', '_')).append(" 1\n");
        }
        return out.toString();
    }

    private static final String LAYOUT = CudaHeader.generate();
    private static final String DEVICE = resource(DEVICE_HEADER);
    private static final String WORKER = workerFor(HANDOFF);

    /** Headers every translation unit may include, by include name, in dependency order. */
    public static Map<String, String> headers() {
        var m = new LinkedHashMap<String, String>();
        m.put(CudaHeader.FILE_NAME, LAYOUT);
        m.put(DEVICE_HEADER, DEVICE);
        return m;
    }

    /** The worker kernel's source, compiled for the hand-off {@link #handoff()} names. */
    public static String worker() {
        return WORKER;
    }

    public static Handoff handoff() {
        return HANDOFF;
    }

    /** The worker kernel's source as it is compiled for {@code handoff}. */
    public static String workerFor(Handoff handoff) {
        return workerFor(handoff, AB_DEFINES);
    }

    static String workerFor(Handoff handoff, String abDefines) {
        String source = resource(WORKER_NAME);
        String defines = handoff.defines + abDefines;
        return defines.isEmpty() ? source : defines + "#line 1 \"" + WORKER_NAME + "\"\n" + source;
    }

    static Handoff handoffFrom(String value) {
        for (Handoff h : Handoff.values()) {
            if (h.value().equals(value.trim().toLowerCase(java.util.Locale.ROOT))) return h;
        }
        throw new IllegalArgumentException("-D" + HANDOFF_PROPERTY + "=" + value
                + ": expected one of " + java.util.Arrays.stream(Handoff.values()).map(Handoff::value).toList());
    }

    /** Link-time name of the operator in a slot. */
    public static String symbolOf(int slot) {
        return "gpuos_op_" + slot;
    }

    /**
     * The dispatch table of one generation: slot -> operator symbol. Slots without an operator hold null, which
     * the worker reports as a fault instead of jumping.
     */
    public static String dispatch(SortedMap<Integer, String> symbolsBySlot) {
        int count = symbolsBySlot.isEmpty() ? 1 : symbolsBySlot.lastKey() + 1;
        var out = new StringBuilder(256 + 64 * count);
        out.append("// GENERATED dispatch table of one worker generation.\n");
        out.append("#include \"").append(DEVICE_HEADER).append("\"\n");
        for (String symbol : symbolsBySlot.values()) {
            out.append("extern \"C\" __device__ void ").append(symbol)
                    .append("(const gpuos_task*, unsigned int, const gpuos_env*);\n");
        }
        out.append("extern \"C\" __device__ gpuos_op_fn gpuos_op_table[").append(count).append("] = {");
        for (int slot = 0; slot < count; slot++) {
            out.append(slot == 0 ? "\n    " : ",\n    ");
            String symbol = symbolsBySlot.get(slot);
            out.append(symbol == null ? "nullptr" : symbol);
        }
        out.append("\n};\n");
        out.append("extern \"C\" __device__ unsigned int gpuos_op_count = ").append(symbolsBySlot.isEmpty() ? 0 : count)
                .append(";\n");
        return out.toString();
    }

    private static String resource(String name) {
        try (InputStream in = WorkerSources.class.getResourceAsStream("cuda/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource dev/gpuos/runtime/cuda/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
