package dev.gpuos.runtime.ops;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Maps operator names to the physical slots the GPU worker dispatches on, and decides which slots each new
 * generation (linked module) must contain.
 *
 * <p><b>Dual slot.</b> Replacing an operator never patches a slot in place: the new version gets a fresh slot
 * ({@link #begin}), the runtime links a generation containing both old and new slots, and once that
 * generation runs it flips the name to the new slot ({@link #activate}). Because the host resolves name to slot
 * when it submits, a task submitted before the flip carries the old slot and runs the old code; one submitted
 * after carries the new slot. The old slot stays in every generation until the completion watermark passes the
 * last task submitted with it ({@link #liveSlots}), then it is retired.
 *
 * <p><b>Lifecycle</b> of a version (see {@link OperatorState}):
 * {@code PENDING -> ACTIVE -> SUPERSEDED -> RETIRED}, or {@code PENDING -> ABORTED}. A retired or aborted slot
 * number is reused only if the loaded generation ({@link #generationLoaded}) does not contain it.
 *
 * <p><b>The retire race.</b> A submitter resolves a slot, then records its use; between the two the name may
 * flip and the old slot be retired, which would strand the task. Both sides therefore meet on one word per
 * slot, {@code lastUse}: {@link #noteUse} raises it by CAS unless it holds the RETIRED mark, and retirement
 * CASes it to the mark only if it is still below the watermark. Whichever CAS lands first wins, so a use is
 * either recorded before retirement (and keeps the slot) or refused (and the submitter resolves again).
 * {@link #acquire} packages this loop and also detects a slot number reused meanwhile, by re-reading the
 * slot's owner after the use was recorded.
 *
 * <p><b>Threads.</b> {@link #resolve}, {@link #noteUse} and {@link #acquire} are lock-free (a
 * ConcurrentHashMap lookup, a volatile read, a CAS). Everything else runs under the table's monitor; it is on
 * the compile path, not the submission path.
 */
public final class AliasTable {

    public static final int DEFAULT_MAX_SLOTS = 1024;

    /** {@code lastUse} of a slot no task was submitted with. Sequence numbers are non-negative. */
    private static final long NEVER_USED = -1;
    /** {@code lastUse} of a retired slot: uses are refused. */
    private static final long RETIRED_MARK = Long.MIN_VALUE;

    /** One version in its slot. Identity matters: the submission path compares owners by reference. */
    private static final class Entry {
        final String name;
        final int version;
        final int slot;
        final String source;
        /** Written under the table monitor, read anywhere. */
        volatile OperatorState state = OperatorState.PENDING;

        Entry(String name, int version, int slot, String source) {
            this.name = name;
            this.version = version;
            this.slot = slot;
            this.source = source;
        }

        OperatorVersion snapshot() {
            return new OperatorVersion(name, version, slot, source, state);
        }

        void moveTo(OperatorState next) {
            state = state.moveTo(next, name + " v" + version + " in slot " + slot);
        }

        @Override
        public String toString() {
            return name + " v" + version + " in slot " + slot + " (" + state + ")";
        }
    }

    private static final class Operator {
        /** The version names resolve to; null until the first activation. Published by volatile write. */
        volatile Entry active;
        // Guarded by the table monitor.
        Entry pending;
        int latestVersion;
        final List<Entry> history = new ArrayList<>();
    }

    private final int maxSlots;
    private final ConcurrentHashMap<String, Operator> operators = new ConcurrentHashMap<>();
    /** Per slot: the highest seq submitted with it, NEVER_USED, or RETIRED_MARK. */
    private final AtomicLongArray lastUse;
    /** Per slot: the version that currently owns the slot number (null if never used). */
    private final AtomicReferenceArray<Entry> owners;
    /** Slots of the generation the worker runs now; guarded by the table monitor. */
    private BitSet loaded = new BitSet();
    /**
     * Runs inside {@link #acquire} between reading the alias and recording the use, the window in which the
     * retire and slot-reuse races happen; null except in tests, which use it to play those races exactly.
     */
    private final Runnable raceWindow;

    public AliasTable() {
        this(DEFAULT_MAX_SLOTS);
    }

    /** @param maxSlots size of the worker's function table: slots are 0..maxSlots-1 */
    public AliasTable(int maxSlots) {
        this(maxSlots, null);
    }

    AliasTable(int maxSlots, Runnable raceWindow) {
        if (maxSlots < 1 || maxSlots > (1 << 20)) {
            throw new IllegalArgumentException("maxSlots must be in [1, 1048576], got " + maxSlots);
        }
        this.maxSlots = maxSlots;
        this.raceWindow = raceWindow;
        this.lastUse = new AtomicLongArray(maxSlots);
        this.owners = new AtomicReferenceArray<>(maxSlots);
        for (int i = 0; i < maxSlots; i++) {
            lastUse.set(i, NEVER_USED);
        }
    }

    public int maxSlots() {
        return maxSlots;
    }

    // ---- submission path (lock-free) ----

    /**
     * The slot {@code name} resolves to now.
     *
     * @throws UnknownOperatorException if no version of {@code name} is active
     */
    public int resolve(String name) {
        Operator operator = operators.get(name);
        Entry active;
        if (operator == null || (active = operator.active) == null) {
            throw unknown(name);
        }
        return active.slot;
    }

    /**
     * Records that the task with sequence number {@code seq} was submitted with {@code slot}, keeping the slot
     * in every generation until that task completes.
     *
     * @return false if the slot was retired meanwhile: resolve the name again. Prefer {@link #acquire}, which
     *         also guards against the slot number having been reused for another operator.
     */
    public boolean noteUse(int slot, long seq) {
        if (seq < 0) {
            throw new IllegalArgumentException("seq must be non-negative, got " + seq);
        }
        Objects.checkIndex(slot, maxSlots);
        while (true) {
            long current = lastUse.get(slot);
            if (current == RETIRED_MARK) {
                return false;
            }
            if (current >= seq || lastUse.compareAndSet(slot, current, seq)) {
                return true;
            }
        }
    }

    /**
     * Resolves {@code name} and records the use by task {@code seq} atomically with respect to retirement: the
     * returned slot holds the code that was active when the task was submitted and stays loaded until the
     * task completes (i.e. until a watermark above {@code seq} is passed to {@link #liveSlots}).
     */
    public int acquire(String name, long seq) {
        Operator operator = operators.get(name);
        if (operator == null) {
            throw unknown(name);
        }
        while (true) {
            Entry active = operator.active;
            if (active == null) {
                throw unknown(name);
            }
            if (raceWindow != null) {
                raceWindow.run();
            }
            // The owner check after a recorded use catches reuse of the slot number: reuse installs the new
            // owner before clearing the RETIRED mark, so a CAS that succeeded on the cleared word sees it.
            if (noteUse(active.slot, seq) && owners.get(active.slot) == active) {
                return active.slot;
            }
            Thread.onSpinWait();
        }
    }

    // ---- compile path (under the monitor) ----

    /**
     * Reserves a slot for a new version of {@code name} (version 1 if the name is new). The version is
     * PENDING: names keep resolving to the current version until {@link #activate}.
     *
     * @throws IllegalStateException if {@code name} already has a pending version, or all slots are taken
     */
    public synchronized SlotPlan begin(String name, String source) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("operator name must not be blank, got '" + name + "'");
        }
        Objects.requireNonNull(source, "source");
        Operator operator = operators.get(name);
        if (operator != null && operator.pending != null) {
            throw new IllegalStateException("operator '" + name + "' already has " + operator.pending
                    + "; activate or abort it before starting another version");
        }
        int slot = freeSlot();
        if (operator == null) {
            operator = new Operator();
            operators.put(name, operator);
        }
        Entry entry = new Entry(name, ++operator.latestVersion, slot, source);
        // Owner first, then clear the mark: acquire() relies on this order to detect reuse.
        owners.set(slot, entry);
        lastUse.set(slot, NEVER_USED);
        operator.pending = entry;
        operator.history.add(entry);
        return new SlotPlan(name, entry.version, slot);
    }

    /**
     * Makes the planned version the one {@code name} resolves to; the previous version becomes SUPERSEDED.
     * Call only once a generation containing the plan's slot runs.
     *
     * @throws IllegalStateException if the plan is not PENDING or its slot is not in the loaded generation
     */
    public synchronized void activate(SlotPlan plan) {
        Entry entry = entryOf(plan);
        if (!loaded.get(entry.slot) && entry.state == OperatorState.PENDING) {
            throw new IllegalStateException("cannot activate " + entry + ": the loaded generation does not "
                    + "contain slot " + entry.slot + "; load a generation built from liveSlots() first");
        }
        entry.moveTo(OperatorState.ACTIVE);
        Operator operator = operators.get(entry.name);
        Entry previous = operator.active;
        operator.pending = null;
        operator.active = entry; // the flip: resolve returns the new slot from here on
        if (previous != null) {
            previous.moveTo(OperatorState.SUPERSEDED);
        }
    }

    /** Gives up a planned version (its code failed to build); the current version keeps serving. */
    public synchronized void abort(SlotPlan plan) {
        Entry entry = entryOf(plan);
        entry.moveTo(OperatorState.ABORTED);
        operators.get(entry.name).pending = null;
    }

    /**
     * The slots the next generation must contain: every active and pending version, and every superseded
     * version with a task at or above {@code completedSeq} (not yet complete). Superseded versions whose
     * tasks all completed are RETIRED here.
     *
     * @param completedSeq the completion watermark: every task with seq &lt; completedSeq is complete
     */
    public synchronized List<Slot> liveSlots(long completedSeq) {
        List<Slot> slots = new ArrayList<>();
        for (int i = 0; i < maxSlots; i++) {
            Entry entry = owners.get(i);
            if (entry == null || entry.state.isFinal()) {
                continue;
            }
            if (entry.state == OperatorState.SUPERSEDED && tryRetire(i, completedSeq)) {
                entry.moveTo(OperatorState.RETIRED);
                continue;
            }
            slots.add(new Slot(i, entry.name, entry.version, entry.source));
        }
        return slots;
    }

    /**
     * Tells the table which generation the worker runs now, so that slot numbers it contains are not reused
     * and pending versions in it may be activated.
     *
     * @throws IllegalStateException if the generation holds a slot whose number was reused since it was built,
     *                               or lacks a slot that tasks may still be submitted with
     */
    public synchronized void generationLoaded(Collection<Slot> slots) {
        BitSet next = new BitSet(maxSlots);
        for (Slot slot : slots) {
            Objects.checkIndex(slot.index(), maxSlots);
            Entry owner = owners.get(slot.index());
            if (owner == null || owner.version != slot.version() || !owner.name.equals(slot.name())) {
                throw new IllegalStateException("generation is stale: it has " + slot.name() + " v"
                        + slot.version() + " in slot " + slot.index() + ", but the slot now holds "
                        + (owner == null ? "nothing" : owner.toString()));
            }
            next.set(slot.index());
        }
        for (int i = 0; i < maxSlots; i++) {
            Entry owner = owners.get(i);
            if (owner != null && (owner.state == OperatorState.ACTIVE || owner.state == OperatorState.SUPERSEDED)
                    && !next.get(i)) {
                throw new IllegalStateException("generation lacks slot " + i + " (" + owner
                        + "), which submitted tasks may still use; build it from liveSlots()");
            }
        }
        loaded = next;
    }

    // ---- queries ----

    /** The version {@code name} resolves to now. */
    public OperatorVersion active(String name) {
        Operator operator = operators.get(name);
        Entry active;
        if (operator == null || (active = operator.active) == null) {
            throw unknown(name);
        }
        return active.snapshot();
    }

    /** Every version of {@code name} ever begun, oldest first; empty if the name was never used. */
    public synchronized List<OperatorVersion> versions(String name) {
        Operator operator = operators.get(name);
        return operator == null ? List.of() : operator.history.stream().map(Entry::snapshot).toList();
    }

    /** The version whose code the slot number currently holds (or last held, if retired or aborted). */
    public Optional<OperatorVersion> slotOwner(int slot) {
        Objects.checkIndex(slot, maxSlots);
        Entry owner = owners.get(slot);
        return owner == null ? Optional.empty() : Optional.of(owner.snapshot());
    }

    /** Names that resolve, sorted. */
    public List<String> names() {
        return operators.entrySet().stream().filter(e -> e.getValue().active != null)
                .map(java.util.Map.Entry::getKey).sorted().toList();
    }

    private UnknownOperatorException unknown(String name) {
        Operator operator = name == null ? null : operators.get(name);
        String detail = "";
        if (operator != null) {
            synchronized (this) {
                if (operator.pending != null) {
                    detail = " (" + operator.pending + " is not active yet)";
                }
            }
        }
        return new UnknownOperatorException(name, names(), detail);
    }

    private Entry entryOf(SlotPlan plan) {
        Objects.requireNonNull(plan, "plan");
        Objects.checkIndex(plan.slot(), maxSlots);
        Entry entry = owners.get(plan.slot());
        if (entry == null || entry.version != plan.version() || !entry.name.equals(plan.name())) {
            throw new IllegalStateException("unknown plan " + plan + ": slot " + plan.slot() + " holds "
                    + (entry == null ? "nothing" : entry.toString()));
        }
        return entry;
    }

    /** Retires slot {@code i} unless a task at or above the watermark was recorded; see the class comment. */
    private boolean tryRetire(int i, long completedSeq) {
        while (true) {
            long current = lastUse.get(i);
            if (current == RETIRED_MARK) {
                return true;
            }
            if (current >= completedSeq) {
                return false;
            }
            if (lastUse.compareAndSet(i, current, RETIRED_MARK)) {
                return true;
            }
        }
    }

    private int freeSlot() {
        int active = 0;
        int pending = 0;
        int superseded = 0;
        int finalButLoaded = 0;
        for (int i = 0; i < maxSlots; i++) {
            Entry owner = owners.get(i);
            if (owner == null || (owner.state.isFinal() && !loaded.get(i))) {
                return i;
            }
            switch (owner.state) {
                case ACTIVE -> active++;
                case PENDING -> pending++;
                case SUPERSEDED -> superseded++;
                case RETIRED, ABORTED -> finalButLoaded++;
            }
        }
        throw new IllegalStateException("all " + maxSlots + " operator slots are taken: " + active + " active, "
                + pending + " pending, " + superseded + " superseded with tasks possibly in flight, "
                + finalButLoaded + " retired but still in the loaded generation; let in-flight tasks complete and "
                + "load a generation from liveSlots(), or raise maxSlots");
    }
}
