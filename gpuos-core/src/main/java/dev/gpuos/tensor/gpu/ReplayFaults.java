package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.memory.DeviceBlock;
import dev.gpuos.tensor.Storage;
import dev.gpuos.tensor.op.IndexSelectNode;
import dev.gpuos.tensor.op.OpNode;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Who a bad index inside a captured program ({@link GpuReplay}) belongs to: the tensors a run computed from the
 * failed index_select, and what is computed from them later, never anybody else (issue 15). The streamed path
 * gives each index_select task a slot of its own ({@link IndexFaults}); a captured task runs again on every
 * replay from the same descriptor, so its record cannot be per task: the program owns a small device block
 * instead, and each run's faults are told apart by the task's seq (new per run). The first faulting thread of a
 * task in a run appends (stamp = seq + 1, task j, index, size) to a ring of {@link #LOG_ENTRIES} entries (see
 * index_select.cu). Nothing of this runs per replay on the host besides storing a few fields: no allocation, no
 * driver call; reads of tainted tensors download the log.
 *
 * <p>Ownership: at capture, each buffer the program writes gets its ancestry inside the program, the captured
 * index_selects it descends from (a bit mask, j >= 63 sharing the last bit) and the buffers that existed before
 * the capture it reads (whose own faults it inherits on every run). A run sets each written buffer's
 * {@link Taint} to "these index_selects, in the latest run"; an op computed from it later snapshots the run it
 * read ({@link #snapshot}). A read checks the log for a fault of a task in its mask in its range of runs. Should
 * more than {@link #LOG_ENTRIES} failures of the program be appended between two reads that look, the older
 * ones are lost, and a read that depends on one of their runs throws saying so rather than guess.
 */
final class ReplayFaults {
    /** Entries of the device ring (8 KB a program). */
    static final int LOG_ENTRIES = 256;
    /** Failures the host keeps once read (a loop failing on every run must not grow without bound). */
    static final int KEPT = 4 * LOG_ENTRIES;
    /** A taint's bound meaning "the owner's latest run" (a run base is a task seq, never negative). */
    static final long LATEST = -1;
    private static final long ENTRY_BYTES = 32;
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * What a buffer's contents descend from in one captured program: the index_selects in {@code mask}, in the
     * runs whose base seq lies in [from, to] ({@link #LATEST} for the owner's latest run).
     */
    record Taint(ReplayFaults owner, long mask, long from, long to) {}

    private final GpuOS os;
    private Map<OpNode, Integer> numbers = new IdentityHashMap<>();  // while planning (dropped: nodes hold tensors)
    private final int count;
    /** Per captured index_select j: its task's index in the batch (run base + index = its seq), dim, name. */
    private final int[] batchIndex;
    private final long[] dims;
    private final String[] names;
    private final long logAt;  // word where the ring starts
    private DeviceBlock block;  // null: no index_select, or released (everything was drained first)
    private Cleaner.Cleanable release;

    /**
     * Counts changes of any buffer's fault ancestry ({@link GpuStorage#setFaultIds}, setReplayTaints): a run that
     * finds it unchanged since its replay's last run left every written buffer clean skips the per-buffer pass.
     */
    private static final java.util.concurrent.atomic.AtomicLong CHANGES = new java.util.concurrent.atomic.AtomicLong();

    private volatile long lastBase = LATEST, lastEnd;  // the latest run's first seq and the seq after it
    /**
     * The first seqs of this program's latest {@link #RECENT} runs (run k at k % RECENT), so that two ranges of its
     * runs with nothing between them can be told apart from ranges with a gap and joined ({@link #coalesce}).
     */
    private final AtomicLongArray recent = new AtomicLongArray(RECENT);
    private volatile long runs;
    static final int RECENT = 64;
    // Host side of the log (guarded by this).
    private long drainedThrough = LATEST;  // base of the latest run complete when the log was last read
    private final Known known;

    /** For a program about to be planned: numbers its index_selects; allocates the device block if it has any. */
    ReplayFaults(GpuOS os, List<OpNode> work) {
        this.os = os;
        for (OpNode n : work) if (n instanceof IndexSelectNode) numbers.put(n, numbers.size());
        this.count = numbers.size();
        this.batchIndex = new int[count];
        this.dims = new long[count];
        this.names = new String[count];
        this.logAt = 1 + count;
        this.known = new Known(batchIndex);
        if (count > 0) {
            try (Arena a = Arena.ofConfined()) {
                // zeroed: count 0, and stamp 0 is smaller than every run's
                block = os.allocateCopy(a.allocate((logAt + LOG_ENTRIES * 4L) * 8, 8));
            }
            release = CLEANER.register(this, new Release(os, block));
        }
    }

    /** The captured task of index_select {@code n} (numbered by the constructor). */
    KernelTask indexSelect(IndexSelectNode n) {
        int j = numbers.get(n);
        return FamilyTasks.indexSelectCaptured(n, block, logAt + LOG_ENTRIES * 4L, j, logAt, LOG_ENTRIES);
    }

    /**
     * After the batch is built: where each index_select landed, and the ancestry of each written buffer, from
     * the program's nodes in order ({@code work}). A node's output descends from what it reads, from itself when
     * it is an index_select, and from the buffer's old contents when it writes only part of it.
     */
    Writes placed(List<OpNode> work, Map<OpNode, Integer> taskIndexOf, List<GpuStorage> writtenBuffers) {
        for (var e : numbers.entrySet()) {
            int j = e.getValue();
            IndexSelectNode n = (IndexSelectNode) e.getKey();
            batchIndex[j] = taskIndexOf.get(n);
            dims[j] = n.dim();
            names[j] = "index_select " + (j + 1) + " of " + count + " in a captured program (" + n.output() + ")";
        }
        // Pre-capture buffers are numbered and ancestries are bit sets over them: a chain of n ops over k inputs
        // costs O(n k / 64) words, not O(n k) set entries.
        record Ancestry(long mask, BitSet before) {}
        Map<Storage, Integer> sourceIndex = new IdentityHashMap<>();
        List<GpuStorage> sourceList = new ArrayList<>();
        Map<Storage, Ancestry> of = new IdentityHashMap<>();
        for (OpNode n : work) {
            long mask = n instanceof IndexSelectNode ? bit(numbers.get(n)) : 0;
            BitSet before = new BitSet();
            List<Storage> from = new ArrayList<>(n.reads());
            Storage target = n.output().storage();
            if (!coversAll(n)) from.add(target);
            for (Storage st : from) {
                Ancestry a = of.get(st);
                if (a == null) {
                    before.set(sourceIndex.computeIfAbsent(st, x -> {
                        sourceList.add((GpuStorage) x);
                        return sourceList.size() - 1;
                    }));
                } else {
                    mask |= a.mask();
                    before.or(a.before());
                }
            }
            of.put(target, new Ancestry(mask, before));
        }
        int n = writtenBuffers.size();
        GpuStorage[] written = writtenBuffers.toArray(GpuStorage[]::new);
        Taint[][] live = new Taint[n][];
        BitSet[] inherited = new BitSet[n];
        BitSet used = new BitSet();
        for (int i = 0; i < n; i++) {
            Ancestry a = of.get(written[i]);
            long mask = a == null ? 0 : a.mask();
            live[i] = mask == 0 ? null : new Taint[]{new Taint(this, mask, LATEST, LATEST)};
            inherited[i] = a == null ? new BitSet() : a.before();
            used.or(inherited[i]);
        }
        // A buffer that a run taints and the next run reads (a recurrent state) descends from every run: each
        // run must merge its ancestry, never skip the pass.
        boolean recurrent = false;
        for (int i = 0; i < n; i++) recurrent |= live[i] != null && sourceIndex.containsKey(written[i]);
        numbers = null;
        return new Writes(this, written, live, inherited, sourceList.toArray(GpuStorage[]::new), used, recurrent);
    }

    /** A buffer's fault ancestry changed (see {@link #CHANGES}). */
    static void changed() {
        CHANGES.incrementAndGet();
    }

    static boolean coversAll(OpNode n) {
        var out = n.output();
        return out.numel() * out.dtype().byteSize() == out.storage().byteSize() && out.layout().coversAll(out.numel());
    }

    private static long bit(int j) { return 1L << Math.min(j, 63); }

    /** The taint as a fixed range of runs: what a tensor computed from it now descends from. */
    static Taint snapshot(Taint t) {
        if (t.to() != LATEST) return t;
        long latest = t.owner().lastBase;
        return new Taint(t.owner(), t.mask(), t.from() == LATEST ? latest : t.from(), latest);
    }

    /**
     * What a run stores, for {@link #noteRun}: the program's written buffers, the live taint each gets (null: it
     * descends from no captured index_select) and the buffers from before the capture each inherits from. Held
     * by the {@link GpuReplay} only, so taints (which outlive it) do not keep these buffers reachable.
     */
    static final class Writes {
        private final ReplayFaults owner;
        private final GpuStorage[] written;
        private final Taint[][] live;
        private final BitSet[] inherited;    // per written buffer: indices into sources
        private final GpuStorage[] sources;  // the pre-capture buffers the program reads
        private final BitSet used;           // the sources some written buffer inherits from
        private final boolean recurrent;     // a tainted written buffer is also read (see placed)
        private long cleanAt = -1;           // CHANGES after the last run that found nothing inherited (-1: none)

        private Writes(ReplayFaults owner, GpuStorage[] written, Taint[][] live, BitSet[] inherited,
                       GpuStorage[] sources, BitSet used, boolean recurrent) {
            this.used = used;
            this.owner = owner;
            this.recurrent = recurrent;
            this.written = written;
            this.live = live;
            this.inherited = inherited;
            this.sources = sources;
        }

        ReplayFaults owner() { return owner; }

        /**
         * A run [base, end) was submitted (called with the owner locked, right after the submit): each written
         * buffer now holds this run's results. Allocation-free unless a buffer read from before the capture
         * carries faults itself; while no buffer's ancestry changed anywhere since this replay's last clean run,
         * it only stores the run's bounds (a capture of 10,000 ops does not touch 10,000 buffers per run).
         */
        void noteRun(long base, long end) {
            if (CHANGES.get() != cleanAt) notePass();
            owner.lastBase = base;
            owner.lastEnd = end;
            long n = owner.runs;
            owner.recent.set((int) (n % RECENT), base);
            owner.runs = n + 1;
        }

        private void notePass() {
            boolean inherits = false;
            for (int k = used.nextSetBit(0); k >= 0; k = used.nextSetBit(k + 1)) {
                inherits |= sources[k].faultIds() != null || sources[k].replayTaints() != null;
            }
            if (!inherits) {
                for (int i = 0; i < written.length; i++) {
                    if (written[i].faultIds() != null) written[i].setFaultIds(null);
                    if (written[i].replayTaints() != live[i]) written[i].setReplayTaints(live[i]);
                }
                cleanAt = recurrent ? -1 : CHANGES.get();
                return;
            }
            cleanAt = -1;
            // What the run read is what the buffers held before it: every buffer's ancestry first, then stored.
            long[][] ids = new long[written.length][];
            Taint[][] taints = new Taint[written.length][];
            for (int i = 0; i < written.length; i++) {
                List<Taint> t = new ArrayList<>();
                if (live[i] != null) t.add(live[i][0]);
                for (int k = inherited[i].nextSetBit(0); k >= 0; k = inherited[i].nextSetBit(k + 1)) {
                    GpuStorage s = sources[k];
                    ids[i] = union(ids[i], s.faultIds());
                    if (s.replayTaints() != null) for (Taint x : s.replayTaints()) t.add(snapshot(x));
                }
                taints[i] = owner.merged(t, written[i].replayTaints());
            }
            for (int i = 0; i < written.length; i++) {
                written[i].setFaultIds(ids[i]);
                written[i].setReplayTaints(taints[i]);
            }
        }
    }

    /**
     * {@code taints} without repeats; a range ending at this program's run before the one being noted joins the
     * live taint of the same mask (a recurrent state descends from every run since). Returns {@code current}
     * when equal.
     */
    private Taint[] merged(List<Taint> taints, Taint[] current) {
        List<Taint> out = new ArrayList<>();
        for (Taint t : taints) if (!out.contains(t) && !t.owner().knownGood(t)) out.add(t);
        for (int k = 0; k < out.size(); k++) {
            Taint t = out.get(k);
            if (t.owner() != this || t.from() == LATEST || t.to() != lastBase) continue;
            int live = out.indexOf(new Taint(this, t.mask(), LATEST, LATEST));
            if (live < 0) continue;
            out.set(k, new Taint(this, t.mask(), t.from(), LATEST));
            out.remove(live);
            if (live < k) k--;
        }
        coalesce(out);
        if (out.isEmpty()) return null;
        Taint[] result = out.toArray(Taint[]::new);
        return current != null && Arrays.equals(current, result) ? current : result;
    }

    static long[] union(long[] a, long[] b) {
        if (b == null || a == b) return a;
        if (a == null) return b;  // never changed once set: sharing is safe
        long[] out = new long[a.length + b.length];
        int i = 0, j = 0, n = 0;
        while (i < a.length || j < b.length) {
            long x = j == b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
            if (n == 0 || out[n - 1] != x) out[n++] = x;
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /**
     * Two lists of taints as one (a tensor computed from both), each fixed to the runs it names now; ranges
     * already known not to have failed are dropped, so a long chain's list stays short.
     */
    static Taint[] union(Taint[] a, Taint[] b) {
        if (a == null && b == null) return null;
        List<Taint> out = new ArrayList<>();
        for (Taint[] ts : new Taint[][]{a, b}) {
            if (ts == null) continue;
            for (Taint t : ts) {
                Taint f = snapshot(t);
                if (!out.contains(f) && !f.owner().knownGood(f)) out.add(f);
            }
        }
        coalesce(out);
        return out.isEmpty() ? null : out.toArray(Taint[]::new);
    }

    /**
     * Joins fixed ranges of the same program and mask that overlap or that are consecutive runs of that program
     * (no run of it between them): their union is one range naming exactly the same runs. Without this, a buffer
     * that keeps part of its contents across runs (a KV cache written in part) and descends from another program
     * gained a range per run of that program, and every run's bookkeeping grew with the number of runs.
     */
    static void coalesce(List<Taint> out) {
        for (int i = 0; i < out.size(); i++) {
            Taint a = out.get(i);
            if (a.from() == LATEST || a.to() == LATEST) continue;
            for (int j = i + 1; j < out.size(); j++) {
                Taint b = out.get(j);
                if (b.owner() != a.owner() || b.mask() != a.mask() || b.from() == LATEST || b.to() == LATEST) continue;
                Taint lo = a.from() <= b.from() ? a : b, hi = lo == a ? b : a;
                if (hi.from() > lo.to() && !a.owner().follows(lo.to(), hi.from())) continue;
                a = new Taint(a.owner(), a.mask(), lo.from(), Math.max(lo.to(), hi.to()));
                out.set(i, a);
                out.remove(j);
                j = i;  // the wider range may now join one passed over
            }
        }
    }

    /**
     * Whether {@code later} is the first seq of the run of this program right after the one starting at
     * {@code earlier}, as far as the latest {@link #RECENT} runs tell (false when unknown: ranges stay apart).
     * Read without the lock: a slot being rewritten holds a newer run's seq, which never pairs as earlier < later
     * with the slot after it.
     */
    private boolean follows(long earlier, long later) {
        if (earlier >= later) return false;
        long n = runs;
        for (long k = Math.max(0, n - RECENT); k + 1 < n; k++) {
            if (recent.get((int) (k % RECENT)) == earlier) return recent.get((int) ((k + 1) % RECENT)) == later;
        }
        return false;
    }

    /** Whether the log was read after every run of fixed range {@code t} and shows no failure in it (no download). */
    private synchronized boolean knownGood(Taint t) {
        if (t.to() == LATEST || drainedThrough == LATEST || t.to() > drainedThrough) return false;
        return known.failure(t.mask(), t.from(), t.to()) == null && !known.unknownIn(t.from(), t.to());
    }

    /** Throws if a run a buffer with {@code taints} descends from had a bad index. Called by reads, on any thread. */
    static void check(Taint[] taints) {
        if (taints == null) return;
        for (Taint t : taints) t.owner().check(t);
    }

    private synchronized void check(Taint t) {
        long latest = lastBase;
        long from = t.from() == LATEST ? latest : t.from(), to = t.to() == LATEST ? latest : t.to();
        if (latest == LATEST) return;  // never ran: nothing computed, nothing failed
        drain();
        long[] f = known.failure(t.mask(), from, to);
        if (f != null) {
            int j = (int) f[1];
            IndexOutOfBoundsException cause = new IndexOutOfBoundsException("index_select: index " + f[2]
                    + " is out of range for dimension " + dims[j] + " of size " + f[3]);
            throw new IllegalStateException("a recorded op this tensor was computed from failed when it ran on the"
                    + " gpu backend (" + names[j] + ", in the run submitted at seq " + known.baseOf(f) + "): "
                    + cause.getMessage(), cause);
        }
        if (known.unknownIn(from, to)) {
            throw new IllegalStateException("cannot tell whether an index_select this tensor was computed from (in a"
                    + " captured program) failed: more than " + LOG_ENTRIES + " index_select failures of that program"
                    + " were recorded before a read looked at them, so the oldest were lost; read results sooner after"
                    + " a failing run, or fix the indices");
        }
    }

    /**
     * Reads the entries the device appended since the last look (the latest run completed first, so every
     * entry is whole). Runs are submitted with this object locked, so none starts meanwhile.
     */
    private void drain() {
        if (block == null) return;
        long end = lastEnd, base = lastBase;
        if (end > 0 && os.completed() < end) os.await(base, end);
        drainedThrough = base;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(8, 8);
            os.download(count, block, 0);
            long c = count.get(ValueLayout.JAVA_LONG, 0);
            if (c == known.drained) return;
            MemorySegment log = a.allocate(LOG_ENTRIES * ENTRY_BYTES, 8);
            os.download(log, block, logAt * 8);
            known.absorb(c, log.toArray(ValueLayout.JAVA_LONG));
        }
    }

    /**
     * What the host knows of a program's log (guarded by its ReplayFaults): the failures read so far, {stamp, j,
     * index, size} each, and the ranges of runs whose failures were lost.
     */
    static final class Known {
        private final int[] batchIndex;
        private long drained;  // log entries read so far
        private final ArrayDeque<long[]> failures = new ArrayDeque<>();
        private final List<long[]> unknown = new ArrayList<>();  // [from, to] run bases

        Known(int[] batchIndex) {
            this.batchIndex = batchIndex;
        }

        /**
         * Reads the ring ({@code words}: LOG_ENTRIES entries of 4 longs) holding the first {@code count} entries
         * ever appended, the oldest overwritten. Entries are appended in run order (runs do not overlap), so
         * overwritten ones belong to runs from the last one read up to the oldest one left.
         */
        void absorb(long count, long[] words) {
            long first = Math.max(drained, count - LOG_ENTRIES);
            if (first > drained) {
                long lostFrom = failures.isEmpty() ? 0 : baseOf(failures.peekLast());
                unknown.add(new long[]{lostFrom, baseOf(entry(words, first))});
            }
            for (long p = first; p < count; p++) keep(entry(words, p));
            drained = Math.max(drained, count);
        }

        private static long[] entry(long[] words, long position) {
            int at = (int) (position % LOG_ENTRIES) * 4;
            return Arrays.copyOfRange(words, at, at + 4);
        }

        long baseOf(long[] failure) {
            return failure[0] - 1 - batchIndex[(int) failure[1]];
        }

        private void keep(long[] failure) {
            if (failures.size() == KEPT) {
                long[] dropped = failures.pollFirst();
                long from = baseOf(dropped);
                unknown.add(new long[]{from, failures.isEmpty() ? from : baseOf(failures.peekFirst())});
            }
            failures.addLast(failure);
        }

        /** A failure of a task in {@code mask} in a run with base in [from, to], or null. */
        long[] failure(long mask, long from, long to) {
            for (long[] f : failures) {
                long base = baseOf(f);
                if ((bit((int) f[1]) & mask) != 0 && base >= from && base <= to) return f;
            }
            return null;
        }

        /** Whether a failure of a run with base in [from, to] may have been lost. */
        boolean unknownIn(long from, long to) {
            for (long[] u : unknown) if (u[0] <= to && from <= u[1]) return true;
            return false;
        }
    }

    /**
     * The replay was closed (between submissions, so no run starts): its last run's failures are read into host
     * memory and the block is given back; tensors it computed keep their answers.
     */
    synchronized void replayClosed() {
        if (block == null) return;
        try {
            drain();
        } finally {
            block = null;
            release.clean();
        }
    }

    /** Gives the block back once: at close, or when nothing references these faults any more. */
    private static final class Release implements Runnable {
        private final GpuOS os;
        private final DeviceBlock block;
        private final AtomicBoolean done = new AtomicBoolean();

        Release(GpuOS os, DeviceBlock block) {
            this.os = os;
            this.block = block;
        }

        @Override
        public void run() {
            if (!done.compareAndSet(false, true)) return;
            try {
                os.release(block);  // reused only after every task submitted so far completed
            } catch (RuntimeException closed) {
                // The GpuOS closed first: its arena, and this block with it, is gone already.
            }
        }
    }
}
