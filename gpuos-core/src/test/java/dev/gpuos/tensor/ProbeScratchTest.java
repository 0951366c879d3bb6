package dev.gpuos.tensor;

import dev.gpuos.GpuOS;
import dev.gpuos.GpuOSOptions;
import dev.gpuos.SimulatedWorkerDevice;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.gpu.GpuBackend;
import dev.gpuos.tensor.op.ElementwiseOp;
import org.junit.jupiter.api.Test;
import java.lang.foreign.Arena;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

class ProbeScratchTest {
    static void p(String name, Function<TensorScope, Object> f) {
        for (String mode : new String[]{"eager", "batched", "gpusim"}) {
            GpuOS os = null;
            Backend b;
            if (mode.equals("gpusim")) { os = GpuOS.on(GpuOSOptions.defaults(), SimulatedWorkerDevice.sink(1)); b = new GpuBackend(os, 16, Duration.ofSeconds(10), null); }
            else b = mode.equals("eager") ? CpuBackend.eager() : CpuBackend.batched(10_000, Duration.ofHours(1));
            String out;
            try (TensorScope s = TensorScope.open(b)) {
                Object o = f.apply(s);
                if (o instanceof Tensor t) o = Arrays.toString(t.shape()) + " " + t.dtype() + (mode.equals("gpusim") ? "" : " " + Arrays.toString(t.toDoubleArray()));
                else if (o instanceof double[] d) o = Arrays.toString(d);
                else if (o instanceof long[] d) o = Arrays.toString(d);
                out = "OK " + o;
            } catch (Throwable t) {
                out = "ERR " + t + (t.getCause() != null ? " / cause " + t.getCause() : "");
            } finally { if (os != null) os.close(); }
            System.out.println("PROBE " + mode + " | " + name + " -> " + out);
        }
    }
    static Tensor f(TensorScope s, float... v) { return s.tensor(v, v.length); }

