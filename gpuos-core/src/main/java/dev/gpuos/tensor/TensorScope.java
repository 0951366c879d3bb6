package dev.gpuos.tensor;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Owner of tensor memory, like DJL's NDManager. Every tensor created by this scope's factories, and every op
 * result computed while this scope is the innermost open scope of the calling thread, is owned by it; closing
 * the scope releases all of their storage, after which using any of those tensors throws
 * {@link TensorClosedException}. Ops called on a thread with no open scope put their result in the scope that
 * owns their first tensor operand.
 *
 * <pre>{@code
 * try (TensorScope scope = TensorScope.open()) {
 *     Tensor x = scope.randn(42, DType.F32, 8, 16);
 *     float[] y = x.relu().sum(new int[]{1}, false).toFloatArray();
 * }
 * }</pre>
 *
 * A scope that becomes unreachable without being closed is reclaimed by a {@link Cleaner}, which releases its
 * storage and logs a warning naming how many buffers leaked.
 *
 * <p>A tensor that becomes unreachable before its scope closes (no tensor, view, replay or recorded op references
 * its buffer any more) gives its memory back without the scope: see {@link BufferLedger}. Closing the scope
 * still releases everything it owns at once, deterministically.
 */
public final class TensorScope implements AutoCloseable, TensorFactory {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger(TensorScope.class.getName());
    // Weak, so that a scope its user forgot to close can still become unreachable and be cleaned.
    private static final ThreadLocal<Deque<WeakReference<TensorScope>>> OPEN_ON_THREAD =
            ThreadLocal.withInitial(ArrayDeque::new);

    /**
     * The part the Cleaner may see: it must not reference the scope, or the scope would never become unreachable.
     * It holds the {@link BufferLease}s of the buffers it owns, not their Storage objects, so a tensor nobody
     * references any more is reclaimed without closing the scope (see {@link BufferLedger}); storages of backends
     * without leases are held themselves until the scope closes.
     */
    private static final class Owned implements Runnable, BufferLease.Holder {
        // A dense array, each lease knowing its index (BufferLease.slot): adopting a buffer (once per op) and
        // forgetting one are O(1) without hashing (an identity set measured a tenth of a streamed op's host time).
        private BufferLease[] leases = new BufferLease[16];
        private int leaseCount;
        private final Set<Storage> pinned = Collections.newSetFromMap(new IdentityHashMap<>());
        // Written under this lock; volatile so that isOpen (asked twice per op) reads it without the lock.
        private volatile boolean closed;
        private boolean closedExplicitly;

        @Override
        public synchronized void forget(BufferLease lease) {
            remove(lease);
        }

        /** Caller holds this lock. */
        void add(BufferLease lease) {
            if (leaseCount == leases.length) leases = java.util.Arrays.copyOf(leases, Math.max(16, leaseCount * 2));
            lease.slot = leaseCount;
            leases[leaseCount++] = lease;
            lease.holder = this;
        }

        /** Caller holds this lock. Whether {@code lease} was held here. */
        boolean remove(BufferLease lease) {
            int i = lease.slot;
            if (i < 0 || i >= leaseCount || leases[i] != lease) return false;
            BufferLease last = leases[--leaseCount];
            leases[i] = last;
            last.slot = i;
            leases[leaseCount] = null;
            return true;
        }

        @Override
        public void run() {
            List<BufferLease> toRelease;
            List<Storage> toUnpin;
            synchronized (this) {
                if (closed) return;
                closed = true;
                toRelease = java.util.Arrays.asList(leases).subList(0, leaseCount);  // the array is dropped below
                toUnpin = new ArrayList<>(pinned);
                leases = new BufferLease[0];
                leaseCount = 0;
                pinned.clear();
            }
            int count = toRelease.size() + toUnpin.size();
            if (!closedExplicitly && count > 0) {
                LOG.log(System.Logger.Level.WARNING, "TensorScope was not closed; the Cleaner released "
                        + count + " leaked buffer(s)");
            }
            releaseAll(toRelease);
            for (Storage s : toUnpin) s.release();
        }
    }

