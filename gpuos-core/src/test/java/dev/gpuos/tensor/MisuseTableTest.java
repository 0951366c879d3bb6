package dev.gpuos.tensor;

import dev.gpuos.tensor.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15's misuse table: what a new user tries, each case with the outcome the API promises, run on the eager
 * and the batched CPU backend. A case is either a <b>clear error</b> (the documented exception, or a batching
 * backend's read error caused by it, with a message naming the bad input: every listed word must appear, and
 * none of the JDK's bare messages) or a <b>documented behaviour</b> (a value the javadoc or PyTorch defines).
 * Anything else is <b>wrong</b>: a value where an error is due, a wrong value, another exception, an unclear
 * message. The counts are printed and written to target/misuse-table.md; the README's table comes from there.
 */
class MisuseTableTest {

    /** What a case must give. */
    sealed interface Expect permits Fails, Gives {}

    /** A clear error: this type (or, for errors found when a batched op runs, the read error's cause). */
    record Fails(Class<? extends Throwable> type, String... words) implements Expect {}

    /** A documented behaviour: this value (arrays compared by content). */
    record Gives(Object value, String why) implements Expect {}

    record Case(String group, String name, Expect expect, Function<TensorScope, Object> run) {}

    private static final List<String> BARE = List.of("null", "Already closed", "long overflow", "integer overflow");
    private static final long MAX = Long.MAX_VALUE, MIN = Long.MIN_VALUE;
    private static final long P31 = 1L << 31, P40 = 1L << 40, P62 = 1L << 62;

    private static Fails fails(Class<? extends Throwable> type, String... words) { return new Fails(type, words); }

    private static Gives gives(Object value, String why) { return new Gives(value, why); }

    private static Tensor f32(TensorScope s, float... v) { return s.tensor(v); }

    private static Tensor m23(TensorScope s) { return s.arange(0, 6, 1).to(DType.F32).reshape(2, 3); }

    private static Tensor closed(TensorScope s) {
        try (TensorScope inner = TensorScope.open(s.backend())) {
            return inner.ones(DType.F32, 3);
        }
    }

    static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        String g = "creation";
        c.add(new Case(g, "zeros with a negative size", fails(ShapeMismatchException.class, "-1"), s -> s.zeros(DType.F32, 2, -1)));
        c.add(new Case(g, "zeros [2^31, 2^31] (issue)", fails(ShapeMismatchException.class, "2147483648", "limit"), s -> s.zeros(DType.F32, P31, P31)));
        c.add(new Case(g, "zeros [2^62] (issue)", fails(ShapeMismatchException.class, "4611686018427387904", "limit"), s -> s.zeros(DType.F32, P62)));
        c.add(new Case(g, "ones [Long.MAX_VALUE]", fails(ShapeMismatchException.class, "9223372036854775807"), s -> s.ones(DType.I64, MAX)));
        c.add(new Case(g, "zeros [2^62, 2^62, 0]", fails(ShapeMismatchException.class, "limit"), s -> s.zeros(DType.F32, P62, P62, 0)));
        c.add(new Case(g, "zeros [0, 5]", gives(new long[]{0, 5}, "empty tensors are legal"), s -> s.zeros(DType.F32, 0, 5).shape()));
        c.add(new Case(g, "full(NaN, I32) (issue)", fails(IllegalArgumentException.class, "NaN", "I32", "overflow"), s -> s.full(Double.NaN, DType.I32, 2)));
        c.add(new Case(g, "full(1e10, I32) (issue)", fails(IllegalArgumentException.class, "1.0E10", "I32"), s -> s.full(1e10, DType.I32, 2)));
        c.add(new Case(g, "full(+inf, I64)", fails(IllegalArgumentException.class, "Infinity", "I64"), s -> s.full(Double.POSITIVE_INFINITY, DType.I64, 2)));
        c.add(new Case(g, "full(1e19, I64)", fails(IllegalArgumentException.class, "1.0E19", "I64"), s -> s.full(1e19, DType.I64, 1)));
        c.add(new Case(g, "full(2^40 as long, I32)", fails(IllegalArgumentException.class, "1099511627776", "I32"), s -> s.full(P40, DType.I32, 1)));
        c.add(new Case(g, "full(1e300, F32)", fails(IllegalArgumentException.class, "1.0E300", "F32"), s -> s.full(1e300, DType.F32, 1)));
        c.add(new Case(g, "full(1e5, F16)", fails(IllegalArgumentException.class, "100000.0", "F16"), s -> s.full(1e5, DType.F16, 1)));
        c.add(new Case(g, "full(2.7, I32)", gives(new int[]{2, 2}, "truncates toward zero, like PyTorch"), s -> s.full(2.7, DType.I32, 2).toIntArray()));
        c.add(new Case(g, "full(-2.7, I64)", gives(new long[]{-2}, "truncates toward zero"), s -> s.full(-2.7, DType.I64, 1).toLongArray()));
        c.add(new Case(g, "full(+inf, F32)", gives(new float[]{Float.POSITIVE_INFINITY}, "infinity is a float"), s -> s.full(Double.POSITIVE_INFINITY, DType.F32, 1).toFloatArray()));
        c.add(new Case(g, "full(NaN, BOOL)", gives(new boolean[]{true}, "!= 0, like PyTorch"), s -> s.full(Double.NaN, DType.BOOL, 1).toBooleanArray()));
        c.add(new Case(g, "full(2^31 - 1, I32)", gives(new int[]{Integer.MAX_VALUE}, "the int range's edge"), s -> s.full((long) Integer.MAX_VALUE, DType.I32, 1).toIntArray()));
        c.add(new Case(g, "arange step 0", fails(IllegalArgumentException.class, "step"), s -> s.arange(0, 5, 0)));
        c.add(new Case(g, "arange(0, 5, -1)", fails(IllegalArgumentException.class, "sign"), s -> s.arange(0, 5, -1)));
        c.add(new Case(g, "arange(Long.MIN_VALUE, Long.MAX_VALUE, 1) (issue)", fails(IllegalArgumentException.class, "span", "limit"), s -> s.arange(MIN, MAX, 1)));
        c.add(new Case(g, "arange(0, Long.MAX_VALUE, 1)", fails(IllegalArgumentException.class, "9223372036854775807", "limit"), s -> s.arange(0, MAX, 1)));
        c.add(new Case(g, "arange(Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE)", gives(new long[]{MAX, -1}, "steps of -2^63: MAX, -1, then past MIN"), s -> s.arange(MAX, MIN, MIN).toLongArray()));
        c.add(new Case(g, "arange(MAX - 2, MAX, 1)", gives(new long[]{MAX - 2, MAX - 1}, "no overflow at the top"), s -> s.arange(MAX - 2, MAX, 1).toLongArray()));
        c.add(new Case(g, "arange(5, 0, -2)", gives(new long[]{5, 3, 1}, "negative steps count down"), s -> s.arange(5, 0, -2).toLongArray()));
        c.add(new Case(g, "arange(3, 3, 1)", gives(new long[0], "empty"), s -> s.arange(3, 3, 1).toLongArray()));
        c.add(new Case(g, "arange(0.0, NaN, 1.0)", fails(IllegalArgumentException.class, "NaN"), s -> s.arange(0.0, Double.NaN, 1.0, DType.F32)));
        c.add(new Case(g, "arange(0, 1e300, 1e-300)", fails(IllegalArgumentException.class, "limit"), s -> s.arange(0, 1e300, 1e-300, DType.F32)));
        c.add(new Case(g, "tensor(5 floats, shape [2, 3])", fails(ShapeMismatchException.class, "5", "[2, 3]"), s -> s.tensor(new float[5], 2, 3)));
        c.add(new Case(g, "tensor(null)", fails(NullPointerException.class, "data"), s -> s.tensor((float[]) null)));
        c.add(new Case(g, "zeros(null dtype)", fails(NullPointerException.class, "dtype"), s -> s.zeros(null, 2)));
        c.add(new Case(g, "zeros(F32, null shape)", fails(NullPointerException.class, "shape"), s -> s.zeros(DType.F32, (long[]) null)));
        c.add(new Case(g, "rand(I64)", fails(UnsupportedDTypeException.class, "I64"), s -> s.rand(1, DType.I64, 3)));
        c.add(new Case(g, "randn(BOOL)", fails(UnsupportedDTypeException.class, "BOOL"), s -> s.randn(1, DType.BOOL, 3)));

        g = "views";
        c.add(new Case(g, "arange(3).narrow(0, 1, Long.MAX_VALUE) (issue)", fails(IndexOutOfBoundsException.class, "9223372036854775807"), s -> s.arange(3).narrow(0, 1, MAX)));
        c.add(new Case(g, "narrow(0, Long.MAX_VALUE, 1)", fails(IndexOutOfBoundsException.class, "9223372036854775807"), s -> s.arange(3).narrow(0, MAX, 1)));
        c.add(new Case(g, "narrow(0, Long.MIN_VALUE, 1)", fails(IndexOutOfBoundsException.class, "-9223372036854775808"), s -> s.arange(3).narrow(0, MIN, 1)));
        c.add(new Case(g, "narrow(0, -1, 2)", fails(IndexOutOfBoundsException.class, "-1"), s -> s.arange(3).narrow(0, -1, 2)));
        c.add(new Case(g, "narrow(0, 4, 0) past the end", fails(IndexOutOfBoundsException.class, "4"), s -> s.arange(3).narrow(0, 4, 0)));
        c.add(new Case(g, "narrow(5, 0, 1)", fails(IndexOutOfBoundsException.class, "5"), s -> s.arange(3).narrow(5, 0, 1)));
        c.add(new Case(g, "narrow(0, -3, 3)", gives(new long[]{0, 1, 2}, "negative start counts from the end"), s -> s.arange(3).narrow(0, -3, 3).toLongArray()));
        c.add(new Case(g, "narrow(0, 3, 0)", gives(new long[0], "an empty slice at the end"), s -> s.arange(3).narrow(0, 3, 0).toLongArray()));
        c.add(new Case(g, "select(0, Long.MAX_VALUE)", fails(IndexOutOfBoundsException.class, "9223372036854775807"), s -> s.arange(3).select(0, MAX)));
        c.add(new Case(g, "select(0, Long.MIN_VALUE)", fails(IndexOutOfBoundsException.class, "-9223372036854775808"), s -> s.arange(3).select(0, MIN)));
        c.add(new Case(g, "select on a 0-dim tensor", fails(IndexOutOfBoundsException.class, "0-dim"), s -> s.scalar(1.0).select(0, 0)));
        c.add(new Case(g, "slice step 0", fails(IllegalArgumentException.class, "step"), s -> s.arange(3).slice(0, 0, 3, 0)));
        c.add(new Case(g, "slice step -1", fails(IllegalArgumentException.class, "-1"), s -> s.arange(3).slice(0, 0, 3, -1)));
        c.add(new Case(g, "slice(0, MIN, MAX, MAX)", gives(new long[]{0}, "clamped; a huge step takes one element"), s -> s.arange(3).slice(0, MIN, MAX, MAX).toLongArray()));
        c.add(new Case(g, "slice(0, 1, 3, MAX).add(0)", gives(new long[]{1}, "no stride overflow"), s -> s.arange(3).to(DType.F32).slice(0, 1, 3, MAX).add(0L).toLongArray()));
        c.add(new Case(g, "slice(0, 10, 20)", gives(new long[0], "out-of-range bounds clamp, like Python"), s -> s.arange(3).slice(0, 10, 20).toLongArray()));
        c.add(new Case(g, "asStrided({2}, {Long.MAX_VALUE}, 0) (issue)", fails(IndexOutOfBoundsException.class, "9223372036854775807"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{2}, new long[]{MAX}, 0)));
        c.add(new Case(g, "asStrided strides whose sum overflows", fails(IndexOutOfBoundsException.class, "overflow"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{2, 2}, new long[]{MAX / 2 + 1, MAX / 2 + 1}, 0)));
        c.add(new Case(g, "asStrided offset Long.MAX_VALUE", fails(IndexOutOfBoundsException.class, "9223372036854775807"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{1}, new long[]{1}, MAX)));
        c.add(new Case(g, "asStrided one past the end", fails(IndexOutOfBoundsException.class, "4", "holds 4"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{1}, new long[]{1}, 4)));
        c.add(new Case(g, "asStrided size 2^40, stride 2^30", fails(IndexOutOfBoundsException.class, "overflow"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{P40}, new long[]{1L << 30}, 0)));
        c.add(new Case(g, "asStrided [2^31, 2^31] strides 0", fails(ShapeMismatchException.class, "limit"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{P31, P31}, new long[]{0, 0}, 0)));
        c.add(new Case(g, "asStrided negative stride", fails(IllegalArgumentException.class, "-1"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{2}, new long[]{-1}, 0)));
        c.add(new Case(g, "asStrided negative offset", fails(IllegalArgumentException.class, "-1"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{1}, new long[]{1}, -1)));
        c.add(new Case(g, "asStrided rank mismatch", fails(IllegalArgumentException.class, "rank"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{1, 2}, new long[]{1}, 0)));
        c.add(new Case(g, "asStrided null strides", fails(NullPointerException.class, "strides"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{1}, null, 0)));
        c.add(new Case(g, "asStrided empty view at the end, stride MAX", gives(new long[]{0}, "an empty view touches nothing"), s -> s.zeros(DType.F32, 4).asStrided(new long[]{0}, new long[]{MAX}, 4).shape()));
        c.add(new Case(g, "asStrided sliding windows (overlap)", gives(new long[]{0, 1, 1, 2}, "zero and overlapping strides read, never write"), s -> s.arange(3).asStrided(new long[]{2, 2}, new long[]{1, 1}, 0).add(0L).toLongArray()));
        c.add(new Case(g, "expand to [2^31, 2^31]", fails(ShapeMismatchException.class, "limit"), s -> s.ones(DType.F32, 1, 1).expand(P31, P31)));
        c.add(new Case(g, "expand a size-3 dim to 4", fails(ShapeMismatchException.class, "3", "4"), s -> s.ones(DType.F32, 3).expand(4)));
        c.add(new Case(g, "expand to fewer dims", fails(ShapeMismatchException.class, "fewer"), s -> s.ones(DType.F32, 1, 3).expand(3)));
        c.add(new Case(g, "expand -1 in a new leading dim", fails(ShapeMismatchException.class, "-1"), s -> s.ones(DType.F32, 3).expand(-1, 3)));
        c.add(new Case(g, "expand to 2^32 elements (no memory)", gives(new long[]{1L << 32}, "zero strides: a view, nothing allocated"), s -> s.ones(DType.F32, 1).expand(1L << 32).shape()));
        c.add(new Case(g, "reshape [2^31, 2^31]", fails(ShapeMismatchException.class, "limit"), s -> s.arange(4).reshape(P31, P31)));
        c.add(new Case(g, "reshape [-1, 2^61]", fails(ShapeMismatchException.class, "limit"), s -> s.arange(4).reshape(-1, 1L << 61)));
        c.add(new Case(g, "reshape [-1, -1]", fails(ShapeMismatchException.class, "-1"), s -> s.arange(4).reshape(-1, -1)));
        c.add(new Case(g, "reshape [-1, 0] of 4 elements", fails(ShapeMismatchException.class, "4"), s -> s.arange(4).reshape(-1, 0)));
        c.add(new Case(g, "reshape [3] of 4 elements", fails(ShapeMismatchException.class, "4"), s -> s.arange(4).reshape(3)));
        c.add(new Case(g, "reshape [-2, 2]", fails(ShapeMismatchException.class, "-2"), s -> s.arange(4).reshape(-2, 2)));
        c.add(new Case(g, "view of a transposed tensor", fails(ShapeMismatchException.class, "reshape"), s -> m23(s).transpose(0, 1).view(6)));
        c.add(new Case(g, "reshape(-1) of [0, 3]", gives(new long[]{0}, "empty stays empty"), s -> s.zeros(DType.F32, 0, 3).reshape(-1).shape()));
        c.add(new Case(g, "permute repeating a dim", fails(IllegalArgumentException.class, "repeats"), s -> m23(s).permute(0, 0)));
        c.add(new Case(g, "permute with too few dims", fails(IllegalArgumentException.class, "2"), s -> m23(s).permute(0)));
        c.add(new Case(g, "transpose(0, 2) of 2-D", fails(IndexOutOfBoundsException.class, "2"), s -> m23(s).transpose(0, 2)));
        c.add(new Case(g, "unsqueeze(5) of 2-D", fails(IndexOutOfBoundsException.class, "5"), s -> m23(s).unsqueeze(5)));
        c.add(new Case(g, "squeeze(1) of size 3", gives(new long[]{2, 3}, "unchanged, like PyTorch"), s -> m23(s).squeeze(1).shape()));

        g = "elementwise and casts";
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e20f};
        c.add(new Case(g, "F32 [NaN, inf, -inf, 1e20] to I32 (issue)", gives(new int[]{0, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE}, "saturates, NaN -> 0 (PyTorch on CUDA, Java)"), s -> f32(s, specials).to(DType.I32).toIntArray()));
        c.add(new Case(g, "F32 [NaN, inf, -inf, 1e20] to I64", gives(new long[]{0, MAX, MIN, MAX}, "saturates, NaN -> 0"), s -> f32(s, specials).to(DType.I64).toLongArray()));
        c.add(new Case(g, "F64 -1e300 to I32", gives(new int[]{Integer.MIN_VALUE}, "saturates"), s -> s.tensor(new double[]{-1e300}).to(DType.I32).toIntArray()));
        c.add(new Case(g, "F16 inf to I32", gives(new int[]{Integer.MAX_VALUE}, "saturates"), s -> s.tensor(new float[]{Float.POSITIVE_INFINITY}, DType.F16).to(DType.I32).toIntArray()));
        c.add(new Case(g, "BF16 -inf to I64", gives(new long[]{MIN}, "saturates"), s -> s.tensor(new float[]{Float.NEGATIVE_INFINITY}, DType.BF16).to(DType.I64).toLongArray()));
        c.add(new Case(g, "F32 1e20 * 1 to I32 (fused store)", gives(new int[]{Integer.MAX_VALUE}, "saturates on store"), s -> f32(s, 1e20f).mul(1.0).to(DType.I32).toIntArray()));
        c.add(new Case(g, "F32 NaN to BOOL", gives(new boolean[]{true}, "!= 0, like PyTorch"), s -> f32(s, Float.NaN).to(DType.BOOL).toBooleanArray()));
        c.add(new Case(g, "F32 [2.9, -2.9] to I32", gives(new int[]{2, -2}, "truncates toward zero"), s -> f32(s, 2.9f, -2.9f).to(DType.I32).toIntArray()));
        c.add(new Case(g, "I64 2^40 to I32", gives(new long[]{0}, "integer narrowing wraps, like PyTorch"), s -> s.tensor(new long[]{P40}).to(DType.I32).toLongArray()));
        c.add(new Case(g, "I32 MAX + 1", gives(new int[]{Integer.MIN_VALUE}, "integer overflow wraps, like PyTorch"), s -> s.tensor(new int[]{Integer.MAX_VALUE}).add(s.tensor(new int[]{1})).toIntArray()));
        c.add(new Case(g, "I32 floorDivide by 0", gives(new int[]{0}, "defined as 0 (PyTorch raises on the CPU)"), s -> s.tensor(new int[]{7}).floorDivide(s.tensor(new int[]{0})).toIntArray()));
        c.add(new Case(g, "I64 remainder by 0", gives(new long[]{0}, "defined as 0"), s -> s.tensor(new long[]{7}).remainder(0L).toLongArray()));
        c.add(new Case(g, "F32 1 / 0", gives(new float[]{Float.POSITIVE_INFINITY}, "IEEE"), s -> f32(s, 1f).div(0.0).toFloatArray()));
        c.add(new Case(g, "add(null) (issue)", fails(NullPointerException.class, "add", "other"), s -> m23(s).add((Tensor) null)));
        c.add(new Case(g, "mul(null)", fails(NullPointerException.class, "mul", "other"), s -> m23(s).mul((Tensor) null)));
        c.add(new Case(g, "eq(null)", fails(NullPointerException.class, "eq", "other"), s -> m23(s).eq((Tensor) null)));
        c.add(new Case(g, "maximum(null)", fails(NullPointerException.class, "other"), s -> m23(s).maximum(null)));
        c.add(new Case(g, "pow(null tensor)", fails(NullPointerException.class, "exponent"), s -> m23(s).pow((Tensor) null)));
        c.add(new Case(g, "where(null, x, y)", fails(NullPointerException.class, "condition"), s -> Tensor.where(null, m23(s), m23(s))));
        c.add(new Case(g, "where(cond, null, y)", fails(NullPointerException.class, "x"), s -> Tensor.where(s.ones(DType.BOOL, 3), null, f32(s, 1, 2, 3))));
        c.add(new Case(g, "clamp(null, max)", fails(NullPointerException.class, "min"), s -> m23(s).clamp(null, Scalar.of(1.0))));
        c.add(new Case(g, "copyFrom(null)", fails(NullPointerException.class, "source"), s -> m23(s).copyFrom(null)));
        c.add(new Case(g, "shapes [2, 3] + [4]", fails(ShapeMismatchException.class, "[2, 3]", "[4]"), s -> m23(s).add(s.ones(DType.F32, 4))));
        c.add(new Case(g, "[2^40, 1] + [1, 2^40] (views)", fails(ShapeMismatchException.class, "limit"), s -> s.ones(DType.F32, 1, 1).expand(P40, 1).add(s.ones(DType.F32, 1, 1).expand(1, P40))));
        c.add(new Case(g, "neg of BOOL", fails(UnsupportedDTypeException.class, "BOOL"), s -> s.ones(DType.BOOL, 2).neg()));
        c.add(new Case(g, "BOOL - BOOL", fails(UnsupportedDTypeException.class, "BOOL"), s -> s.ones(DType.BOOL, 2).sub(s.ones(DType.BOOL, 2))));
        c.add(new Case(g, "gelu of I32", fails(UnsupportedDTypeException.class, "I32"), s -> s.ones(DType.I32, 2).gelu()));
        c.add(new Case(g, "I32 ** -1", fails(IllegalArgumentException.class, "-1"), s -> s.ones(DType.I32, 2).pow(-1L)));
        c.add(new Case(g, "where with an I32 condition", fails(UnsupportedDTypeException.class, "BOOL"), s -> Tensor.where(s.ones(DType.I32, 2), f32(s, 1, 2), f32(s, 3, 4))));
        c.add(new Case(g, "operands on two backends", fails(IllegalArgumentException.class, "backends"), s -> {
            try (TensorScope other = TensorScope.open(CpuBackend.eager())) {
                return m23(s).add(other.ones(DType.F32, 2, 3));
            }
        }));

        g = "reductions, nn, linear algebra, indexing";
        c.add(new Case(g, "sum over axis 2 of 2-D", fails(IndexOutOfBoundsException.class, "2"), s -> m23(s).sum(new int[]{2}, false)));
        c.add(new Case(g, "sum over axes {1, -1}", fails(IllegalArgumentException.class, "1"), s -> m23(s).sum(new int[]{1, -1}, false)));
        c.add(new Case(g, "argmax(-3)", fails(IndexOutOfBoundsException.class, "-3"), s -> m23(s).argmax(-3, true)));
        c.add(new Case(g, "mean of I32", fails(UnsupportedDTypeException.class, "I32"), s -> s.ones(DType.I32, 3).mean()));
        c.add(new Case(g, "sum of an empty tensor", gives(new float[]{0}, "0, like PyTorch"), s -> s.zeros(DType.F32, 0).sum().toFloatArray()));
        c.add(new Case(g, "softmax(5)", fails(IndexOutOfBoundsException.class, "5"), s -> m23(s).softmax(5)));
        c.add(new Case(g, "softmax of I64", fails(UnsupportedDTypeException.class, "I64"), s -> s.arange(3).softmax(0)));
        c.add(new Case(g, "layerNorm eps -1", fails(IllegalArgumentException.class, "eps"), s -> m23(s).layerNorm(new long[]{3}, null, null, -1)));
        c.add(new Case(g, "layerNorm shape [2] of [2, 3]", fails(ShapeMismatchException.class, "[2]"), s -> m23(s).layerNorm(new long[]{2}, null, null, 1e-5)));
        c.add(new Case(g, "layerNorm(null, null)", fails(NullPointerException.class, "weight"), s -> m23(s).layerNorm(null, null)));
        c.add(new Case(g, "layerNorm(null shape)", fails(NullPointerException.class, "normalizedShape"), s -> m23(s).layerNorm(null, null, null, 1e-5)));
        c.add(new Case(g, "rmsNorm(null)", fails(NullPointerException.class, "weight"), s -> m23(s).rmsNorm(null)));
        c.add(new Case(g, "matmul [2, 3] x [2, 3]", fails(ShapeMismatchException.class, "[2, 3]"), s -> m23(s).matmul(m23(s))));
        c.add(new Case(g, "matmul of a 0-dim tensor", fails(ShapeMismatchException.class, "dimension"), s -> s.scalar(1.0).matmul(m23(s))));
        c.add(new Case(g, "matmul F32 x F64", fails(UnsupportedDTypeException.class, "F64"), s -> m23(s).matmul(s.ones(DType.F64, 3, 1))));
        c.add(new Case(g, "matmul(null)", fails(NullPointerException.class, "matmul", "other"), s -> m23(s).matmul(null)));
        c.add(new Case(g, "bmm of 2-D", fails(ShapeMismatchException.class, "[b, n, k]"), s -> m23(s).bmm(m23(s))));
        c.add(new Case(g, "bmm(null)", fails(NullPointerException.class, "bmm", "other"), s -> m23(s).bmm(null)));
        c.add(new Case(g, "indexSelect with an F32 index", fails(UnsupportedDTypeException.class, "F32"), s -> m23(s).indexSelect(0, f32(s, 0))));
        c.add(new Case(g, "indexSelect with a 2-D index", fails(ShapeMismatchException.class, "index"), s -> m23(s).indexSelect(0, s.zeros(DType.I64, 1, 1))));
        c.add(new Case(g, "indexSelect index 5 of 2, read", fails(IndexOutOfBoundsException.class, "5"), s -> m23(s).indexSelect(0, s.tensor(new long[]{5})).toFloatArray()));
        c.add(new Case(g, "indexSelect index -1, read", fails(IndexOutOfBoundsException.class, "-1"), s -> m23(s).indexSelect(0, s.tensor(new long[]{-1})).toFloatArray()));
        c.add(new Case(g, "indexSelect(0, null)", fails(NullPointerException.class, "index"), s -> m23(s).indexSelect(0, null)));
        c.add(new Case(g, "embedding(null)", fails(NullPointerException.class, "indices"), s -> m23(s).embedding(null)));
        c.add(new Case(g, "cat of 0-dim tensors", fails(ShapeMismatchException.class, "zero-dimensional"), s -> Tensor.cat(0, s.scalar(1.0), s.scalar(2.0))));
        c.add(new Case(g, "cat [2, 3] and [4] on dim 1", fails(ShapeMismatchException.class, "[4]"), s -> Tensor.cat(1, m23(s), s.ones(DType.F32, 4))));
        c.add(new Case(g, "cat of nothing", fails(IllegalArgumentException.class, "at least one"), s -> Tensor.cat(0, List.of())));
        c.add(new Case(g, "cat(0, (Tensor[]) null)", fails(NullPointerException.class, "tensors"), s -> Tensor.cat(0, (Tensor[]) null)));
        c.add(new Case(g, "cat(0, a, null)", fails(NullPointerException.class, "tensor 1"), s -> Tensor.cat(0, f32(s, 1), null)));
        c.add(new Case(g, "item() of 6 elements", fails(ShapeMismatchException.class, "6"), s -> m23(s).item()));

        g = "reading back";
        c.add(new Case(g, "tensor(long[]{2^40, 5}).toIntArray() (issue)", fails(ArithmeticException.class, "1099511627776", "[0]"), s -> s.tensor(new long[]{P40, 5}).toIntArray()));
        c.add(new Case(g, "I64 [5, -2^40] toIntArray", fails(ArithmeticException.class, "-1099511627776", "[1]"), s -> s.tensor(new long[]{5, -P40}).toIntArray()));
        c.add(new Case(g, "F32 NaN toIntArray", fails(ArithmeticException.class, "NaN"), s -> f32(s, Float.NaN).toIntArray()));
        c.add(new Case(g, "F32 3e9 toIntArray", fails(ArithmeticException.class, "3.0E9"), s -> f32(s, 3e9f).toIntArray()));
        c.add(new Case(g, "F32 2.5 toIntArray", gives(new int[]{2}, "truncates toward zero"), s -> f32(s, 2.5f).toIntArray()));
        c.add(new Case(g, "I64 -2^31 toIntArray", gives(new int[]{Integer.MIN_VALUE}, "in range"), s -> s.tensor(new long[]{-P31}).toIntArray()));
        c.add(new Case(g, "toFloatArray of 2^32 elements (issue)", fails(UnsupportedOperationException.class, "4294967296"), s -> s.ones(DType.F32, 1).expand(1L << 32).toFloatArray()));
        c.add(new Case(g, "toLongArray of 2^31 elements", fails(UnsupportedOperationException.class, "2147483648"), s -> s.ones(DType.I64, 1).expand(P31).toLongArray()));
        c.add(new Case(g, "toIntArray of 3 x 2^30 elements", fails(UnsupportedOperationException.class, "3221225472"), s -> s.ones(DType.I32, 1, 1).expand(3, 1L << 30).toIntArray()));
        c.add(new Case(g, "copyTo an array of the wrong length", fails(ShapeMismatchException.class, "6", "5"), s -> {
            m23(s).copyTo(new float[5]);
            return null;
        }));

        g = "scopes and in-place";
        c.add(new Case(g, "op on a closed tensor", fails(TensorClosedException.class, "closed"), s -> f32(s, 1, 2, 3).add(closed(s))));
        c.add(new Case(g, "read of a closed tensor", fails(TensorClosedException.class, "closed"), s -> closed(s).toFloatArray()));
        c.add(new Case(g, "view of a closed tensor", fails(TensorClosedException.class, "closed"), s -> closed(s).reshape(3, 1)));
        c.add(new Case(g, "factory of a closed scope", fails(TensorClosedException.class, "closed"), s -> {
            TensorScope gone = TensorScope.open(s.backend());
            gone.close();
            return gone.ones(DType.F32, 2);
        }));
        c.add(new Case(g, "transferTo a closed scope", fails(TensorClosedException.class, "closed"), s -> {
            TensorScope gone = TensorScope.open(s.backend());
            gone.close();
            return f32(s, 1).transferTo(gone);
        }));
        c.add(new Case(g, "transferTo(null)", fails(NullPointerException.class, "target"), s -> f32(s, 1).transferTo(null)));
        c.add(new Case(g, "close a scope twice", gives(Boolean.FALSE, "idempotent"), s -> {
            TensorScope twice = TensorScope.open(s.backend());
            twice.close();
            twice.close();
            return twice.isOpen();
        }));
        c.add(new Case(g, "copyFrom into a zero-stride view", fails(IllegalArgumentException.class, "zero stride"), s -> s.zeros(DType.F32, 1).expand(3).copyFrom(f32(s, 1, 2, 3))));
        c.add(new Case(g, "copyFrom between views of one buffer", fails(IllegalArgumentException.class, "views of one buffer"), s -> {
            Tensor a = s.zeros(DType.F32, 4);
            return a.narrow(0, 0, 2).copyFrom(a.narrow(0, 2, 2));
        }));
        c.add(new Case(g, "copyFrom [4] into [2, 3]", fails(ShapeMismatchException.class, "[4]"), s -> m23(s).copyFrom(s.ones(DType.F32, 4))));
        c.add(new Case(g, "copyFrom F32 1e20 into I32", gives(new int[]{Integer.MAX_VALUE}, "converts like to(I32): saturates"), s -> {
            Tensor t = s.zeros(DType.I32, 1);
            t.copyFrom(f32(s, 1e20f));
            return t.toIntArray();
        }));
        return c;
    }

    /** How one case went: "clear", "documented", or why it is wrong. */
    static String judge(Case k, TensorScope s) {
        Object value;
        try {
            value = k.run().apply(s);
            if (k.expect() instanceof Gives(Object expected, String why)) {
                return Objects.deepEquals(expected, value) ? "documented"
                        : "wrong value " + show(value) + ", expected " + show(expected) + " (" + why + ")";
            }
            return "no error, gave " + show(value);
        } catch (Throwable t) {
            if (!(k.expect() instanceof Fails(Class<? extends Throwable> type, String[] words))) {
                return "threw " + t;
            }
            // A batching backend finds a bad index only when the op runs: the read error carries it as its cause.
            Throwable e = type.isInstance(t) ? t : type.isInstance(t.getCause()) ? t.getCause() : null;
            if (e == null) return "threw " + t + " instead of " + type.getSimpleName();
            String m = t.getMessage() == null ? "" : t.getMessage();
            if (m.isBlank() || BARE.contains(m)) return "unclear message '" + m + "'";
            for (String w : words) {
                if (!m.contains(w)) return "message '" + m + "' does not name '" + w + "'";
            }
            return "clear";
        }
    }

    private static String show(Object v) {
        if (v == null) return "null";
        if (v.getClass().isArray()) return Arrays.deepToString(new Object[]{v});
        return v.toString();
    }

    @Test
    void everyMisuseIsAClearErrorOrADocumentedBehaviour() throws IOException {
        List<Case> cases = cases();
        Map<String, int[]> perGroup = new LinkedHashMap<>();  // clear, documented, wrong
        List<String> wrong = new ArrayList<>();
        int issueCases = 0;
        for (Case k : cases) if (k.name().contains("(issue)")) issueCases++;
        for (String mode : List.of("eager", "batched")) {
            CpuBackend backend = mode.equals("eager") ? CpuBackend.eager() : CpuBackend.batched(10_000, Duration.ofHours(1));
            for (Case k : cases) {
                String verdict;
                try (TensorScope s = TensorScope.open(backend)) {
                    verdict = judge(k, s);
                }
                int[] counts = perGroup.computeIfAbsent(k.group(), x -> new int[3]);
                switch (verdict) {
                    case "clear" -> counts[0]++;
                    case "documented" -> counts[1]++;
                    default -> {
                        counts[2]++;
                        wrong.add(mode + ": " + k.name() + ": " + verdict);
                    }
                }
            }
        }
        StringBuilder table = new StringBuilder("| cases (x 2 CPU backends: eager, batched) | tried | clear error | documented behaviour | wrong |\n|---|---|---|---|---|\n");
        int[] total = new int[3];
        for (var e : perGroup.entrySet()) {
            int[] v = e.getValue();
            table.append(String.format("| %s | %d | %d | %d | %d |%n", e.getKey(), (v[0] + v[1] + v[2]) / 2, v[0] / 2, v[1] / 2, v[2]));
            for (int i = 0; i < 3; i++) total[i] += v[i];
        }
        table.append(String.format("| **all** (%d from the issue) | %d | %d | %d | %d |%n", issueCases, cases.size(),
                total[0] / 2, total[1] / 2, total[2]));
        System.out.print(table);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "misuse-table.md"), table);
        assertEquals(List.of(), wrong);
        assertTrue(cases.size() >= 117, "the table should be at least as broad as the issue's 117 cases: " + cases.size());
    }
}
