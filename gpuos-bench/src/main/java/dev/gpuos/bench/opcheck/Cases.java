package dev.gpuos.bench.opcheck;

import dev.gpuos.bench.opcheck.OpCase.Check;
import dev.gpuos.bench.opcheck.OpCase.Input;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Shorthand the case table is written in: inputs, cases, Python literals. */
final class Cases {
    private Cases() {}

    static Input in(String name, DType dtype, Values values, long... shape) {
        return Input.of(name, dtype, shape, values);
    }

    static Input index(String name, DType dtype, long bound, long... shape) {
        return new Input(name, dtype, shape, Values.INDEX, OpCase.View.CONTIGUOUS, bound);
    }

    static List<Input> inputs(Input... inputs) {
        return List.of(inputs);
    }

    /** A case filed under {@code family}'s api and kernel; {@code params} alternate name, value. */
    static OpCase of(OpFamilyRef family, DType dtype, String variant, String torch, Check check, List<Input> inputs,
                     Function<List<Tensor>, Tensor> run, Object... params) {
        Map<String, Object> p = new LinkedHashMap<>();
        for (int i = 0; i + 1 < params.length; i += 2) p.put((String) params[i], params[i + 1]);
        return new OpCase(family.api() + "/" + dtype + "/" + variant, family.api(), family.kernel(), dtype, torch, check,
                inputs, p, run);
    }

    /** The api and kernel of the family a case belongs to (so the table names them once). */
    record OpFamilyRef(String api, String kernel) {}

    /** {@code v} as a Python float literal. */
    static String py(double v) {
        if (Double.isNaN(v)) return "float('nan')";
        if (Double.isInfinite(v)) return v > 0 ? "float('inf')" : "float('-inf')";
        return Double.toString(v);
    }

    static String py(long v) {
        return Long.toString(v);
    }

    static String py(boolean v) {
        return v ? "True" : "False";
    }

    /** A Python tuple of ints: {@code (0, 2)}, {@code (3,)}. */
    static String tuple(long... values) {
        String body = Arrays.stream(values).mapToObj(Long::toString).collect(Collectors.joining(", "));
        return values.length == 1 ? "(" + body + ",)" : "(" + body + ")";
    }

    static String tuple(int... values) {
        return tuple(Arrays.stream(values).asLongStream().toArray());
    }

    static String torchDType(DType t) {
        return "torch." + pythonName(t);
    }

    /** The torch dtype name (torch.float16, ...) without the module. */
    static String pythonName(DType t) {
        return switch (t) {
            case BOOL -> "bool";
            case I32 -> "int32";
            case I64 -> "int64";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F32 -> "float32";
            case F64 -> "float64";
        };
    }
}
