package dev.gpuos.model;

import dev.gpuos.tensor.Tensor;

import java.util.List;

/** What tests in other packages (the GPU planner's, dev.gpuos.tensor.gpu) may reach of this package. */
public final class ModelTestAccess {
    private ModelTestAccess() {}

    /** The fixture folder of {@code name} under src/test/resources/hf. */
    public static java.nio.file.Path fixture(String name) {
        return HfFixtureChecks.root().resolve(name);
    }

    /** {@link BertEncoder#recordForward}. */
    public static List<Tensor> recordForward(BertEncoder e, dev.gpuos.tensor.TensorScope scope, int b, int t) {
        return e.recordForward(scope, b, t);
    }

    /** {@link LlamaModel#recordPrefill}. */
    public static List<Tensor> recordPrefill(LlamaModel m, Tensor ids, Tensor bias, int t) {
        return m.recordPrefill(ids, bias, t);
    }

    /** {@link LlamaModel#causalBias(dev.gpuos.tensor.TensorScope, int)}. */
    public static Tensor causalBias(dev.gpuos.tensor.TensorScope scope, int t) {
        return LlamaModel.causalBias(scope, t);
    }

    /** Sets {@link LlamaModel#oneTaskCacheWrite} (read when a model makes its decode step); returns what it was. */
    public static boolean oneTaskCacheWrite(boolean on) {
        boolean was = LlamaModel.oneTaskCacheWrite;
        LlamaModel.oneTaskCacheWrite = on;
        return was;
    }

    /** {@link LlamaModel#recordDecodeStep()}. */
    public static List<Tensor> recordDecodeStep(LlamaModel m) {
        return m.recordDecodeStep();
    }
}
