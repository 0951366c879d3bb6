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

    /** Builds the generation that dispatches to exactly these slots (slot -> operator name and source). */
    public GenerationImage build(SortedMap<Integer, Map.Entry<String, String>> operators) {
        long t0 = System.nanoTime();
        List<NvJitLink.Input> inputs = new ArrayList<>();
        inputs.add(new NvJitLink.Input(WorkerSources.WORKER_NAME, compiler.compileRelocatable(workerUnit()),
                NvJitLink.Kind.CUBIN));
        SortedMap<Integer, String> symbols = new TreeMap<>();
        for (var e : operators.entrySet()) {
            int slot = e.getKey();
            String name = e.getValue().getKey();
            inputs.add(new NvJitLink.Input(name + ".cu",
                    compileOperator(slot, name, e.getValue().getValue()), NvJitLink.Kind.CUBIN));
            symbols.put(slot, WorkerSources.symbolOf(slot));
        }
        CompileUnit dispatch = new CompileUnit("dispatch.cu", WorkerSources.dispatch(symbols), WorkerSources.headers(),
                List.of());
        inputs.add(new NvJitLink.Input("dispatch.cu", compiler.compileRelocatable(dispatch), NvJitLink.Kind.CUBIN));
        byte[] cubin = compiler.link(inputs);
        return new GenerationImage(cubin, symbols.keySet(), System.nanoTime() - t0);
    }

    static CompileUnit workerUnit() {
        return new CompileUnit(WorkerSources.WORKER_NAME, WorkerSources.worker(), WorkerSources.headers(), List.of());
    }
}
