package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;

import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * One step of a {@link FuzzProgram}: {@code t<out> = op(t<in...>, scalars, args)}. Tensors are named by the id
 * of the step that made them, so a step can be removed (the shrinker does) without renaming the others.
 *
 * @param out     id of the tensor this step makes; -1 for SYNC
 * @param in      ids of the tensors it reads, in operand order
 * @param args    integer arguments, as {@link FuzzOp} documents per op
 * @param scalars scalar operands and op parameters, in operand order
 * @param dtype   target of CAST and dtype of INPUT; null otherwise
 */
public record FuzzStep(int out, FuzzOp op, int[] in, long[] args, Scalar[] scalars, DType dtype) {
    static final int[] NO_INPUTS = {};
    static final long[] NO_ARGS = {};
    static final Scalar[] NO_SCALARS = {};

    public FuzzStep {
        in = in.clone();
        args = args.clone();
        scalars = scalars.clone();
    }

    @Override public int[] in() { return in.clone(); }

    @Override public long[] args() { return args.clone(); }

    @Override public Scalar[] scalars() { return scalars.clone(); }

    int input(int i) { return in[i]; }

    int inputCount() { return in.length; }

    long arg(int i) { return args[i]; }

    int argCount() { return args.length; }

    Scalar scalar(int i) { return scalars[i]; }

    int scalarCount() { return scalars.length; }

    boolean reads(int id) {
        for (int i : in) if (i == id) return true;
        return false;
    }

    /** A copy with different integer arguments (the shrinker's shape reductions). */
    FuzzStep withArgs(long[] newArgs) { return new FuzzStep(out, op, in, newArgs, scalars, dtype); }

    /** The step as a line of Java code against the Tensor API, e.g. {@code t3 = t1.add(t2)}. */
    public String code() {
        String lhs = out >= 0 ? "t" + out + " = " : "";
        String self = in.length > 0 ? "t" + in[0] : "";
        String rest = IntStream.range(1, in.length).mapToObj(i -> "t" + in[i]).collect(Collectors.joining(", "));
        String sc = Arrays.stream(scalars).map(FuzzStep::literal).collect(Collectors.joining(", "));
        String a = Arrays.stream(args).mapToObj(Long::toString).collect(Collectors.joining(", "));
        String tail = args.length > 1 ? Arrays.stream(args, 1, args.length).mapToObj(Long::toString)
                .collect(Collectors.joining(", ")) : "";
        boolean keep = args.length > 0 && args[0] != 0;
        return lhs + switch (op) {
            case INPUT -> "input(" + dtype + ", " + Arrays.toString(shapeOfInput()) + ", seed " + args[0] + ", "
                    + FuzzInputs.Style.values()[(int) args[1]] + ", " + FuzzInputs.Values.values()[(int) args[2]]
                    + (args[3] > 0 ? " < " + args[3] : "") + ")";
            case SYNC -> in.length == 0 ? "scope.sync()" : self + ".toDoubleArray()";
            case CAST -> self + ".to(DType." + dtype + ")";
            case WHERE -> "Tensor.where(" + join("t" + in[0], join(rest, sc)) + ")";
            case CAT -> "Tensor.cat(" + a + ", " + Arrays.stream(in).mapToObj(i -> "t" + i)
                    .collect(Collectors.joining(", ")) + ")";
            case MAXIMUM, MINIMUM -> self + "." + (in.length > 1 ? javaName() + "(" + rest
                    : (op == FuzzOp.MAXIMUM ? "clampMin(" : "clampMax(") + sc) + ")";
            case SUM, MEAN, PROD, MAX, MIN -> self + "." + javaName()
                    + (args.length <= 1 ? "()" : "(new int[]{" + tail + "}, " + keep + ")");
            case ARGMAX, ARGMIN -> self + "." + javaName() + (args.length == 0 ? "()" : "(" + tail + ", " + keep + ")");
            case LAYER_NORM, RMS_NORM -> self + "." + javaName() + "(last " + a + " dims, "
                    + join(in.length > 1 ? rest : "null", op == FuzzOp.LAYER_NORM && in.length < 3 ? "null" : "")
                    + ", " + sc + ")";
            case INDEX_SELECT -> self + ".indexSelect(" + a + ", " + rest + ")";
            case PERMUTE, EXPAND, RESHAPE -> self + "." + javaName() + "(" + a + ")";
            case AS_STRIDED -> "Tensor.cat(0, " + self + ".reshape(-1)).asStrided(new long[]" + Arrays.toString(
                    OverflowSteps.asStridedSizes(args)).replace('[', '{').replace(']', '}') + ", new long[]"
                    + Arrays.toString(OverflowSteps.asStridedStrides(args)).replace('[', '{').replace(']', '}')
                    + ", " + args[0] + ")";
            default -> self + "." + javaName() + "(" + join(join(rest, sc), a) + ")";
        };
    }

    private String javaName() {
        String[] words = op.apiName().split("_");
        StringBuilder b = new StringBuilder(words[0]);
        for (int i = 1; i < words.length; i++) b.append(Character.toUpperCase(words[i].charAt(0))).append(words[i].substring(1));
        return b.toString();
    }

    /** The logical shape of an INPUT step. */
    long[] shapeOfInput() { return Arrays.copyOfRange(args, 4, args.length); }

    private static String join(String a, String b) {
        return a.isEmpty() ? b : b.isEmpty() ? a : a + ", " + b;
    }

    private static String literal(Scalar s) {
        return s.kind() == DType.F64 ? s.doubleValue() + "" : s.toString() + (s.kind() == DType.I64 ? "L" : "");
    }

    @Override
    public String toString() { return code(); }
}
