package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.Scalar;
import dev.gpuos.tensor.fuzz.FuzzInputs.Style;
import dev.gpuos.tensor.fuzz.FuzzInputs.Values;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * The state of a program being generated: its steps, the live tensors with their {@link Facts}, and how
 * operands are found for a new step (most often the latest tensor, so chains fuse; else any live one that fits;
 * else a fresh input), how shapes are drawn and how partners that broadcast with a tensor are made.
 */
abstract class ProgramPool {
    static final int MAX_NUMEL = ProgramGenerator.MAX_NUMEL;
    static final long[] SIZES = {1, 1, 2, 3, 4, 5, 7, 8, 13, 16};
    static final DType[] DTYPES = {DType.F32, DType.F32, DType.F32, DType.F32, DType.F16, DType.BF16,
            DType.F64, DType.I32, DType.I64, DType.BOOL};

    final SplittableRandom r;
    final List<FuzzStep> steps = new ArrayList<>();
    final List<Facts> live = new ArrayList<>();
    int nextId;
    /**
     * Tensors whose zeros may carry either sign on a correct backend: IEEE 754 leaves open which zero min/max
     * pick from (-0.0, +0.0) (the CPU keeps the first, CUDA's fminf/fmaxf may not; H100 fuzz seed 133669), and
     * any op on such a tensor inherits that. Ops that turn the sign of a zero into a jump (rsqrt: -inf or +inf)
     * are not applied to them. Conservative: an id rolled back and reused stays in the set.
     */
    final java.util.Set<Integer> zeroSignOpen = new java.util.HashSet<>();

    ProgramPool(SplittableRandom r) { this.r = r; }

    /** Where the program stands, to undo a step that turned out impossible. */
    record Mark(int steps, List<Facts> live, int nextId) {}

    Mark mark() { return new Mark(steps.size(), List.copyOf(live), nextId); }

    void rollback(Mark m) {
        while (steps.size() > m.steps()) steps.removeLast();
        live.clear();
        live.addAll(m.live());
        nextId = m.nextId();
    }

    void sync() {
        if (live.isEmpty() || r.nextBoolean()) add(-1, FuzzOp.SYNC, new int[0], new long[0], new Scalar[0], null);
        else add(-1, FuzzOp.SYNC, new int[]{any().id()}, new long[0], new Scalar[0], null);
    }

    void add(int out, FuzzOp op, int[] in, long[] args, Scalar[] scalars, DType dtype) {
        steps.add(new FuzzStep(out, op, in, args, scalars, dtype));
    }

    Facts result(FuzzOp op, int[] in, long[] args, Scalar[] scalars, DType dtype, Facts facts) {
        add(facts.id(), op, in, args, scalars, dtype);
        boolean open = switch (op) {
            case MAX, MIN, MAXIMUM, MINIMUM, CLAMP, RELU -> true;
            default -> false;
        };
        for (int id : in) open |= zeroSignOpen.contains(id);
        if (open) zeroSignOpen.add(facts.id());
        live.add(facts);
        return facts;
    }

    Facts input(DType t, long[] shape, Values kind, long bound) {
        int id = nextId++;
        long[] args = new long[4 + shape.length];
        args[0] = r.nextLong();
        args[1] = r.nextInt(Style.values().length);
        args[2] = kind.ordinal();
        args[3] = bound;
        System.arraycopy(shape, 0, args, 4, shape.length);
        double b = t == DType.BOOL ? 1 : kind == Values.INDEX ? bound : t.isFloating() ? 4 : 6;
        int frac = t.isFloating() ? 3 : 0;
        boolean specials = kind == Values.SPECIALS && t.isFloating();
        return result(FuzzOp.INPUT, new int[0], args, new Scalar[0], t, new Facts(id, t, shape, b, frac, specials));
    }

    Facts freshInput() {
        DType t = DTYPES[r.nextInt(DTYPES.length)];
        return input(t, randomShape(), r.nextInt(5) == 0 ? Values.SPECIALS : Values.GRID, 0);
    }

