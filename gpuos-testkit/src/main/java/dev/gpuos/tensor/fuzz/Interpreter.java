package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.Backend;
import dev.gpuos.tensor.Operand;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.Tensor;
import dev.gpuos.tensor.TensorScope;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Replays a {@link FuzzProgram} on any {@link Backend} through the public Tensor API. Nothing is read back until
 * the end (or a SYNC step), so a batching backend sees the whole program as few submissions, split where the
 * program syncs. At the end every tensor is made contiguous first and then read, so the reads cost one
 * submission more, not one per tensor.
 *
 * <p>A step the API rejects (or that throws while running) becomes that tensor's {@link Outcome#error()};
 * steps reading it are skipped. Backends must agree on errors too. {@link #runRound} runs many programs with
 * shared syncs (amortizing a GPU backend's compiles over them).
 */
public final class Interpreter {
    private Interpreter() {}

    /** Runs {@code program} in a scope of its own on {@code backend}; the scope is closed before returning. */
    public static FuzzRun run(FuzzProgram program, Backend backend) {
        Map<Integer, Tensor> live = new LinkedHashMap<>();
        Map<Integer, Outcome> outcomes = new LinkedHashMap<>();
        try (TensorScope scope = TensorScope.open(backend)) {
            for (FuzzStep step : program.steps()) {
                boolean missing = false;
                for (int id : step.in()) missing |= !live.containsKey(id);
                if (missing) {
                    if (step.out() >= 0) outcomes.put(step.out(), Outcome.failed("skipped: an input failed"));
                    continue;
                }
                try {
                    if (step.op() == FuzzOp.SYNC) {
                        if (step.inputCount() == 0) scope.sync();
                        else live.get(step.input(0)).toDoubleArray();
                    } else {
                        live.put(step.out(), apply(step, live, scope));
                    }
                } catch (RuntimeException | AssertionError e) {
                    if (step.out() >= 0) outcomes.put(step.out(), Outcome.failed(describe(e)));
                    else return FuzzRun.crashed(outcomes, "sync failed: " + describe(e));
                }
            }
            readAll(live, outcomes);
        } catch (RuntimeException e) {
            return FuzzRun.crashed(outcomes, describe(e));
        }
        return new FuzzRun(outcomes, null);
    }

    /**
     * Runs {@code programs} together in one scope, in lockstep: each phase records every program's steps up to
     * its next SYNC step, then makes one backend sync for all of them, so a batching backend sees one submission
     * per phase (a GPU backend compiles every new structure of the phase in one link and one generation swap).
     * A program's submission boundaries are still its own syncs. The final reads also share one sync.
     *
     * <p>A sync that throws cannot be attributed to one program: every program of the round gets that crash
     * (the fuzzer re-runs such programs alone).
     */
    public static List<FuzzRun> runRound(List<FuzzProgram> programs, Backend backend) {
        int n = programs.size();
        List<Map<Integer, Tensor>> live = new ArrayList<>();
        List<Map<Integer, Outcome>> outcomes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            live.add(new LinkedHashMap<>());
            outcomes.add(new LinkedHashMap<>());
        }
        String[] crash = new String[n];
        int[] next = new int[n];
        try (TensorScope scope = TensorScope.open(backend)) {
            boolean more = true;
            while (more) {
                more = false;
                Tensor[] reads = new Tensor[n];  // what a SYNC step with an operand reads, made dense before the sync
                for (int i = 0; i < n; i++) {
                    List<FuzzStep> steps = programs.get(i).steps();
                    while (crash[i] == null && next[i] < steps.size()) {
                        FuzzStep s = steps.get(next[i]++);
                        if (s.op() != FuzzOp.SYNC) {
                            record(s, live.get(i), outcomes.get(i), scope);
                            continue;
                        }
                        Tensor t = s.inputCount() == 0 ? null : live.get(i).get(s.input(0));
                        try {
                            if (t != null) reads[i] = t.contiguous();
                        } catch (RuntimeException | AssertionError e) {
                            crash[i] = "sync failed: " + describe(e);
                        }
                        break;
                    }
                    more |= crash[i] == null && next[i] < steps.size();
                }
                scope.sync();
                for (int i = 0; i < n; i++) {
                    if (reads[i] == null || crash[i] != null) continue;
                    try {
                        reads[i].toDoubleArray();
                    } catch (RuntimeException | AssertionError e) {
                        crash[i] = "sync failed: " + describe(e);
                    }
                }
            }
            List<List<Tensor>> dense = new ArrayList<>();
            for (int i = 0; i < n; i++) dense.add(crash[i] == null ? contiguous(live.get(i), outcomes.get(i)) : null);
            scope.sync();
            for (int i = 0; i < n; i++) if (crash[i] == null) read(live.get(i), dense.get(i), outcomes.get(i));
        } catch (RuntimeException e) {
            String why = "round of " + n + " programs failed: " + describe(e);
            for (int i = 0; i < n; i++) if (crash[i] == null) crash[i] = why;
        }
        List<FuzzRun> runs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) runs.add(new FuzzRun(outcomes.get(i), crash[i]));
        return runs;
    }

    /** Records one non-SYNC step; a step the API rejects becomes its tensor's outcome. */
    private static void record(FuzzStep step, Map<Integer, Tensor> live, Map<Integer, Outcome> outcomes,
                               TensorScope scope) {
        for (int id : step.in()) {
            if (!live.containsKey(id)) {
                if (step.out() >= 0) outcomes.put(step.out(), Outcome.failed("skipped: an input failed"));
                return;
            }
        }
        try {
            live.put(step.out(), apply(step, live, scope));
        } catch (RuntimeException | AssertionError e) {
            outcomes.put(step.out(), Outcome.failed(describe(e)));
        }
    }

    private static void readAll(Map<Integer, Tensor> live, Map<Integer, Outcome> outcomes) {
        read(live, contiguous(live, outcomes), outcomes);
    }

    /** Every live tensor made contiguous (null where that threw), in the order of {@code live}. */
    private static List<Tensor> contiguous(Map<Integer, Tensor> live, Map<Integer, Outcome> outcomes) {
        List<Tensor> dense = new ArrayList<>();
        for (Map.Entry<Integer, Tensor> e : live.entrySet()) {
            try {
                dense.add(e.getValue().contiguous());
            } catch (RuntimeException ex) {
                dense.add(null);
                outcomes.put(e.getKey(), Outcome.failed(describe(ex)));
            }
        }
        return dense;
    }

    private static void read(Map<Integer, Tensor> live, List<Tensor> dense, Map<Integer, Outcome> outcomes) {
        List<Integer> ids = new ArrayList<>(live.keySet());
        for (int i = 0; i < ids.size(); i++) {
            Tensor t = live.get(ids.get(i)), c = dense.get(i);
            if (c == null) continue;
            try {
                outcomes.put(ids.get(i), new Outcome(t.dtype(), t.shape(), c.toDoubleArray(), null));
            } catch (RuntimeException e) {
                outcomes.put(ids.get(i), Outcome.failed(describe(e)));
            }
        }
    }

    static String describe(Throwable e) {
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static Tensor apply(FuzzStep s, Map<Integer, Tensor> live, TensorScope scope) {
        if (s.op() == FuzzOp.INPUT) return FuzzInputs.build(scope, s);
        Tensor x = live.get(s.input(0));
        Operand other = s.inputCount() > 1 ? live.get(s.input(1)) : s.scalarCount() > 0 ? s.scalar(0) : null;
        return switch (s.op()) {
            case ADD -> other instanceof Tensor t ? x.add(t) : scalarCall(x, (Scalar) other, x::add, x::add);
            case SUB -> other instanceof Tensor t ? x.sub(t) : scalarCall(x, (Scalar) other, x::sub, x::sub);
            case MUL -> other instanceof Tensor t ? x.mul(t) : scalarCall(x, (Scalar) other, x::mul, x::mul);
            case DIV -> other instanceof Tensor t ? x.div(t) : scalarCall(x, (Scalar) other, x::div, x::div);
            case FLOOR_DIVIDE -> other instanceof Tensor t ? x.floorDivide(t)
                    : scalarCall(x, (Scalar) other, x::floorDivide, x::floorDivide);
            case REMAINDER -> other instanceof Tensor t ? x.remainder(t)
                    : scalarCall(x, (Scalar) other, x::remainder, x::remainder);
            case POW -> other instanceof Tensor t ? x.pow(t) : scalarCall(x, (Scalar) other, x::pow, x::pow);
            case MAXIMUM -> other instanceof Tensor t ? x.maximum(t)
                    : scalarCall(x, (Scalar) other, x::clampMin, x::clampMin);
            case MINIMUM -> other instanceof Tensor t ? x.minimum(t)
                    : scalarCall(x, (Scalar) other, x::clampMax, x::clampMax);
            case EQ -> other instanceof Tensor t ? x.eq(t) : scalarCall(x, (Scalar) other, x::eq, x::eq);
            case NE -> other instanceof Tensor t ? x.ne(t) : scalarCall(x, (Scalar) other, x::ne, x::ne);
            case LT -> other instanceof Tensor t ? x.lt(t) : scalarCall(x, (Scalar) other, x::lt, x::lt);
            case LE -> other instanceof Tensor t ? x.le(t) : scalarCall(x, (Scalar) other, x::le, x::le);
            case GT -> other instanceof Tensor t ? x.gt(t) : scalarCall(x, (Scalar) other, x::gt, x::gt);
            case GE -> other instanceof Tensor t ? x.ge(t) : scalarCall(x, (Scalar) other, x::ge, x::ge);
            case NEG -> x.neg();
            case ABS -> x.abs();
            case RELU -> x.relu();
            case EXP -> x.exp();
            case LOG -> x.log();
            case SQRT -> x.sqrt();
            case RSQRT -> x.rsqrt();
            case SIN -> x.sin();
            case COS -> x.cos();
            case TANH -> x.tanh();
            case SIGMOID -> x.sigmoid();
            case GELU -> x.gelu();
            case GELU_TANH -> x.geluTanh();
            case SILU -> x.silu();
            case HARDSIGMOID -> x.hardsigmoid();
            case HARDSWISH -> x.hardswish();
            case LEAKY_RELU -> x.leakyRelu(s.scalar(0).doubleValue());
            case ELU -> x.elu(s.scalar(0).doubleValue());
            case SOFTPLUS -> x.softplus(s.scalar(0).doubleValue(), s.scalar(1).doubleValue());
            case CLAMP -> s.inputCount() == 3 ? x.clamp(live.get(s.input(1)), live.get(s.input(2)))
                    : x.clamp(s.scalar(0), s.scalar(1));
            case WHERE -> {
                Operand a = s.inputCount() > 1 ? live.get(s.input(1)) : s.scalar(0);
                Operand b = s.inputCount() > 2 ? live.get(s.input(2)) : s.scalar(s.scalarCount() - 1);
                yield Tensor.where(x, a, b);
            }
            case CAST -> x.to(s.dtype());
            case TRANSPOSE -> x.transpose((int) s.arg(0), (int) s.arg(1));
            case PERMUTE -> x.permute(ints(s.args()));
            case NARROW -> x.narrow((int) s.arg(0), s.arg(1), s.arg(2));
            case SLICE -> x.slice((int) s.arg(0), s.arg(1), s.arg(2), s.arg(3));
            case SELECT -> x.select((int) s.arg(0), s.arg(1));
            case EXPAND -> x.expand(s.args());
            case UNSQUEEZE -> x.unsqueeze((int) s.arg(0));
            case SQUEEZE -> s.argCount() == 0 ? x.squeeze() : x.squeeze((int) s.arg(0));
            case RESHAPE -> x.reshape(s.args());
            case AS_STRIDED -> Tensor.cat(0, x.reshape(-1)).asStrided(OverflowSteps.asStridedSizes(s.args()),
                    OverflowSteps.asStridedStrides(s.args()), s.arg(0));
            case CONTIGUOUS -> x.contiguous();
            case SUM, MEAN, PROD, MAX, MIN -> reduce(s, x);
            case ARGMAX -> s.argCount() == 0 ? x.argmax() : x.argmax((int) s.arg(1), s.arg(0) != 0);
            case ARGMIN -> s.argCount() == 0 ? x.argmin() : x.argmin((int) s.arg(1), s.arg(0) != 0);
            case SOFTMAX -> x.softmax((int) s.arg(0));
            case LOG_SOFTMAX -> x.logSoftmax((int) s.arg(0));
            case LAYER_NORM -> x.layerNorm(trailing(x, s.arg(0)), s.inputCount() > 1 ? live.get(s.input(1)) : null,
                    s.inputCount() > 2 ? live.get(s.input(2)) : null, s.scalar(0).doubleValue());
            case RMS_NORM -> x.rmsNorm(trailing(x, s.arg(0)), s.inputCount() > 1 ? live.get(s.input(1)) : null,
                    s.scalar(0).doubleValue());
            case MATMUL -> x.matmul(live.get(s.input(1)));
            case BMM -> x.bmm(live.get(s.input(1)));
            case INDEX_SELECT -> x.indexSelect((int) s.arg(0), live.get(s.input(1)));
            case CAT -> {
                List<Tensor> parts = new ArrayList<>();
                for (int id : s.in()) parts.add(live.get(id));
                yield Tensor.cat((int) s.arg(0), parts);
            }
            case INPUT, SYNC -> throw new IllegalStateException("handled above: " + s.op());
        };
    }

    private static Tensor reduce(FuzzStep s, Tensor x) {
        if (s.argCount() <= 1) {
            return switch (s.op()) {
                case SUM -> x.sum(); case MEAN -> x.mean(); case PROD -> x.prod(); case MAX -> x.max();
                default -> x.min();
            };
        }
        int[] axes = ints(Arrays.copyOfRange(s.args(), 1, s.argCount()));
        boolean keep = s.arg(0) != 0;
        return switch (s.op()) {
            case SUM -> x.sum(axes, keep); case MEAN -> x.mean(axes, keep); case PROD -> x.prod(axes, keep);
            case MAX -> x.max(axes, keep);
            default -> x.min(axes, keep);
        };
    }

    static long[] trailing(Tensor x, long k) {
        long[] shape = x.shape();
        return Arrays.copyOfRange(shape, shape.length - (int) k, shape.length);
    }

    private static int[] ints(long[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) out[i] = (int) a[i];
        return out;
    }

    private static Tensor scalarCall(Tensor x, Scalar s, java.util.function.DoubleFunction<Tensor> asDouble,
                                     java.util.function.LongFunction<Tensor> asLong) {
        return s.isFloating() ? asDouble.apply(s.doubleValue()) : asLong.apply(s.longValue());
    }
}
