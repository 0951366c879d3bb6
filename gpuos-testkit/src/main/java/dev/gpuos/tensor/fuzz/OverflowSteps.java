package dev.gpuos.tensor.fuzz;

import dev.gpuos.tensor.Scalar;

import java.util.SplittableRandom;

/**
 * Steps with overflow-prone sizes, offsets and strides (issue 15): sizes and strides near Long.MAX_VALUE, 2^31,
 * 2^62, offsets just past the storage, negative ones. Most must fail, and every backend must fail them with the
 * same exception class (the comparison checks that); their results never become live. Some are legal and must
 * compute the same values: a slice with a step of Long.MAX_VALUE, an empty as_strided view one past the end.
 * {@link FuzzOp#AS_STRIDED} also makes ordinary in-bounds strided views (zero strides, overlapping windows).
 */
abstract class OverflowSteps extends ElementwiseSteps {
    static final long MAX = Long.MAX_VALUE;

    OverflowSteps(SplittableRandom r) { super(r); }

    /** A step every backend must refuse (with the same exception): its tensor is never used. */
    private void refused(FuzzOp op, Facts x, long[] args) {
        add(newId(), op, new int[]{x.id()}, args, new Scalar[0], null);
    }

    /** An overflow-prone variant of a view step on {@code x}; false if {@code op} has none for x. */
    boolean overflowingView(FuzzOp op, Facts x) {
        long[] s = x.shape();
        int rank = s.length;
        if (rank == 0 && op != FuzzOp.EXPAND && op != FuzzOp.RESHAPE) return false;
        int d = rank == 0 ? 0 : r.nextInt(rank);
        switch (op) {
            case NARROW -> {
                long[][] bad = {{d, 1, MAX}, {d, MAX, 1}, {d, Long.MIN_VALUE, 1}, {d, -1, MAX}, {d, s[d] + 1, 0}};
                refused(op, x, bad[r.nextInt(bad.length)]);
            }
            case SELECT -> refused(op, x, new long[]{d, r.nextBoolean() ? MAX : Long.MIN_VALUE});
            case EXPAND -> {
                long[] target = new long[rank + 2];
                target[0] = 1L << 31;
                target[1] = r.nextBoolean() ? 1L << 31 : MAX;
                for (int i = 0; i < rank; i++) target[2 + i] = r.nextBoolean() ? -1 : s[i];
                refused(op, x, target);
            }
            case RESHAPE -> {
                long[][] bad = {{1L << 31, 1L << 31}, {-1, 1L << 61}, {MAX}, {1L << 62, 0}, {-1, -1}};
                refused(op, x, bad[r.nextInt(bad.length)]);
            }
            case SLICE -> {  // legal: huge bounds clamp, a huge step takes at most one element
                long start = r.nextBoolean() ? Long.MIN_VALUE : r.nextLong(-s[d] - 1, s[d] + 2);
                long end = r.nextBoolean() ? MAX : r.nextLong(-s[d] - 1, s[d] + 2);
                long step = r.nextBoolean() ? MAX : MAX / 2 + 1;
                long st = Math.max(0, Math.min(start < 0 ? start + s[d] : start, s[d]));
                long en = Math.max(0, Math.min(end < 0 ? end + s[d] : end, s[d]));
                long[] shape = s.clone();
                shape[d] = en > st ? 1 : 0;
                result(op, new int[]{x.id()}, new long[]{d, start, end, step}, new Scalar[0], null, x.view(shape, newId()));
            }
            default -> { return false; }
        }
        return true;
    }

    /**
     * {@code as_strided} over a dense copy of x (args = [offset, sizes..., strides...]): an in-bounds view, or one
     * in three times an overflow-prone one, which must fail (except the empty view one past the end).
     */
    boolean asStrided() {
        Facts x = pick(f -> f.numel() > 0);
        if (x == null) return false;
        long n = x.numel();
        if (r.nextInt(3) == 0) {
            long[][] bad = {
                    {0, 2, MAX}, {0, 2, 2, MAX / 2 + 1, MAX / 2 + 1}, {MAX, 1, 1}, {0, 1L << 31, 1L << 31},
                    {0, 1L << 31, 1L << 31, 0, 0}, {0, 2, -1}, {-1, 1, 1}, {0, -2, 1}, {n, 1, 1}, {0, n + 1, 1},
                    {0, 1L << 62, 0}};
            refused(FuzzOp.AS_STRIDED, x, bad[r.nextInt(bad.length)]);
            return true;
        }
        if (r.nextInt(8) == 0) {  // legal: empty, one past the end, with a stride that would overflow if used
            result(FuzzOp.AS_STRIDED, new int[]{x.id()}, new long[]{n, 0, MAX}, new Scalar[0], null,
                    x.view(new long[]{0}, newId()));
            return true;
        }
        for (int attempt = 0; attempt < 8; attempt++) {
            int rank = r.nextInt(4);
            long offset = r.nextLong(n);
            long[] args = new long[1 + 2 * rank], sizes = new long[rank];
            args[0] = offset;
            long last = offset;
            boolean empty = false;
            for (int i = 0; i < rank; i++) {
                sizes[i] = r.nextInt(12) == 0 ? 0 : SIZES[r.nextInt(SIZES.length)];
                long stride = r.nextInt(5);
                args[1 + i] = sizes[i];
                args[1 + rank + i] = stride;
                empty |= sizes[i] == 0;
                last += Math.max(0, sizes[i] - 1) * stride;
            }
            if ((empty || last < n) && fitsCap(sizes)) {
                result(FuzzOp.AS_STRIDED, new int[]{x.id()}, args, new Scalar[0], null, x.view(sizes, newId()));
                return true;
            }
        }
        return false;
    }

    /** The sizes of an AS_STRIDED step's args. */
    static long[] asStridedSizes(long[] args) {
        int rank = (args.length - 1) / 2;
        return java.util.Arrays.copyOfRange(args, 1, 1 + rank);
    }

    static long[] asStridedStrides(long[] args) {
        int rank = (args.length - 1) / 2;
        return java.util.Arrays.copyOfRange(args, 1 + rank, args.length);
    }
}
