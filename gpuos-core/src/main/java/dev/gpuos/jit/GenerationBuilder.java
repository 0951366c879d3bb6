package dev.gpuos.jit;

import dev.gpuos.cuda.NvJitLink;
import dev.gpuos.runtime.GenerationImage;
import dev.gpuos.runtime.WorkerSources;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Turns a set of operator sources into one loadable worker module: the worker kernel, one relocatable object
 * per operator slot (each under its own symbol), and a generated dispatch table, linked by nvJitLink.
 *
 * <p>Function pointers are only meaningful inside the module that defines them, so a generation always links
 * the worker and every live operator together; there is no "patch a pointer into the running table".
 */
public final class GenerationBuilder {
    private final CudaCompiler compiler;

    public GenerationBuilder(CudaCompiler compiler) {
        this.compiler = compiler;
    }

    public CudaCompiler compiler() {
        return compiler;
    }

    /** The translation unit of one operator slot: the support header is included for the author. */
    public static CompileUnit operatorUnit(int slot, String name, String source) {
        String symbol = WorkerSources.symbolOf(slot);
        String text = "#include \"" + WorkerSources.DEVICE_HEADER + "\"\n#line 1 \"" + name + ".cu\"\n" + source;
        return new CompileUnit(name + "@" + symbol, text, WorkerSources.headers(),
                List.of("-D" + WorkerSources.OP_SYMBOL_MACRO + "=" + symbol));
    }

    /** Compiles one operator alone: surfaces compile errors (with NVRTC's log) before any swap starts. */
    public byte[] compileOperator(int slot, String name, String source) {
        return compiler.compileRelocatable(operatorUnit(slot, name, source));
    }

    /**
     * Compiles several operators at once (see {@link CudaCompiler#compileAllRelocatable}): surfaces the first
     * compile error, with NVRTC's log, before any swap starts. Keys are slots, values name and source.
     */
    public void compileOperators(SortedMap<Integer, Map.Entry<String, String>> operators) {
        List<CompileUnit> units = new ArrayList<>(operators.size());
        for (var e : operators.entrySet()) {
            units.add(operatorUnit(e.getKey(), e.getValue().getKey(), e.getValue().getValue()));
        }
        compiler.compileAllRelocatable(units);
    }

    /** Builds the generation that dispatches to exactly these slots (slot -> operator name and source). */
    public GenerationImage build(SortedMap<Integer, Map.Entry<String, String>> operators) {
        long t0 = System.nanoTime();
        SortedMap<Integer, String> symbols = new TreeMap<>();
        List<CompileUnit> units = new ArrayList<>(operators.size() + 2);
        List<String> inputNames = new ArrayList<>(operators.size() + 2);
        units.add(workerUnit());
        inputNames.add(WorkerSources.WORKER_NAME);
        for (var e : operators.entrySet()) {
            int slot = e.getKey();
            String name = e.getValue().getKey();
            units.add(operatorUnit(slot, name, e.getValue().getValue()));
            inputNames.add(name + ".cu");
            symbols.put(slot, WorkerSources.symbolOf(slot));
        }
        units.add(new CompileUnit("dispatch.cu", WorkerSources.dispatch(symbols), WorkerSources.headers(), List.of()));
        inputNames.add("dispatch.cu");
        // Usually all cache hits (install compiled the new operators already), a cold cache compiles them all.
        List<byte[]> cubins = compiler.compileAllRelocatable(units);
        List<NvJitLink.Input> inputs = new ArrayList<>(units.size());
        for (int i = 0; i < units.size(); i++) {
            inputs.add(new NvJitLink.Input(inputNames.get(i), cubins.get(i), NvJitLink.Kind.CUBIN));
        }
        byte[] cubin = compiler.link(inputs);
        return new GenerationImage(cubin, symbols.keySet(), System.nanoTime() - t0);
    }

    static CompileUnit workerUnit() {
        return new CompileUnit(WorkerSources.WORKER_NAME, WorkerSources.worker(), WorkerSources.headers(), List.of());
    }
}
