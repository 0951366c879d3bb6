package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Operators this backend registered with its GpuOS, keyed by structure ({@link OperatorStructure#key}): a kernel
 * structure compiles and swaps in a new worker generation once, then every task with that structure reuses it,
 * whatever its shapes. A lookup costs a map probe on the key; only a structure this library has not seen yet
 * has its source rendered and hashed. Names carry a hash of the whole source, so two backends over one GpuOS
 * share operators instead of colliding, and the JIT's cache key covers the whole source as before.
 */
final class OperatorLibrary {
    private final GpuOS os;
    private final Map<String, OperatorRef> byKey = new ConcurrentHashMap<>();
    private int registered;
    /** Names of the operators this library registered, in order (what a compile-bound run spent its time on). */
    private final java.util.List<String> registeredNames = new java.util.ArrayList<>();

    OperatorLibrary(GpuOS os) {
        this.os = os;
    }

    /** The operator of a task, registering it (compile + generation swap) the first time its structure is seen. */
    OperatorRef get(KernelTask task) {
        return get(task.operator());
    }

    /** The operator of {@code structure}, registering it the first time. */
    synchronized OperatorRef get(OperatorStructure structure) {
        OperatorRef ref = byKey.get(structure.key());
        if (ref != null) return ref;
        ref = registerAllRacing(java.util.Map.of(structure.uniqueName(), structure.source())).getFirst();
        byKey.put(structure.key(), ref);
        return ref;
    }

    /** The operator this library already has for {@code structure}, or null: never renders, never compiles. */
    OperatorRef lookup(OperatorStructure structure) {
        return byKey.get(structure.key());
    }

    /**
     * The operators of a submission's tasks, in order. Structures never seen before are registered together:
     * one link and one generation swap for the whole submission, however many are new.
     */
    OperatorRef[] getAll(java.util.List<KernelTask> tasks) {
        java.util.List<OperatorStructure> structures = new java.util.ArrayList<>(tasks.size());
        for (KernelTask t : tasks) structures.add(t.operator());
        return getAllOf(structures);
    }

    /** The operators of {@code structures}, in order; new ones registered together (see {@link #getAll}). */
    synchronized OperatorRef[] getAllOf(java.util.List<OperatorStructure> tasks) {
        OperatorRef[] ops = new OperatorRef[tasks.size()];
        boolean missing = false;
        for (int t = 0; t < ops.length; t++) missing |= (ops[t] = tasks.get(t).registeredIn(this)) == null;
        if (!missing) return ops;
        var fresh = new java.util.LinkedHashMap<String, String>();
        var freshKeys = new java.util.HashMap<String, String>();
        for (OperatorStructure structure : tasks) {
            String key = structure.key();
            if (byKey.containsKey(key) || freshKeys.containsKey(key)) continue;
            String unique = structure.uniqueName();  // a native operator is needed: render and hash now
            if (os.hasOperator(unique)) {
                byKey.put(key, os.operator(unique)); // registered by another backend over this GpuOS
                continue;
            }
            fresh.put(unique, structure.source());
            freshKeys.put(key, unique);
        }
        if (!fresh.isEmpty()) {
            var refs = registerAllRacing(fresh);
            for (var ref : refs) {
                for (var e : freshKeys.entrySet()) {
                    if (e.getValue().equals(ref.name())) byKey.put(e.getKey(), ref);
                }
            }
        }
        for (int t = 0; t < ops.length; t++) {
            if (ops[t] != null) continue;
            OperatorStructure structure = tasks.get(t);
            ops[t] = byKey.get(structure.key());
            structure.registered(this, ops[t]);
        }
        return ops;
    }

    /**
     * registerAll, tolerating another library over the same GpuOS (a second backend, the interpreter tier's
     * promotion) registering some of the same sources meanwhile: those are looked up, the rest registered.
     */
    private java.util.List<OperatorRef> registerAllRacing(java.util.Map<String, String> fresh) {
        var pending = new java.util.LinkedHashMap<>(fresh);
        var found = new java.util.ArrayList<OperatorRef>();
        for (int attempt = 0; ; attempt++) {
            for (var it = pending.keySet().iterator(); it.hasNext(); ) {
                String name = it.next();
                if (os.hasOperator(name)) {
                    found.add(os.operator(name));
                    it.remove();
                }
            }
            if (pending.isEmpty()) return found;
            try {
                var refs = new java.util.ArrayList<>(os.registerAll(pending));
                registered += refs.size();
                for (OperatorRef r : refs) registeredNames.add(r.name());
                refs.addAll(found);
                return refs;
            } catch (IllegalArgumentException e) {
                boolean raced = pending.keySet().stream().anyMatch(os::hasOperator);
                if (!raced || attempt == 3) throw e;
            }
        }
    }

    /** Operators this library registered (each one a compile and a generation swap). */
    synchronized int registered() {
        return registered;
    }

    /** The names of the operators this library registered, in order. */
    synchronized java.util.List<String> registeredNames() {
        return java.util.List.copyOf(registeredNames);
    }

    static String uniqueName(String name, String source) {
        return OperatorStructure.uniqueName(name, source);
    }
}