    /**
     * One explicit release per backend ledger, not one per buffer: a batching backend waits for its pending work
     * once, and nothing here takes a lock another scope's close takes.
     */
    private static void releaseAll(List<BufferLease> leases) {
        if (leases.isEmpty()) return;
        BufferLedger first = leases.getFirst().ledger();
        Map<BufferLedger, List<BufferLease>> others = null;
        boolean mixed = false;
        for (int i = 0; i < leases.size() && !mixed; i++) mixed = leases.get(i).ledger() != first;
        if (!mixed) {  // the usual case: one backend, no copy
            first.release(leases);
            return;
        }
        List<BufferLease> ofFirst = new ArrayList<>(leases.size());
        for (BufferLease l : leases) {
            if (l.ledger() == first) {
                ofFirst.add(l);
            } else {
                if (others == null) others = new IdentityHashMap<>();
                others.computeIfAbsent(l.ledger(), k -> new ArrayList<>()).add(l);
            }
        }
        first.release(ofFirst);
        if (others != null) others.forEach(BufferLedger::release);
    }

    private final Backend backend;
    private final Owned owned = new Owned();
    private final Cleaner.Cleanable cleanable;

    private TensorScope(Backend backend) {
        this.backend = backend;
        this.cleanable = CLEANER.register(this, owned);
    }

    /** Opens a scope on the {@linkplain Backends#defaultBackend() default backend} and makes it current on this thread. */
    public static TensorScope open() {
        return open(Backends.defaultBackend());
    }

    /** Opens a scope whose factories allocate on {@code backend}, and makes it current on this thread. */
    public static TensorScope open(Backend backend) {
        TensorScope scope = new TensorScope(backend);
        OPEN_ON_THREAD.get().push(new WeakReference<>(scope));
        return scope;
    }

    /** The innermost open scope of the calling thread. */
    public static Optional<TensorScope> current() {
        return Optional.ofNullable(innermost());
    }

    /** {@link #current()} or null, without the Optional (asked once per op). */
    private static TensorScope innermost() {
        Deque<WeakReference<TensorScope>> stack = OPEN_ON_THREAD.get();
        while (!stack.isEmpty()) {
            TensorScope top = stack.peek().get();
            if (top != null && top.isOpen()) return top;
            stack.pop();
        }
        return null;
    }

    @Override
    public Backend backend() { return backend; }

    public boolean isOpen() {
        return !owned.closed;
    }

    /** Hands recorded work to the device (see {@link Backend#flush()}). */
    public void flush() { backend.flush(); }

    /** Waits for all submitted work (see {@link Backend#sync()}). */
    public void sync() { backend.sync(); }

    /** Releases the storage of every tensor this scope owns. Idempotent. */
    @Override
    public void close() {
        synchronized (owned) {
            owned.closedExplicitly = true;
        }
        cleanable.clean();
        OPEN_ON_THREAD.get().removeIf(ref -> ref.get() == this || ref.get() == null);
    }

    /** Number of buffers this scope currently owns (buffers reclaimed as unreachable are no longer owned). */
    public int ownedBufferCount() {
        synchronized (owned) {
            return owned.leaseCount + owned.pinned.size();
        }
    }

    @Override
    public TensorScope scope() { return this; }

    void adopt(Storage storage) {
        BufferLease lease = storage.lease();
        boolean closed;
        synchronized (owned) {
            closed = owned.closed;
            if (!closed) {
                if (lease == null) {
                    owned.pinned.add(storage);
                } else {
                    owned.add(lease);
                }
            }
        }
        if (closed) {
            storage.release();  // outside the lock: a release may wait for the backend's pending work
            throw new TensorClosedException("TensorScope is closed; it cannot own new tensors");
        }
    }

    /** Releases one buffer early (temporaries of read-back, outputs of rejected ops). */
    void discard(Storage storage) {
        disown(storage);
        storage.release();
    }

    private boolean disown(Storage storage) {
        BufferLease lease = storage.lease();
        synchronized (owned) {
            return lease == null ? owned.pinned.remove(storage) : owned.remove(lease);
        }
    }

    /** Moves ownership of {@code storage} from this scope to {@code target}. */
    void transfer(Storage storage, TensorScope target) {
        if (target == this) return;
        if (!disown(storage)) {
            throw new TensorClosedException("storage is not owned by this scope (already closed or moved)");
        }
        target.adopt(storage);
    }

    /** Where the result of an op on {@code firstOperand} goes: the current scope, else the operand's owner. */
    static TensorScope forResult(Tensor firstOperand) {
        TensorScope current = innermost();
        return current != null ? current : firstOperand.scope();
    }
}
