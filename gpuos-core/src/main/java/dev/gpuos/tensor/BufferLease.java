package dev.gpuos.tensor;

import java.lang.ref.PhantomReference;

/**
 * The memory behind one {@link Storage}, held apart from the Storage object so that it can be given back in two
 * ways: explicitly (the owning {@link TensorScope} closes, {@link Storage#release()}) or once the Storage is
 * unreachable (no tensor, view, replay or recorded op references it), which the GC tells its
 * {@link BufferLedger} through this phantom reference. It must not reference its Storage (the Storage would
 * never become unreachable); a backend subclasses it with what {@link #free()} needs (a device block).
 *
 * <p>Released exactly once, whichever way comes first; {@link #isReleased()} is the Storage's released flag.
 */
public abstract class BufferLease extends PhantomReference<Storage> {
    private static final java.lang.invoke.VarHandle RELEASED;

    static {
        try {
            RELEASED = java.lang.invoke.MethodHandles.lookup().findVarHandle(BufferLease.class, "released", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Who holds the lease for an explicit release (a TensorScope's owned set): told when the GC path frees it. */
    interface Holder {
        void forget(BufferLease lease);
    }

    private final BufferLedger ledger;
    private volatile boolean released;
    volatile Holder holder;
    /** Index in the holder's lease array; written under the holder's lock (see TensorScope.Owned). */
    int slot = -1;

    /**
     * Registers {@code storage}'s memory of {@code bytes} with {@code ledger}; call once, from the Storage's
     * constructor. {@link #bytes()} must return the same from then on (a subclass derives it from what it holds
     * anyway, and a field of its own here would make every GPU lease 8 bytes bigger: one per op's result).
     */
    protected BufferLease(Storage storage, BufferLedger ledger, long bytes) {
        super(storage, ledger.queue);
        this.ledger = ledger;
        ledger.opened(bytes);
    }

    /**
     * Gives the memory back: called once, where the ledger's backend allows it (see {@link BufferLedger.Hooks}).
     *
     * @param unreachable true when the GC found the Storage unreachable, false for an explicit release
     */
    protected abstract void free(boolean unreachable);

    public final boolean isReleased() { return released; }

    /** The bytes this lease holds, as registered with the ledger. */
    public abstract long bytes();

    public final BufferLedger ledger() { return ledger; }

    /**
     * Releases the memory after the recorded work that may use it (see {@link BufferLedger#release}). Idempotent;
     * the Storage is released (reading it throws {@link TensorClosedException}) once this returns.
     */
    public final void release() {
        Holder h = holder;
        if (h != null) h.forget(this);
        ledger.release(java.util.List.of(this));
    }

    /** True for the one caller that releases this lease. */
    final boolean markReleased() {
        // One compare-and-set, not a monitor: a scope's close releases every buffer it owns this way.
        if (released || !RELEASED.compareAndSet(this, false, true)) return false;
        clear();  // an explicit release: the GC has nothing left to report
        return true;
    }
}
