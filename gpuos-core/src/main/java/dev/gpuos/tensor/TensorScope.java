package dev.gpuos.tensor;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
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
 */
public final class TensorScope implements AutoCloseable, TensorFactory {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger(TensorScope.class.getName());
    // Weak, so that a scope its user forgot to close can still become unreachable and be cleaned.
    private static final ThreadLocal<Deque<WeakReference<TensorScope>>> OPEN_ON_THREAD =
            ThreadLocal.withInitial(ArrayDeque::new);

    /** The part the Cleaner may see: it must not reference the scope, or the scope would never become unreachable. */
    private static final class Owned implements Runnable {
        // Identity, open addressing: adopting a buffer (once per op) allocates no entry object.
        private final Set<Storage> storages = Collections.newSetFromMap(new IdentityHashMap<>());
        private boolean closed;
        private boolean closedExplicitly;

        @Override
        public void run() {
            List<Storage> toRelease;
            synchronized (this) {
                if (closed) return;
                closed = true;
                toRelease = new ArrayList<>(storages);
                storages.clear();
            }
            if (!closedExplicitly && !toRelease.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "TensorScope was not closed; the Cleaner released "
                        + toRelease.size() + " leaked buffer(s)");
            }
            for (Storage s : toRelease) s.release();
        }
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
        Deque<WeakReference<TensorScope>> stack = OPEN_ON_THREAD.get();
        while (!stack.isEmpty()) {
            TensorScope top = stack.peek().get();
            if (top != null && top.isOpen()) return Optional.of(top);
            stack.pop();
        }
        return Optional.empty();
    }

    @Override
    public Backend backend() { return backend; }

    public boolean isOpen() {
        synchronized (owned) {
            return !owned.closed;
        }
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

    /** Number of buffers this scope currently owns. */
    public int ownedBufferCount() {
        synchronized (owned) {
            return owned.storages.size();
        }
    }

    @Override
    public TensorScope scope() { return this; }

    void adopt(Storage storage) {
        synchronized (owned) {
            if (owned.closed) {
                storage.release();
                throw new TensorClosedException("TensorScope is closed; it cannot own new tensors");
            }
            owned.storages.add(storage);
        }
    }

    /** Releases one buffer early (temporaries of read-back, outputs of rejected ops). */
    void discard(Storage storage) {
        synchronized (owned) {
            owned.storages.remove(storage);
        }
        storage.release();
    }

    /** Moves ownership of {@code storage} from this scope to {@code target}. */
    void transfer(Storage storage, TensorScope target) {
        if (target == this) return;
        synchronized (owned) {
            if (!owned.storages.remove(storage)) {
                throw new TensorClosedException("storage is not owned by this scope (already closed or moved)");
            }
        }
        target.adopt(storage);
    }

    /** Where the result of an op on {@code firstOperand} goes: the current scope, else the operand's owner. */
    static TensorScope forResult(Tensor firstOperand) {
        return current().orElse(firstOperand.scope());
    }
}
