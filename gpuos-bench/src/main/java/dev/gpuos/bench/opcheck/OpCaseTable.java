package dev.gpuos.bench.opcheck;

import dev.gpuos.bench.opcheck.Cases.OpFamilyRef;
import dev.gpuos.bench.opcheck.OpCase.Check;
import dev.gpuos.bench.opcheck.OpCase.Input;
import dev.gpuos.bench.opcheck.OpCase.View;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.op.ElementwiseOp;
import dev.gpuos.tensor.op.ReduceOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

import static dev.gpuos.bench.opcheck.Cases.in;
import static dev.gpuos.bench.opcheck.Cases.index;
import static dev.gpuos.bench.opcheck.Cases.inputs;
import static dev.gpuos.bench.opcheck.Cases.py;
import static dev.gpuos.bench.opcheck.Cases.torchDType;
import static dev.gpuos.bench.opcheck.Cases.tuple;
import static dev.gpuos.bench.opcheck.OpCase.Check.ELEMENTWISE;
import static dev.gpuos.bench.opcheck.OpCase.Check.NORMWISE;
import static dev.gpuos.bench.opcheck.Values.CASTABLE;
import static dev.gpuos.bench.opcheck.Values.DIVISOR;
import static dev.gpuos.bench.opcheck.Values.EXPONENT;
import static dev.gpuos.bench.opcheck.Values.MASKED;
import static dev.gpuos.bench.opcheck.Values.MIXED;
import static dev.gpuos.bench.opcheck.Values.NONFINITE;
import static dev.gpuos.bench.opcheck.Values.NORMAL;
import static dev.gpuos.bench.opcheck.Values.UNIT;
import static dev.gpuos.tensor.DType.BOOL;
import static dev.gpuos.tensor.DType.BF16;
import static dev.gpuos.tensor.DType.F16;
import static dev.gpuos.tensor.DType.F32;
import static dev.gpuos.tensor.DType.F64;
import static dev.gpuos.tensor.DType.I32;
import static dev.gpuos.tensor.DType.I64;

/**
 * The one table of op comparison cases: every public op of {@link Tensor}, each tried with every dtype. Inputs
 * are named {@code a, b, c} in the order the GPUOS call takes them; the PyTorch expression uses the same names.
 * Elementwise cases use [6, 8] inputs (48 values, about 40% of them special in {@link Values#MIXED});
 * a representative subset also runs on transposed, strided (offset) and expanded (zero-stride) views.
 */
public final class OpCaseTable {
    private OpCaseTable() {}

    interface TensorTensor { Tensor apply(Tensor a, Tensor b); }
    interface TensorDouble { Tensor apply(Tensor a, double s); }
    interface TensorLong { Tensor apply(Tensor a, long s); }