    /** Most of the time the latest tensor (chains fuse), else any live one; a fresh input if none fits. */
    Facts pick(Predicate<Facts> ok) {
        if (!live.isEmpty() && r.nextInt(10) < 6 && ok.test(live.getLast())) return live.getLast();
        List<Facts> fits = live.stream().filter(ok).toList();
        if (!fits.isEmpty() && r.nextInt(5) != 0) return fits.get(r.nextInt(fits.size()));
        for (int i = 0; i < 8; i++) {
            Facts f = freshInput();
            if (ok.test(f)) return f;
        }
        return null;
    }

    Facts any() { return live.get(r.nextInt(live.size())); }

    /**
     * Mostly small shapes of rank 0-4 (sizes up to 16, now and then 0); one in 25 is a few long rows, so that
     * reductions, softmax and norms also take the paths for rows of 128 to 2048 elements (a whole GPU block per row).
     */
    long[] randomShape() {
        if (r.nextInt(25) == 0) {
            long len = new long[]{128, 300, 1024, 2048}[r.nextInt(4)];
            return r.nextBoolean() ? new long[]{len} : new long[]{1 + r.nextInt(2), len};
        }
        int rank = new int[]{0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4}[r.nextInt(13)];
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = r.nextInt(40) == 0 ? 0 : SIZES[r.nextInt(SIZES.length)];
        while (FuzzInputs.numel(s) > 1024) s[r.nextInt(rank)] = 1 + r.nextInt(3);
        return s;
    }

    /** A shape that broadcasts with {@code xs} both ways (it may stretch x's size-1 dimensions). */
    long[] partnerShape(long[] xs) {
        if (r.nextInt(3) == 0) return xs.clone();
        int rank = r.nextInt(xs.length + 2);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) {
            int xi = i - (rank - xs.length);
            if (xi < 0) s[i] = 1 + r.nextInt(3);
            else if (xs[xi] == 1) s[i] = r.nextBoolean() ? 1 : SIZES[r.nextInt(SIZES.length)];
            else s[i] = r.nextInt(4) == 0 ? 1 : xs[xi];
        }
        return s;
    }

    /** An operand for x: a live tensor that broadcasts with it, else a fresh input. */
    Facts partner(Facts x, Predicate<Facts> ok, Values kind, DType preferred) {
        if (kind == Values.GRID && r.nextBoolean()) {
            List<Facts> fits = live.stream().filter(f -> ok.test(f) && fitsCap(Facts.broadcast(x.shape(), f.shape()))).toList();
            if (!fits.isEmpty()) return fits.get(r.nextInt(fits.size()));
        }
        DType t = preferred != null && r.nextInt(3) != 0 ? preferred : DTYPES[r.nextInt(DTYPES.length)];
        Facts f = input(t, partnerShape(x.shape()), kind, 0);
        return ok.test(f) && fitsCap(Facts.broadcast(x.shape(), f.shape())) ? f : null;
    }

    static boolean fitsCap(long[] shape) { return shape != null && FuzzInputs.numel(shape) <= MAX_NUMEL; }

    int newId() { return nextId++; }

    Scalar gridScalar(boolean integral, boolean nonzero) {
        if (integral || r.nextInt(4) == 0) {
            long v = r.nextLong(nonzero ? 1 : -6, 7);
            return Scalar.of(nonzero && r.nextBoolean() ? -v : v);
        }
        double v = (nonzero ? r.nextInt(4, 33) : r.nextInt(-32, 33)) / 8.0;
        return Scalar.of(nonzero && r.nextBoolean() ? -v : v);
    }

    static long[] remove(long[] s, int d) {
        long[] out = new long[s.length - 1];
        for (int i = 0, j = 0; i < s.length; i++) if (i != d) out[j++] = s[i];
        return out;
    }

    static long[] insert(long[] s, int d, long v) {
        long[] out = new long[s.length + 1];
        for (int i = 0, j = 0; i < out.length; i++) out[i] = i == d ? v : s[j++];
        return out;
    }
}
