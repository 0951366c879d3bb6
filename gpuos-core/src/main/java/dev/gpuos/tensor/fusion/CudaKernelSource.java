package dev.gpuos.tensor.fusion;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.HostElements;
import dev.gpuos.tensor.Layout;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseNode;
import dev.gpuos.tensor.op.ElementwiseOp;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders a {@link FusionGroup} as one CUDA C++ kernel from the {@link ElementwiseOp} templates. One thread per
 * output element: it decomposes its linear index, loads each input with that input's strides, evaluates the
 * members in order and stores every member's output. A member's value is kept in its output's storage type,
 * so a consumer sees exactly what it would read back from memory (fusion never changes results).
 *
 * <p>Layouts are baked in as constants: kernels are specialised to shapes and strides. Passing them as
 * parameters, to reuse one compiled kernel across shapes, is a change confined to this class.
 *
 * <p>Signature: {@code extern "C" __global__ void name(const S0* in0, ..., S* out0, ...)}: inputs in
 * {@link FusionGroup#inputs()} order, then one output pointer per member, each the base of its storage
 * (element offsets are in the indexing).
 */
public final class CudaKernelSource {
    private CudaKernelSource() {}

    /** Float to integer stores saturate and map NaN to 0, as every backend's conversions do (HostElements). */
    public static final String HEADER = """
            #include <cuda_fp16.h>
            #include <cuda_bf16.h>
            __device__ __forceinline__ int gpuos_f2i(double v) {
                return v != v ? 0 : v >= 2147483647.0 ? 2147483647 : v <= -2147483648.0 ? (int)0x80000000 : (int)v;
            }
            __device__ __forceinline__ long long gpuos_f2ll(double v) {
                return v != v ? 0ll : v >= 9.2233720368547758e18 ? 0x7fffffffffffffffll
                        : v <= -9.2233720368547758e18 ? (long long)0x8000000000000000ull : (long long)v;
            }
            """;

    private static final Pattern OPERAND = Pattern.compile("\\b(a|b|c|p0|p1)\\b");

    public static String render(FusionGroup group, String kernelName) {
        List<ElementwiseNode> nodes = group.nodes();
        long[] shape = group.shape();
        StringBuilder params = new StringBuilder(), body = new StringBuilder();
        List<Tensor> inputs = group.inputs();
        for (int k = 0; k < inputs.size(); k++) {
            params.append(params.isEmpty() ? "" : ", ").append("const ").append(inputs.get(k).dtype().cudaType())
                    .append("* __restrict__ in").append(k);
        }
        for (int m = 0; m < nodes.size(); m++) {
            params.append(params.isEmpty() ? "" : ", ").append(nodes.get(m).output().dtype().cudaType()).append("* out").append(m);
        }
        long n = Layout.numel(shape);
        body.append("    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n");
        body.append("    if (i >= ").append(n).append("LL) return;\n");
        body.append("    long long r = i;\n");
        for (int d = shape.length - 1; d >= 0; d--) {
            body.append("    const long long i").append(d).append(" = r % ").append(shape[d]).append("LL; r /= ")
                    .append(shape[d]).append("LL;\n");
        }
        for (int m = 0; m < nodes.size(); m++) {
            ElementwiseNode node = nodes.get(m);
            DType compute = node.computeType(), opType = node.operandType();
            String ct = compute.cudaType();
            List<String> args = new ArrayList<>();
            for (Operand o : node.operands()) {
                String v;
                if (o instanceof Scalar s) {
                    double value = s.kind() == DType.F64 ? HostElements.round(opType, s.doubleValue())
                            : HostElements.round(opType, (double) s.longValue());
                    v = "(" + ct + ")(" + literal(value, compute) + ")";
                } else {
                    Tensor t = (Tensor) o;
                    int producer = ElementwiseFusion.producer(nodes, m, t);
                    String raw = producer >= 0 ? "s" + producer : "in" + inputs.indexOf(t) + "[" + offset(t.layout()) + "]";
                    v = load(t.dtype(), opType, compute, raw);
                }
                args.add(v);
            }
            String expr = substitute(node.op().cudaExpression(compute), args, node.params(), compute);
            DType outType = node.output().dtype();
            body.append("    const ").append(outType.cudaType()).append(" s").append(m).append(" = ")
                    .append(store(compute, outType, expr)).append(";\n");
            body.append("    out").append(m).append('[').append(offset(node.output().layout())).append("] = s").append(m).append(";\n");
        }
        return HEADER + ElementwiseOp.CUDA_PRELUDE + "extern \"C\" __global__ void " + kernelName + "(" + params + ") {\n"
                + body + "}\n";
    }

    private static String offset(Layout l) {
        StringBuilder sb = new StringBuilder().append(l.offset()).append("LL");
        for (int d = 0; d < l.rank(); d++) {
            if (l.stride(d) != 0 && l.size(d) != 1) sb.append(" + i").append(d).append(" * ").append(l.stride(d)).append("LL");
        }
        return sb.toString();
    }

    /** Storage value to operand type (rounding, e.g. an I32 into F16) to compute type. */
    static String load(DType storage, DType opType, DType compute, String raw) {
        String widened = switch (storage) {
            case F16 -> "__half2float(" + raw + ")";
            case BF16 -> "__bfloat162float(" + raw + ")";
            default -> "(" + compute.cudaType() + ")(" + raw + ")";
        };
        if (storage == opType || opType == compute) return "(" + compute.cudaType() + ")(" + widened + ")";
        return "(" + compute.cudaType() + ")(" + store(compute, opType, widened) + ")";
    }

    /** Compute value to storage type, with the CPU backend's conversions (round to nearest even; bool is != 0). */
    static String store(DType compute, DType storage, String expr) {
        return switch (storage) {
            case F16 -> "__float2half_rn((float)(" + expr + "))";
            case BF16 -> "__float2bfloat16_rn((float)(" + expr + "))";
            case BOOL -> "((" + expr + ") != 0)";
            case I32 -> compute.isFloating() ? "gpuos_f2i(" + expr + ")" : "(int)(" + expr + ")";
            case I64 -> compute.isFloating() ? "gpuos_f2ll(" + expr + ")" : "(long long)(" + expr + ")";
            default -> "(" + storage.cudaType() + ")(" + expr + ")";
        };
    }

    private static String substitute(String template, List<String> args, double[] params, DType compute) {
        Matcher m = OPERAND.matcher(template);
        return m.replaceAll(r -> Matcher.quoteReplacement(switch (r.group(1)) {
            case "a" -> args.get(0);
            case "b" -> args.get(1);
            case "c" -> args.get(2);
            case "p0" -> literal(params[0], compute);
            default -> literal(params[1], compute);
        }));
    }

    private static String literal(double v, DType compute) {
        if (compute == DType.I64) return Long.toString((long) v) + "LL";
        if (Double.isNaN(v)) return "__longlong_as_double(0x7ff8000000000000LL)";
        if (Double.isInfinite(v)) return v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)" : "__longlong_as_double(0xfff0000000000000LL)";
        return Double.toString(v);
    }
}
