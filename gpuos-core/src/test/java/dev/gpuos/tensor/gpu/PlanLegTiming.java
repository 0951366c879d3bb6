package dev.gpuos.tensor.gpu;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;
import dev.gpuos.tensor.cpu.CpuBackend;
import dev.gpuos.tensor.interp.ProgramCompiler;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Host time of the CPU-side steps of planning a never-seen elementwise structure for the interpreter tier
 * (issue 6), without a GPU: the operator lookup by structural key, the op program, and (only with
 * {@code eager}, what the planner did before) rendering the native source and hashing it into the name. The
 * GPU-side steps (program upload, submit) are not here. Not a test: run it in a fresh JVM per mode,
 * {@code java -cp <core classes + test classes + deps> dev.gpuos.tensor.gpu.PlanLegTiming [lazy|eager]}.
 * The 528 structures are the benchmark's 132 three-member chains (x * 1.37, two unary ops) in four dtypes.
 */
public final class PlanLegTiming {
    private static final ElementwiseOp[] UNARY = {ElementwiseOp.EXP, ElementwiseOp.SIN, ElementwiseOp.COS,
            ElementwiseOp.TANH, ElementwiseOp.SIGMOID, ElementwiseOp.RELU, ElementwiseOp.NEG, ElementwiseOp.ABS,
            ElementwiseOp.SILU, ElementwiseOp.GELU, ElementwiseOp.HARDSWISH, ElementwiseOp.SQRT};
    private static final double[] NO_PARAMS = {};

    public static void main(String[] args) {
        boolean eager = args.length > 0 && args[0].equals("eager");
        try (TensorScope s = TensorScope.open(CpuBackend.eager())) {
            List<List<ElementwiseNode>> runs = new ArrayList<>();
            for (DType t : new DType[]{DType.F32, DType.F64, DType.F16, DType.BF16}) {
                Tensor x = s.zeros(t, 64, 1024);
                for (int k = 0; k < 132; k++) {
                    int i = k % UNARY.length, j = (i + 1 + k / UNARY.length) % UNARY.length;
                    Tensor y1 = s.zeros(t, 64, 1024), y2 = s.zeros(t, 64, 1024), y3 = s.zeros(t, 64, 1024);
                    runs.add(List.of(new ElementwiseNode(ElementwiseOp.MUL, List.<Operand>of(x, Scalar.of(1.37)), y1, t, NO_PARAMS),
                            new ElementwiseNode(UNARY[i], List.<Operand>of(y1), y2, t, NO_PARAMS),
                            new ElementwiseNode(UNARY[j], List.<Operand>of(y2), y3, t, NO_PARAMS)));
                }
            }
            int n = runs.size();
            double[] lookup = new double[n], native_ = new double[n], program = new double[n], total = new double[n];
            long sink = 0;
            for (int r = 0; r < n; r++) {
                List<ElementwiseNode> run = runs.get(r);
                long t0 = System.nanoTime();
                OperatorStructure op = ElementwiseKernels.operator(run);
                long t1 = System.nanoTime();
                if (eager) sink += op.uniqueName().length();
                long t2 = System.nanoTime();
                var p = ProgramCompiler.compile(run);
                sink += ProgramCompiler.args(run).length + p.code().length + op.key().hashCode();
                long t3 = System.nanoTime();
                lookup[r] = (t1 - t0) / 1e3;
                native_[r] = (t2 - t1) / 1e3;
                program[r] = (t3 - t2) / 1e3;
                total[r] = (t3 - t0) / 1e3;
            }
            System.out.println(eager ? "eager (render + hash on the plan path, as before):" : "lazy (this branch):");
            report("  first 20 new structures (cold JVM)", 0, 20, lookup, native_, program, total);
            report("  structures 10-50 (as in the benchmark, after 10 warm-ups)", 10, 50, lookup, native_, program, total);
            report("  structures 400-528 (warm JVM)", 400, n, lookup, native_, program, total);
            System.out.println("  (checksum " + sink + ")");
        }
    }

    private static void report(String what, int from, int to, double[] lookup, double[] native_, double[] program, double[] total) {
        System.out.printf("%s, median (p90) us: operator lookup %s, render + SHA-256 name %s, op program %s, total %s%n",
                what, m(lookup, from, to), m(native_, from, to), m(program, from, to), m(total, from, to));
    }

    private static String m(double[] v, int from, int to) {
        double[] s = Arrays.copyOfRange(v, from, to);
        Arrays.sort(s);
        return String.format("%.1f (%.1f)", s[s.length / 2], s[(int) (s.length * 0.9)]);
    }
}
