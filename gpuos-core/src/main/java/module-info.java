/**
 * GPUOS: a persistent worker kernel fed by a task queue, JIT-compiled operators, and an eager tensor API batched into
 * its submissions.
 *
 * <p>Exported, the API: {@code dev.gpuos} (GpuOS, its options), the task level that GpuOS's methods speak
 * ({@code runtime}: operators, task batches and templates, device buffers and the runtime's exceptions;
 * {@code runtime.layout}: the task format and dtype codes; {@code runtime.memory}: device blocks), and the tensor
 * API with its backends ({@code tensor}, {@code tensor.cpu}, {@code tensor.gpu}; {@code tensor.op}, the recorded
 * nodes a {@code Backend} receives). Internal: the native bindings ({@code cuda}: the one door to native code),
 * the compiler ({@code jit}), operator slots ({@code runtime.ops}), the simulated device ({@code runtime.sim}),
 * and the tensor layer's recording, fusion and interpreter tier. gpuos-bench, which measures the layers below the
 * door on purpose (raw launches, the runtime's queue, the host path over the simulated device and the recording), gets qualified
 * exports (javac builds this module first, so it cannot see gpuos-bench: hence the "module" lint suppressed).
 *
 * <p>On the module path, native calls need {@code --enable-native-access=dev.gpuos.core}; on the class path (the
 * {@code ./gpuos} launcher, the GPU check, the tests) {@code --enable-native-access=ALL-UNNAMED}.
 */
@SuppressWarnings("module")
module dev.gpuos.core {
    requires java.logging;

    exports dev.gpuos;
    exports dev.gpuos.runtime;
    exports dev.gpuos.runtime.layout;
    exports dev.gpuos.runtime.memory;
    exports dev.gpuos.tensor;
    exports dev.gpuos.tensor.cpu;
    exports dev.gpuos.tensor.gpu;
    exports dev.gpuos.tensor.op;

    exports dev.gpuos.cuda to dev.gpuos.bench;
    exports dev.gpuos.jit to dev.gpuos.bench;
    exports dev.gpuos.runtime.sim to dev.gpuos.bench;
    exports dev.gpuos.tensor.record to dev.gpuos.bench;

    uses dev.gpuos.tensor.BackendProvider;
    provides dev.gpuos.tensor.BackendProvider with dev.gpuos.tensor.gpu.GpuBackendProvider;
}
