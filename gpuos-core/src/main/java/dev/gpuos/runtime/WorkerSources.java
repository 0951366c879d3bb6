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
     * {@code -Dgpuos.worker.handoff} chose between two hand-off protocols until issue 13's GPU runs showed the new
     * one ({@code spin}) correct and faster on every row; the old one ({@code legacy}) is gone. {@code spin} is
     * still accepted (scripts pass it); anything else is refused with this explanation rather than ignored.
     */
    public static final String HANDOFF_PROPERTY = "gpuos.worker.handoff";

    /** The diagnostic switches of the spin protocol ({@code no-runs}), gone with it: refused likewise. */
    public static final String AB_PROPERTY = "gpuos.worker.ab";

    static void checkHandoff(String handoff, String ab) {
        if (handoff != null && !handoff.trim().equalsIgnoreCase("spin")) {
            throw new IllegalArgumentException("-D" + HANDOFF_PROPERTY + "=" + handoff + ": the worker has one hand-off "
                    + "protocol now (spin; legacy was removed after issue 13's GPU runs); drop the property");
        }
        if (ab != null && !ab.isBlank()) {
            throw new IllegalArgumentException("-D" + AB_PROPERTY + "=" + ab + ": the worker has no A/B switches now "
                    + "(no-runs was measured slower on dependent chains and removed); drop the property");
        }
    }

    /**
     * {@code -Dgpuos.agent.ab} chose main's agent of before issue 13's round-trip work ({@code serial-reads},
     * {@code no-short-path}, {@code sc-fence}) for one A/B GPU run (trip-4-1, H100: round trip 12.7-13.4 -> 10.5-10.6
     * us, templates kept); the new agent won and the switches are gone: any value is refused with this reason.
     */
    public static final String AGENT_AB_PROPERTY = "gpuos.agent.ab";

    static void checkAgent(String value) {
        if (value != null && !value.isBlank()) {
            throw new IllegalArgumentException("-D" + AGENT_AB_PROPERTY + "=" + value + ": the agent has no A/B switches"
                    + " now (serial-reads, no-short-path and sc-fence were measured slower on the H100 and removed);"
                    + " drop the property");
        }
    }

    private static final String LAYOUT = CudaHeader.generate();
    private static final String DEVICE = resource(DEVICE_HEADER);
    private static final String WORKER = workerSource();

    /** Headers every translation unit may include, by include name, in dependency order. */
    public static Map<String, String> headers() {
        var m = new LinkedHashMap<String, String>();
        m.put(CudaHeader.FILE_NAME, LAYOUT);
        m.put(DEVICE_HEADER, DEVICE);
        return m;
    }

    /** The worker kernel's source. */
    public static String worker() {
        return WORKER;
    }

    private static String workerSource() {
        checkHandoff(System.getProperty(HANDOFF_PROPERTY), System.getProperty(AB_PROPERTY));
        checkAgent(System.getProperty(AGENT_AB_PROPERTY));
        return resource(WORKER_NAME);
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