    public static List<OpFamily> families() {
        List<OpFamily> t = new ArrayList<>();
        // --- binary arithmetic: tensor operand (broadcast), double scalar, long scalar ---------------------------
        binary(t, "add", ElementwiseOp.ADD, "torch.add", Tensor::add, Tensor::add, Tensor::add, MIXED, 2.5, 3, true);
        binary(t, "sub", ElementwiseOp.SUB, "torch.sub", Tensor::sub, Tensor::sub, Tensor::sub, MIXED, 0.75, -4, false);
        binary(t, "mul", ElementwiseOp.MUL, "torch.mul", Tensor::mul, Tensor::mul, Tensor::mul, MIXED, -1.5, 7, true);
        binary(t, "div", ElementwiseOp.DIV, "torch.div", Tensor::div, Tensor::div, Tensor::div, DIVISOR, 0.3, 3, true);
        // Integer floor division and modulo with negative operands (divisors never 0 or -1: see the known cases).
        binary(t, "floorDivide", ElementwiseOp.FLOOR_DIVIDE, "torch.floor_divide", Tensor::floorDivide,
                Tensor::floorDivide, Tensor::floorDivide, DIVISOR, -2.5, -3, false);
        binary(t, "remainder", ElementwiseOp.REMAINDER, "torch.remainder", Tensor::remainder, Tensor::remainder,
                Tensor::remainder, DIVISOR, 2.5, -3, false);
        // Exponents avoid 0.5, 2, 3, -2 and -1 as double scalars: PyTorch rewrites those to sqrt/x*x/... whose
        // special values differ from pow's (pow(-inf, 0.5) = inf, sqrt(-inf) = NaN).
        binary(t, "pow", ElementwiseOp.POW, "torch.pow", Tensor::pow, Tensor::pow, Tensor::pow, EXPONENT, -1.5, 4, false);
        binary(t, "maximum", ElementwiseOp.MAXIMUM, "torch.maximum", Tensor::maximum, null, null, MIXED, 0, 0, true);
        binary(t, "minimum", ElementwiseOp.MINIMUM, "torch.minimum", Tensor::minimum, null, null, MIXED, 0, 0, false);
        // Comparisons round a scalar to the common dtype first: f16 == 0.1 compares with 0.1 rounded to f16.
        binary(t, "eq", ElementwiseOp.EQ, "torch.eq", Tensor::eq, Tensor::eq, Tensor::eq, MIXED, 0.1, 1, true);
        binary(t, "ne", ElementwiseOp.NE, "torch.ne", Tensor::ne, Tensor::ne, Tensor::ne, MIXED, 0.1, 1, false);
        binary(t, "lt", ElementwiseOp.LT, "torch.lt", Tensor::lt, Tensor::lt, Tensor::lt, MIXED, 0.1, 1, false);
        binary(t, "le", ElementwiseOp.LE, "torch.le", Tensor::le, Tensor::le, Tensor::le, MIXED, 0.1, 1, false);
        binary(t, "gt", ElementwiseOp.GT, "torch.gt", Tensor::gt, Tensor::gt, Tensor::gt, MIXED, 0.1, 1, false);
        binary(t, "ge", ElementwiseOp.GE, "torch.ge", Tensor::ge, Tensor::ge, Tensor::ge, MIXED, 0.1, 1, false);
        t.add(promotion());
        // Scalar-first forms (torch.rsub(a, s) = s - a; Python's s / a): the scalar is operand 0 of the kernel.
        t.add(family("rsub(Tensor)", ElementwiseOp.SUB, (f, d) -> List.of(
                Cases.of(f, d, "broadcast", "torch.rsub(a, b)", ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8), in("b", d, MIXED, 8)),
                        x -> x.get(0).rsub(x.get(1))),
                Cases.of(f, d, "views", "torch.rsub(a, b)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 8).as(View.TRANSPOSED), in("b", d, MIXED, 6, 8).as(View.EXPANDED)),
                        x -> x.get(0).rsub(x.get(1))))));
        t.add(family("rsub(double)", ElementwiseOp.SUB, (f, d) -> List.of(Cases.of(f, d, "scalar", "torch.rsub(a, 1.0)",
                ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8)), x -> x.getFirst().rsub(1.0), "scalar", 1.0))));
        t.add(family("rsub(long)", ElementwiseOp.SUB, (f, d) -> List.of(Cases.of(f, d, "scalar", "torch.rsub(a, 3)",
                ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8).as(View.STRIDED)), x -> x.getFirst().rsub(3L), "scalar", 3L))));
        t.add(family("rdiv(double)", ElementwiseOp.DIV, (f, d) -> List.of(Cases.of(f, d, "scalar", "0.3 / a",
                ELEMENTWISE, inputs(in("a", d, DIVISOR, 6, 8)), x -> x.getFirst().rdiv(0.3), "scalar", 0.3))));
        t.add(family("rdiv(long)", ElementwiseOp.DIV, (f, d) -> List.of(Cases.of(f, d, "scalar", "1 / a",
                ELEMENTWISE, inputs(in("a", d, DIVISOR, 6, 8).as(View.TRANSPOSED)), x -> x.getFirst().rdiv(1L), "scalar", 1L))));

        // --- unary ---------------------------------------------------------------------------------------------
        unary(t, "neg()", ElementwiseOp.NEG, "torch.neg(a)", Tensor::neg, View.EXPANDED);
        unary(t, "abs()", ElementwiseOp.ABS, "torch.abs(a)", Tensor::abs, null);
        unary(t, "relu()", ElementwiseOp.RELU, "torch.relu(a)", Tensor::relu, null);
        unary(t, "exp()", ElementwiseOp.EXP, "torch.exp(a)", Tensor::exp, View.STRIDED);
        unary(t, "log()", ElementwiseOp.LOG, "torch.log(a)", Tensor::log, null);
        unary(t, "sqrt()", ElementwiseOp.SQRT, "torch.sqrt(a)", Tensor::sqrt, null);
        unary(t, "rsqrt()", ElementwiseOp.RSQRT, "torch.rsqrt(a)", Tensor::rsqrt, null);
        unary(t, "sin()", ElementwiseOp.SIN, "torch.sin(a)", Tensor::sin, null);
        unary(t, "cos()", ElementwiseOp.COS, "torch.cos(a)", Tensor::cos, null);
        unary(t, "tanh()", ElementwiseOp.TANH, "torch.tanh(a)", Tensor::tanh, null);
        unary(t, "sigmoid()", ElementwiseOp.SIGMOID, "torch.sigmoid(a)", Tensor::sigmoid, null);
        unary(t, "gelu()", ElementwiseOp.GELU, "F.gelu(a)", Tensor::gelu, View.TRANSPOSED);
        unary(t, "geluTanh()", ElementwiseOp.GELU_TANH, "F.gelu(a, approximate='tanh')", Tensor::geluTanh, null);
        unary(t, "silu()", ElementwiseOp.SILU, "F.silu(a)", Tensor::silu, null);
        unary(t, "hardsigmoid()", ElementwiseOp.HARDSIGMOID, "F.hardsigmoid(a)", Tensor::hardsigmoid, null);
        unary(t, "hardswish()", ElementwiseOp.HARDSWISH, "F.hardswish(a)", Tensor::hardswish, null);
        unary(t, "leakyRelu()", ElementwiseOp.LEAKY_RELU, "F.leaky_relu(a)", Tensor::leakyRelu, null);
        unary(t, "leakyRelu(double)", ElementwiseOp.LEAKY_RELU, "F.leaky_relu(a, 0.2)", x -> x.leakyRelu(0.2), null);
        unary(t, "elu()", ElementwiseOp.ELU, "F.elu(a)", Tensor::elu, null);
        unary(t, "elu(double)", ElementwiseOp.ELU, "F.elu(a, 0.5)", x -> x.elu(0.5), null);
        unary(t, "softplus()", ElementwiseOp.SOFTPLUS, "F.softplus(a)", Tensor::softplus, null);
        unary(t, "softplus(double,double)", ElementwiseOp.SOFTPLUS, "F.softplus(a, 2.0, 5.0)", x -> x.softplus(2.0, 5.0), null);
        unary(t, "elementwise(ElementwiseOp,double[],Operand[])", ElementwiseOp.SOFTPLUS, "F.softplus(a, 0.5, 3.0)",
                x -> Tensor.elementwise(ElementwiseOp.SOFTPLUS, new double[]{0.5, 3.0}, x), null);
        // hardtanh is defined as clamp (Tensor.hardtanh): for floating dtypes that is F.hardtanh.
        unary(t, "hardtanh()", ElementwiseOp.CLAMP, "torch.clamp(a, -1.0, 1.0)", Tensor::hardtanh, null);
        unary(t, "hardtanh(double,double)", ElementwiseOp.CLAMP, "torch.clamp(a, -0.5, 2.0)", x -> x.hardtanh(-0.5, 2.0), null);

        // --- clamp, where, casts ---------------------------------------------------------------------------------
        unary(t, "clamp(double,double)", ElementwiseOp.CLAMP, "torch.clamp(a, -0.5, 1.5)", x -> x.clamp(-0.5, 1.5), null);
        unary(t, "clamp(long,long)", ElementwiseOp.CLAMP, "torch.clamp(a, -3, 5)", x -> x.clamp(-3L, 5L), null);
        unary(t, "clampMin(double)", ElementwiseOp.MAXIMUM, "torch.clamp_min(a, 0.25)", x -> x.clampMin(0.25), null);
        unary(t, "clampMin(long)", ElementwiseOp.MAXIMUM, "torch.clamp_min(a, -2)", x -> x.clampMin(-2L), null);
        unary(t, "clampMax(double)", ElementwiseOp.MINIMUM, "torch.clamp_max(a, -0.25)", x -> x.clampMax(-0.25), null);
        unary(t, "clampMax(long)", ElementwiseOp.MINIMUM, "torch.clamp_max(a, 2)", x -> x.clampMax(2L), null);
        t.add(family("clamp(Operand,Operand)", ElementwiseOp.CLAMP, (f, d) -> List.of(
                // Bounds cross in some elements (lo > hi gives hi); bounds carry no NaN.
                Cases.of(f, d, "tensor-bounds", "torch.clamp(a, b, c)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 8), in("b", d, NORMAL, 8), in("c", d, NORMAL, 6, 1)),
                        x -> x.get(0).clamp(x.get(1), x.get(2))))));
        t.add(family("where(Tensor,Operand,Operand)", ElementwiseOp.WHERE, (f, d) -> List.of(
                Cases.of(f, d, "tensors", "torch.where(a, b, c)", ELEMENTWISE,
                        inputs(in("a", BOOL, NORMAL, 6, 1), in("b", d, MIXED, 6, 8), in("c", d, MIXED, 8)),
                        x -> Tensor.where(x.get(0), x.get(1), x.get(2))),
                Cases.of(f, d, "double-scalar", "torch.where(a, b, 2.5)", ELEMENTWISE,
                        inputs(in("a", BOOL, NORMAL, 6, 8), in("b", d, MIXED, 6, 8)),
                        x -> Tensor.where(x.get(0), x.get(1), Scalar.of(2.5))),
                Cases.of(f, d, "long-scalar", "torch.where(a, 3, b)", ELEMENTWISE,
                        inputs(in("a", BOOL, NORMAL, 6, 8), in("b", d, MIXED, 6, 8)),
                        x -> Tensor.where(x.get(0), Scalar.of(3L), x.get(1))),
                Cases.of(f, d, "views", "torch.where(a, b, c)", ELEMENTWISE,
                        inputs(in("a", BOOL, NORMAL, 6, 8).as(View.EXPANDED), in("b", d, MIXED, 6, 8).as(View.TRANSPOSED),
                                in("c", d, MIXED, 6, 8).as(View.STRIDED)),
                        x -> Tensor.where(x.get(0), x.get(1), x.get(2))))));
        t.add(family("to(DType)", ElementwiseOp.CAST, (f, d) -> {
            List<OpCase> cases = new ArrayList<>();
            for (DType target : DType.values()) {
                if (target == d) continue;
                // Float to integer is defined for finite in-range values only (C++ leaves the rest undefined).
                Values v = d.isFloating() && target.isIntegral() ? CASTABLE : MIXED;
                cases.add(Cases.of(f, d, "to-" + target, "a.to(" + torchDType(target) + ")", ELEMENTWISE,
                        inputs(in("a", d, v, 5, 7).as(View.STRIDED)), x -> x.getFirst().to(target)));
            }
            if (d == F32) {
                cases.add(Cases.of(f, d, "to-I32-out-of-range", "a.to(torch.int32)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 8)), x -> x.getFirst().to(I32)));
            }
            return cases;
        }));
        // In place into a fresh contiguous F64 copy (every dtype converts to F64 exactly), source broadcast.
        t.add(family("copyFrom(Tensor)", ElementwiseOp.CAST, (f, d) -> List.of(
                Cases.of(f, d, "broadcast-into-f64", "b.contiguous().copy_(a)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 7), in("b", F64, MIXED, 5, 7).as(View.TRANSPOSED)),
                        x -> x.get(1).contiguous().copyFrom(x.get(0))))));
        t.add(family("contiguous()", ElementwiseOp.CAST, (f, d) -> List.of(
                Cases.of(f, d, "transposed", "a.contiguous()", ELEMENTWISE, inputs(in("a", d, MIXED, 5, 6).as(View.TRANSPOSED)),
                        x -> x.getFirst().contiguous()))));

        // --- reductions ------------------------------------------------------------------------------------------
        reduction(t, ReduceOp.SUM, "sum", "torch.sum", NORMAL);
        reduction(t, ReduceOp.MEAN, "mean", "torch.mean", NORMAL);
        reduction(t, ReduceOp.PROD, "prod", "torch.prod", UNIT);
        reduction(t, ReduceOp.MAX, "max", "torch.amax", MIXED);
        reduction(t, ReduceOp.MIN, "min", "torch.amin", MIXED);
        reduction(t, ReduceOp.ARGMAX, "argmax", "torch.argmax", MIXED);
        reduction(t, ReduceOp.ARGMIN, "argmin", "torch.argmin", MIXED);

        t.add(family("sum(int[])", ReduceOp.SUM, (f, d) -> List.of(
                Cases.of(f, d, "dims0,2", "torch.sum(a, dim=(0, 2))", NORMWISE, inputs(in("a", d, NORMAL, 4, 5, 6)),
                        x -> x.getFirst().sum(0, 2), "axes", new int[]{0, 2}),
                Cases.of(f, d, "dim-1-transposed", "torch.sum(a, dim=-1)", NORMWISE,
                        inputs(in("a", d, NORMAL, 4, 5, 6).as(View.TRANSPOSED)), x -> x.getFirst().sum(-1), "axes", new int[]{-1}))));
        t.add(family("mean(int[])", ReduceOp.MEAN, (f, d) -> List.of(
                Cases.of(f, d, "dims1", "torch.mean(a, dim=1)", NORMWISE, inputs(in("a", d, NORMAL, 4, 5, 6)),
                        x -> x.getFirst().mean(1), "axes", new int[]{1}),
                Cases.of(f, d, "dims-1,0-strided", "torch.mean(a, dim=(-1, 0))", NORMWISE,
                        inputs(in("a", d, NORMAL, 4, 5, 6).as(View.STRIDED)), x -> x.getFirst().mean(-1, 0), "axes", new int[]{-1, 0}))));

        // --- softmax and normalisation ---------------------------------------------------------------------------
        softmax(t, "softmax(int)", "torch.softmax", false);
        softmax(t, "logSoftmax(int)", "torch.log_softmax", true);
        t.add(family("layerNorm(long[],Tensor,Tensor,double)", "LayerNorm", (f, d) -> List.of(
                Cases.of(f, d, "affine", "F.layer_norm(a, (16,), b, c, 1e-05)", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 4, 16), in("b", d, NORMAL, 16), in("c", d, NORMAL, 16)),
                        x -> x.get(0).layerNorm(new long[]{16}, x.get(1), x.get(2), 1e-5), "eps", 1e-5),
                Cases.of(f, d, "no-affine-2d", "F.layer_norm(a, (4, 16), None, None, 1e-05)", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 4, 16)),
                        x -> x.get(0).layerNorm(new long[]{4, 16}, null, null, 1e-5), "eps", 1e-5),
                Cases.of(f, d, "transposed", "F.layer_norm(a, (12,), b, c, 1e-05)", NORMWISE,
                        inputs(in("a", d, NORMAL, 5, 12).as(View.TRANSPOSED), in("b", d, NORMAL, 12), in("c", d, NORMAL, 12)),
                        x -> x.get(0).layerNorm(new long[]{12}, x.get(1), x.get(2), 1e-5), "eps", 1e-5))));
        t.add(family("layerNorm(long[])", "LayerNorm", (f, d) -> List.of(
                Cases.of(f, d, "default-eps-no-affine", "F.layer_norm(a, (16,))", NORMWISE, inputs(in("a", d, NORMAL, 5, 16)),
                        x -> x.get(0).layerNorm(16)),
                Cases.of(f, d, "2d-transposed", "F.layer_norm(a, (5, 6))", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 5, 6).as(View.TRANSPOSED)), x -> x.get(0).layerNorm(5, 6)))));
        t.add(family("layerNorm(Tensor,Tensor)", "LayerNorm", (f, d) -> List.of(
                Cases.of(f, d, "default-eps", "F.layer_norm(a, (16,), b, c)", NORMWISE,
                        inputs(in("a", d, NORMAL, 5, 16), in("b", d, NORMAL, 16), in("c", d, NORMAL, 16)),
                        x -> x.get(0).layerNorm(x.get(1), x.get(2))))));
        t.add(family("rmsNorm(long[],Tensor,double)", "RmsNorm", (f, d) -> List.of(
                Cases.of(f, d, "weight", "F.rms_norm(a, (16,), b, 1e-06)", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 4, 16), in("b", d, NORMAL, 16)),
                        x -> x.get(0).rmsNorm(new long[]{16}, x.get(1), 1e-6), "eps", 1e-6),
                Cases.of(f, d, "no-weight-2d", "F.rms_norm(a, (4, 16), None, 1e-06)", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 4, 16).as(View.STRIDED)),
                        x -> x.get(0).rmsNorm(new long[]{4, 16}, null, 1e-6), "eps", 1e-6))));
        t.add(family("rmsNorm(Tensor)", "RmsNorm", (f, d) -> List.of(
                Cases.of(f, d, "default-eps", "F.rms_norm(a, (16,), b)", NORMWISE,
                        inputs(in("a", d, NORMAL, 5, 16), in("b", d, NORMAL, 16)), x -> x.get(0).rmsNorm(x.get(1))))));

        // t() is a view; the case reads it back (a contiguous copy on every backend) and checks its shape.
        t.add(family("t()", "View", (f, d) -> List.of(
                Cases.of(f, d, "2d", "a.t()", ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8)), x -> x.getFirst().t()),
                Cases.of(f, d, "1d", "a.t()", ELEMENTWISE, inputs(in("a", d, MIXED, 7)), x -> x.getFirst().t()))));

        // --- matmul and bmm (CUDA has no integer matmul: integer references run on PyTorch's CPU, exact) --------
        t.add(family("matmul(Tensor)", "Matmul", (f, d) -> {
            String mm = d.isIntegral() ? "torch.matmul(a.cpu(), b.cpu())" : "torch.matmul(a, b)";
            TensorTensor run = Tensor::matmul;
            return List.of(
                    matmulCase(f, d, "2d", mm, run, in("a", d, NORMAL, 5, 7), in("b", d, NORMAL, 7, 3)),
                    matmulCase(f, d, "vec-mat", mm, run, in("a", d, NORMAL, 7), in("b", d, NORMAL, 7, 3)),
                    matmulCase(f, d, "mat-vec", mm, run, in("a", d, NORMAL, 5, 7), in("b", d, NORMAL, 7)),
                    matmulCase(f, d, "dot", mm, run, in("a", d, NORMAL, 7), in("b", d, NORMAL, 7)),
                    matmulCase(f, d, "broadcast-batch", mm, run, in("a", d, NORMAL, 2, 1, 5, 7), in("b", d, NORMAL, 3, 7, 4)),
                    matmulCase(f, d, "views", mm, run, in("a", d, NORMAL, 5, 7).as(View.STRIDED),
                            in("b", d, NORMAL, 7, 3).as(View.TRANSPOSED)));
        }));
        t.add(family("bmm(Tensor)", "Matmul", (f, d) -> {
            String mm = d.isIntegral() ? "torch.bmm(a.cpu(), b.cpu())" : "torch.bmm(a, b)";
            TensorTensor run = Tensor::bmm;
            return List.of(
                    matmulCase(f, d, "3d", mm, run, in("a", d, NORMAL, 2, 5, 7), in("b", d, NORMAL, 2, 7, 3)),
                    matmulCase(f, d, "views", mm, run, in("a", d, NORMAL, 2, 5, 7).as(View.EXPANDED),
                            in("b", d, NORMAL, 2, 7, 3).as(View.TRANSPOSED)));
        }));

        // --- attention (one op: scores, scale and bias, softmax, @ values) -----------------------------------------
        t.add(family("attention(Tensor,Tensor,Tensor,double)", "Attention", (f, d) -> List.of(
                Cases.of(f, d, "decode-bias", "F.scaled_dot_product_attention(a, b, c, attn_mask=d, scale=0.5)", NORMWISE,
                        inputs(in("a", d, NORMAL, 3, 1, 4), in("b", d, NORMAL, 3, 9, 4), in("c", d, NORMAL, 3, 9, 5),
                                in("d", d, NORMAL, 9)), x -> x.get(0).attention(x.get(1), x.get(2), x.get(3), 0.5)),
                Cases.of(f, d, "rows-views", "F.scaled_dot_product_attention(a, b, c, scale=0.25)", NORMWISE,
                        inputs(in("a", d, NORMAL, 2, 5, 4).as(View.STRIDED), in("b", d, NORMAL, 2, 7, 4).as(View.TRANSPOSED),
                                in("c", d, NORMAL, 2, 7, 3).as(View.EXPANDED)),
                        x -> x.get(0).attention(x.get(1), x.get(2), null, 0.25)))));

        // --- indexing --------------------------------------------------------------------------------------------
        t.add(family("indexSelect(int,Tensor)", "IndexSelect", (f, d) -> List.of(
                Cases.of(f, d, "dim0-i64", "torch.index_select(a, 0, b)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 5), index("b", I64, 6, 9)), x -> x.get(0).indexSelect(0, x.get(1))),
                Cases.of(f, d, "dim1-i32-strided", "torch.index_select(a, 1, b)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 5).as(View.STRIDED), index("b", I32, 5, 3)),
                        x -> x.get(0).indexSelect(1, x.get(1))),
                Cases.of(f, d, "0d-index", "torch.index_select(a, -1, b)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 5), index("b", I64, 5)), x -> x.get(0).indexSelect(-1, x.get(1))))));
        t.add(family("embedding(Tensor)", "IndexSelect", (f, d) -> List.of(
                Cases.of(f, d, "2d-i64", "F.embedding(b, a)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 10, 4), index("b", I64, 10, 2, 3)), x -> x.get(0).embedding(x.get(1))),
                Cases.of(f, d, "1d-i32", "F.embedding(b, a)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 10, 4), index("b", I32, 10, 5)), x -> x.get(0).embedding(x.get(1))))));
        t.add(family("cat(int,Tensor[])", "Cat", (f, d) -> List.of(
                Cases.of(f, d, "dim0", "torch.cat([a, b], 0)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 2, 3), in("b", d, MIXED, 4, 3)), x -> Tensor.cat(0, x.get(0), x.get(1))),
                Cases.of(f, d, "dim1-views", "torch.cat([a, b], -1)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 2, 3).as(View.STRIDED), in("b", d, MIXED, 2, 4).as(View.EXPANDED)),
                        x -> Tensor.cat(-1, x.get(0), x.get(1))),
                Cases.of(f, d, "promote-i32", "torch.cat([a, b], 0)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 2, 3), in("b", I32, MIXED, 1, 3)), x -> Tensor.cat(0, x.get(0), x.get(1))))));
        t.add(family("cat(int,List)", "Cat", (f, d) -> List.of(
                Cases.of(f, d, "three", "torch.cat([a, b, c], 1)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 2, 3), in("b", d, MIXED, 2, 1), in("c", d, MIXED, 2, 2)),
                        x -> Tensor.cat(1, List.copyOf(x))))));
        return t;
    }

    // --- the shapes of families ---------------------------------------------------------------------------------

    private interface CaseMaker { List<OpCase> make(OpFamilyRef family, DType dtype); }

    private static OpFamily family(String api, Object kernel, CaseMaker maker) {
        OpFamilyRef ref = new OpFamilyRef(api, kernel instanceof Enum<?> e ? e.name() : kernel.toString());
        return new OpFamily(api, ref.kernel(), OpFamily.ALL, d -> maker.make(ref, d));
    }

    /** Tensor form: a [6, 8] with b [8] (and, if {@code views}, transposed with expanded); then the scalar forms. */
    private static void binary(List<OpFamily> t, String name, ElementwiseOp op, String torch, TensorTensor tensorForm,
                               TensorDouble doubleForm, TensorLong longForm, Values second, double ds, long ls,
                               boolean views) {
        t.add(family(name + "(Tensor)", op, (f, d) -> {
            List<OpCase> cases = new ArrayList<>();
            cases.add(Cases.of(f, d, "broadcast", torch + "(a, b)", ELEMENTWISE,
                    inputs(in("a", d, MIXED, 6, 8), in("b", d, second, 8)), x -> tensorForm.apply(x.get(0), x.get(1))));
            if (views) {
                cases.add(Cases.of(f, d, "views", torch + "(a, b)", ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 8).as(View.TRANSPOSED), in("b", d, second, 6, 8).as(View.EXPANDED)),
                        x -> tensorForm.apply(x.get(0), x.get(1))));
            }
            return cases;
        }));
        if (doubleForm != null) {
            t.add(family(name + "(double)", op, (f, d) -> List.of(Cases.of(f, d, "scalar", torch + "(a, " + py(ds) + ")",
                    ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8)), x -> doubleForm.apply(x.getFirst(), ds), "scalar", ds))));
        }
        if (longForm != null) {
            t.add(family(name + "(long)", op, (f, d) -> List.of(Cases.of(f, d, "scalar", torch + "(a, " + py(ls) + ")",
                    ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8)), x -> longForm.apply(x.getFirst(), ls), "scalar", ls))));
        }
    }

    /** Mixed dtypes, 0-dim tensors and scalars: torch.result_type decides the output dtype. */
    private static OpFamily promotion() {
        OpFamilyRef add = new OpFamilyRef("add(Tensor)", "ADD");
        OpFamilyRef mul = new OpFamilyRef("mul(Tensor)", "MUL");
        OpFamilyRef div = new OpFamilyRef("div(Tensor)", "DIV");
        OpFamilyRef where = new OpFamilyRef("where(Tensor,Operand,Operand)", "WHERE");
        // One run (the dtype argument is unused): each case names its own api and dtypes.
        return new OpFamily("promotion", "mixed dtypes", List.of(F32), d -> List.of(
                Cases.of(add, I32, "promote-i32+f16", "torch.add(a, b)", ELEMENTWISE,
                        inputs(in("a", I32, MIXED, 4, 6), in("b", F16, MIXED, 6)), x -> x.get(0).add(x.get(1))),
                Cases.of(mul, F16, "promote-f16*bf16", "torch.mul(a, b)", ELEMENTWISE,
                        inputs(in("a", F16, MIXED, 6), in("b", BF16, MIXED, 4, 1)), x -> x.get(0).mul(x.get(1))),
                Cases.of(div, I32, "promote-i32/f64-0d", "torch.div(a, b)", ELEMENTWISE,
                        inputs(in("a", I32, MIXED, 4, 6), in("b", F64, NORMAL)), x -> x.get(0).div(x.get(1))),
                Cases.of(add, BOOL, "promote-bool+i64", "torch.add(a, b)", ELEMENTWISE,
                        inputs(in("a", BOOL, MIXED, 4, 6), in("b", I64, MIXED, 6)), x -> x.get(0).add(x.get(1))),
                Cases.of(add, I64, "promote-i64+f32-0d", "torch.add(a, b)", ELEMENTWISE,
                        inputs(in("a", I64, MIXED, 4, 6), in("b", F32, NORMAL)), x -> x.get(0).add(x.get(1))),
                Cases.of(add, F16, "promote-f16+f64-0d", "torch.add(a, b)", ELEMENTWISE,
                        inputs(in("a", F16, MIXED, 4, 6), in("b", F64, NORMAL)), x -> x.get(0).add(x.get(1))),
                Cases.of(where, BOOL, "promote-where-i32-f16", "torch.where(a, b, c)", ELEMENTWISE,
                        inputs(in("a", BOOL, MIXED, 4, 6), in("b", I32, MIXED, 4, 6), in("c", F16, MIXED, 6)),
                        x -> Tensor.where(x.get(0), x.get(1), x.get(2))),
                // Integer division by zero: GPUOS defines 0 (a kernel cannot raise); see op_compare.py's known list.
                Cases.of(new OpFamilyRef("floorDivide(long)", "FLOOR_DIVIDE"), I32, "by-zero", "torch.floor_divide(a, 0)",
                        ELEMENTWISE, inputs(in("a", I32, MIXED, 6, 8)), x -> x.getFirst().floorDivide(0L), "scalar", 0L)));
    }

    private static void unary(List<OpFamily> t, String api, ElementwiseOp op, String torch, Function<Tensor, Tensor> run,
                              View view) {
        t.add(family(api, op, (f, d) -> {
            List<OpCase> cases = new ArrayList<>();
            cases.add(Cases.of(f, d, "special", torch, ELEMENTWISE, inputs(in("a", d, MIXED, 6, 8)), x -> run.apply(x.getFirst())));
            if (view != null) {
                cases.add(Cases.of(f, d, view.name().toLowerCase(), torch, ELEMENTWISE,
                        inputs(in("a", d, MIXED, 6, 8).as(view)), x -> run.apply(x.getFirst())));
            }
            return cases;
        }));
    }

    /**
     * Both forms of a reduction: over everything (ordinary values, and for sums values with NaN and +-inf), and over
     * axes with and without keepdim. prod and argmax/argmin reduce one axis at a time (torch.prod takes one dim).
     */
    private static void reduction(List<OpFamily> t, ReduceOp op, String name, String torch, Values values) {
        boolean oneAxis = op == ReduceOp.PROD || op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        boolean argIndex = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        // torch.argmax/argmin have no BOOL kernel: the reference reads the bools as uint8 (same order, same ties).
        Function<DType, String> arg = d -> argIndex && d == BOOL ? "a.to(torch.uint8)" : "a";
        long[] shape = op == ReduceOp.PROD ? new long[]{3, 4, 5} : new long[]{4, 5, 6};
        t.add(family(name + "()", op, (f, d) -> {
            List<OpCase> cases = new ArrayList<>();
            cases.add(Cases.of(f, d, "all", torch + "(" + arg.apply(d) + ")", NORMWISE, inputs(in("a", d, values, shape)),
                    x -> reduceAll(op, x.getFirst())));
            if (op == ReduceOp.SUM || op == ReduceOp.MEAN) {
                cases.add(Cases.of(f, d, "all-nonfinite", torch + "(a)", NORMWISE, inputs(in("a", d, NONFINITE, shape)),
                        x -> reduceAll(op, x.getFirst())));
            }
            return cases;
        }));
        if (oneAxis) {
            t.add(family(name + (argIndex ? "(int,boolean)" : "(int[],boolean)"), op, (f, d) -> List.of(
                    axisCase(f, d, op, torch, arg.apply(d), in("a", d, values, shape), 1, false),
                    axisCase(f, d, op, torch, arg.apply(d), in("a", d, values, shape), -1, true),
                    axisCase(f, d, op, torch, arg.apply(d), in("a", d, values, shape).as(View.TRANSPOSED), 0, false))));
        } else {
            t.add(family(name + "(int[],boolean)", op, (f, d) -> List.of(
                    axesCase(f, d, op, torch, in("a", d, values, shape), new int[]{-1}, false),
                    axesCase(f, d, op, torch, in("a", d, values, shape), new int[]{0, 2}, true),
                    axesCase(f, d, op, torch, in("a", d, values, shape).as(View.TRANSPOSED), new int[]{1}, false),
                    axesCase(f, d, op, torch, in("a", d, values, shape).as(View.EXPANDED), new int[]{0, 1}, false))));
        }
    }

    private static OpCase axisCase(OpFamilyRef f, DType d, ReduceOp op, String torch, String arg, Input a, int axis,
                                   boolean keepdim) {
        return Cases.of(f, d, "dim" + axis + (keepdim ? "-keepdim" : "") + (a.view() == View.CONTIGUOUS ? "" : "-" + a.view()),
                torch + "(" + arg + ", dim=" + axis + ", keepdim=" + Cases.py(keepdim) + ")", NORMWISE, inputs(a),
                x -> reduceAxes(op, x.getFirst(), new int[]{axis}, keepdim), "axes", new int[]{axis}, "keepdim", keepdim);
    }

    private static OpCase axesCase(OpFamilyRef f, DType d, ReduceOp op, String torch, Input a, int[] axes, boolean keepdim) {
        return Cases.of(f, d, "dims" + Arrays.stream(axes).mapToObj(Integer::toString).collect(Collectors.joining(",")) + (keepdim ? "-keepdim" : "")
                        + (a.view() == View.CONTIGUOUS ? "" : "-" + a.view()),
                torch + "(a, dim=" + tuple(axes) + ", keepdim=" + Cases.py(keepdim) + ")", NORMWISE, inputs(a),
                x -> reduceAxes(op, x.getFirst(), axes, keepdim), "axes", axes, "keepdim", keepdim);
    }

    private static Tensor reduceAll(ReduceOp op, Tensor x) {
        return switch (op) {
            case SUM -> x.sum();
            case MEAN -> x.mean();
            case PROD -> x.prod();
            case MAX -> x.max();
            case MIN -> x.min();
            case ARGMAX -> x.argmax();
            case ARGMIN -> x.argmin();
        };
    }

    private static Tensor reduceAxes(ReduceOp op, Tensor x, int[] axes, boolean keepdim) {
        return switch (op) {
            case SUM -> x.sum(axes, keepdim);
            case MEAN -> x.mean(axes, keepdim);
            case PROD -> x.prod(axes, keepdim);
            case MAX -> x.max(axes, keepdim);
            case MIN -> x.min(axes, keepdim);
            case ARGMAX -> x.argmax(axes[0], keepdim);
            case ARGMIN -> x.argmin(axes[0], keepdim);
        };
    }

    /** Rows with -inf entries (masked scores), along the last and the first dimension, and a transposed input. */
    private static void softmax(List<OpFamily> t, String api, String torch, boolean log) {
        t.add(family(api, "Softmax", (f, d) -> List.of(
                softmaxCase(f, d, torch, log, in("a", d, MASKED, 4, 10), -1),
                softmaxCase(f, d, torch, log, in("a", d, MASKED, 4, 10), 0),
                softmaxCase(f, d, torch, log, in("a", d, MASKED, 4, 10).as(View.TRANSPOSED), -1))));
    }

    private static OpCase softmaxCase(OpFamilyRef f, DType d, String torch, boolean log, Input a, int dim) {
        return Cases.of(f, d, "dim" + dim + (a.view() == View.CONTIGUOUS ? "" : "-" + a.view()),
                torch + "(a, dim=" + dim + ")", NORMWISE, inputs(a),
                x -> log ? x.getFirst().logSoftmax(dim) : x.getFirst().softmax(dim), "dim", dim);
    }

    private static OpCase matmulCase(OpFamilyRef f, DType d, String variant, String torch, TensorTensor run, Input a, Input b) {
        return Cases.of(f, d, variant, torch, NORMWISE, inputs(a, b), x -> run.apply(x.get(0), x.get(1)));
    }
}