    @Test void probes() {
        p("reshape(null)", s -> f(s, 1).reshape((long[]) null));
        p("view(null)", s -> f(s, 1).view((long[]) null));
        p("permute(null)", s -> f(s, 1).permute((int[]) null));
        p("expand(null)", s -> f(s, 1).expand((long[]) null));
        p("sum(null,false)", s -> f(s, 1, 2).sum(null, false));
        p("sum(new int[0],false)", s -> f(s, 1, 2).sum(new int[0], false));
        p("elementwise(null op)", s -> Tensor.elementwise(null, new double[0], f(s, 1)));
        p("elementwise(ADD, 1 operand)", s -> Tensor.elementwise(ElementwiseOp.ADD, new double[0], f(s, 1)));
        p("elementwise(RELU, null params)", s -> Tensor.elementwise(ElementwiseOp.RELU, null, f(s, 1)));
        p("elementwise(ADD, null operands)", s -> Tensor.elementwise(ElementwiseOp.ADD, new double[0], (Operand[]) null));
        p("elementwise(LEAKY_RELU, no params)", s -> Tensor.elementwise(ElementwiseOp.LEAKY_RELU, new double[0], f(s, -1)));
        p("tensor(long 2^40, I32)", s -> s.tensor(new long[]{1L << 40}, DType.I32, 1));
        p("tensor(float NaN, I32)", s -> s.tensor(new float[]{Float.NaN}, DType.I32, 1));
        p("tensor(double 1e300, F32)", s -> s.tensor(new double[]{1e300}, DType.F32, 1));
        p("tensor(double 2, BOOL)", s -> s.tensor(new double[]{2}, DType.BOOL, 1));
        p("tensor(float[3], shape [-1,3])", s -> s.tensor(new float[]{1,2,3}, -1, 3));
        p("tensor(seg too small)", s -> { Arena a = Arena.ofAuto(); return s.tensor(a.allocate(8), DType.F32, 4); });
        p("tensor(seg too big)", s -> { Arena a = Arena.ofAuto(); return s.tensor(a.allocate(32), DType.F32, 4); });
        p("tensor(seg, null dtype)", s -> { Arena a = Arena.ofAuto(); return s.tensor(a.allocate(32), null, 4); });
        p("rand negative shape", s -> s.rand(1, DType.F32, -2));
        p("arange NaN step", s -> s.arange(0.0, 1.0, Double.NaN, DType.F32));
        p("arange inf end", s -> s.arange(0.0, Double.POSITIVE_INFINITY, 1.0, DType.F32));
        p("arange F32 0..1 step 1e-300", s -> s.arange(0.0, 1e-290, 1e-300, DType.F32).numel());
        p("arange double into I32 overflow", s -> s.arange(0.0, 3e9, 1e9, DType.I32));
        p("arange long into I32 dtype?", s -> s.arange(3_000_000_000L, 3_000_000_002L, 1L));
        p("full(1e40 F16?)", s -> s.full(1e40, DType.BF16, 1));
        p("scalar(NaN, I64)", s -> s.scalar(Double.NaN, DType.I64));
        p("where scalar mismatch", s -> Tensor.where(s.tensor(new boolean[]{true, false}, 2), f(s, 1, 2, 3), Scalar.of(1.0)));
        p("clamp(null,null)", s -> f(s, 1).clamp((Operand) null, null));
        p("I32 pow tensor -1", s -> s.tensor(new int[]{2, 1, -1}, 3).pow(s.tensor(new int[]{-1, -1, -1}, 3)));
        p("leakyRelu inf", s -> f(s, -1).leakyRelu(Double.POSITIVE_INFINITY));
        p("elu NaN alpha", s -> f(s, -1).elu(Double.NaN));
        p("softmax dim -3", s -> s.zeros(DType.F32, 2, 2).softmax(-3));
        p("layerNorm weight wrong shape", s -> s.zeros(DType.F32, 2, 3).layerNorm(new long[]{3}, s.ones(DType.F32, 4), null, 1e-5));
        p("layerNorm weight I32", s -> s.zeros(DType.F32, 2, 3).layerNorm(new long[]{3}, s.ones(DType.I32, 3), null, 1e-5));
        p("layerNorm weight F64 on F32", s -> s.zeros(DType.F32, 2, 3).layerNorm(new long[]{3}, s.ones(DType.F64, 3), null, 1e-5));
        p("rmsNorm weight F16 on F32", s -> s.ones(DType.F32, 2, 3).rmsNorm(new long[]{3}, s.ones(DType.F16, 3), 1e-5));
        p("rmsNorm I32 input", s -> s.ones(DType.I32, 2, 3).rmsNorm(new long[]{3}, null, 1e-5));
        p("rmsNorm inf eps", s -> s.ones(DType.F32, 2, 3).rmsNorm(new long[]{3}, null, Double.POSITIVE_INFINITY));
        p("layerNorm inf eps", s -> s.ones(DType.F32, 2, 3).layerNorm(new long[]{3}, null, null, Double.POSITIVE_INFINITY));
        p("matmul BOOL", s -> s.ones(DType.BOOL, 2, 2).matmul(s.ones(DType.BOOL, 2, 2)));
        p("matmul batch broadcast mismatch", s -> s.ones(DType.F32, 3, 2, 2).matmul(s.ones(DType.F32, 4, 2, 2)));
        p("matmul F16 x F32", s -> s.ones(DType.F16, 2, 2).matmul(s.ones(DType.F32, 2, 2)));
        p("embedding 1-D weight", s -> f(s, 1, 2).embedding(s.tensor(new long[]{0}, 1)));
        p("embedding 2-D ids", s -> s.ones(DType.F32, 3, 2).embedding(s.tensor(new long[]{0, 2, 1, 0}, 2, 2)));
        p("embedding BOOL ids", s -> s.ones(DType.F32, 3, 2).embedding(s.tensor(new boolean[]{true}, 1)));
        p("indexSelect 0-dim input", s -> s.scalar(1.0).indexSelect(0, s.tensor(new long[]{0}, 1)));
        p("indexSelect 0-dim index", s -> f(s, 1, 2).indexSelect(0, s.scalar(1L)));
        p("cat dtype mix", s -> Tensor.cat(0, f(s, 1), s.tensor(new long[]{2}, 1)));
        p("cat rank mix", s -> Tensor.cat(0, f(s, 1), s.ones(DType.F32, 1, 1)));
        p("cat empty and 2-D", s -> Tensor.cat(0, s.zeros(DType.F32, 0), s.ones(DType.F32, 2, 2)));
        p("argmax dim 3", s -> f(s, 1).argmax(3, false));
        p("argmax of NaN", s -> f(s, 1, Float.NaN, 2).argmax());
        p("max of NaN", s -> f(s, 1, Float.NaN, 2).max());
        p("attention values F16 others F32", s -> s.ones(DType.F32, 2, 4).attention(s.ones(DType.F32, 3, 4), s.ones(DType.F16, 3, 4), null, 1.0));
        p("attention bias BOOL", s -> s.ones(DType.F32, 2, 4).attention(s.ones(DType.F32, 3, 4), s.ones(DType.F32, 3, 4), s.ones(DType.BOOL, 2, 3), 1.0));
        p("attention null keys", s -> s.ones(DType.F32, 2, 4).attention(null, s.ones(DType.F32, 3, 4), null, 1.0));
        p("attention 1-D", s -> s.ones(DType.F32, 4).attention(s.ones(DType.F32, 4), s.ones(DType.F32, 4), null, 1.0));
        p("attention batch mismatch", s -> s.ones(DType.F32, 2, 2, 4).attention(s.ones(DType.F32, 3, 3, 4), s.ones(DType.F32, 3, 3, 4), null, 1.0));
        p("copyTo null", s -> { f(s, 1).copyTo((float[]) null); return null; });
        p("transferTo other backend then add", s -> { TensorScope o = TensorScope.open(CpuBackend.eager()); Tensor t = f(s, 1).transferTo(o); try { return t.add(f(s, 1)); } finally { o.close(); } });
        p("capture replay after inputs closed", s -> { TensorScope in = TensorScope.open(s.backend()); Tensor x = in.ones(DType.F32, 4); Tensor[] y = new Tensor[1]; Replay r = s.backend().capture(() -> { y[0] = x.mul(2.0); }); in.close(); try { r.run(); s.sync(); return y[0]; } finally { r.close(); } });
        p("capture replay output scope closed", s -> { TensorScope out = TensorScope.open(s.backend()); Tensor x = s.ones(DType.F32, 4); Replay r = s.backend().capture(() -> { TensorScope.current(); x.mul(2.0); }); out.close(); r.run(); s.sync(); r.close(); return x; });
        p("replay run after close", s -> { Tensor x = s.ones(DType.F32, 4); Replay r = s.backend().capture(() -> x.mul(2.0)); r.close(); r.run(); return null; });
        p("capture(null)", s -> s.backend().capture(null));
        p("captureReturning null list", s -> s.backend().captureReturning(() -> null));
        p("captureReturning list with null", s -> s.backend().captureReturning(() -> Arrays.asList((Tensor) null)));
        p("captureReturning other backend's tensor", s -> { TensorScope o = TensorScope.open(CpuBackend.eager()); Tensor t = o.ones(DType.F32, 1); return s.backend().captureReturning(() -> List.of(t)).outputs(); });
        p("capture that syncs", s -> { Tensor x = s.ones(DType.F32, 4); return s.backend().capture(() -> { x.mul(2.0); s.sync(); }); });
        p("capture that reads", s -> { Tensor x = s.ones(DType.F32, 4); return s.backend().capture(() -> x.mul(2.0).toFloatArray()); });
        p("capture that throws", s -> s.backend().capture(() -> { throw new IllegalStateException("boom"); }));
        p("capture nested", s -> s.backend().capture(() -> s.backend().capture(() -> {})));
    }
}
