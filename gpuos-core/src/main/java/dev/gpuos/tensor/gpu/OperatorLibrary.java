package dev.gpuos.tensor.gpu;

import dev.gpuos.GpuOS;
import dev.gpuos.runtime.OperatorRef;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Operators this backend registered with its GpuOS, keyed by source: a kernel structure compiles and swaps in
 * a new worker generation once, then every task with that structure reuses it, whatever its shapes. Names carry
 * a hash of the source, so two backends over one GpuOS share operators instead of colliding.
 */
final class OperatorLibrary {
    private final GpuOS os;
    private final Map<String, OperatorRef> bySource = new ConcurrentHashMap<>();
    private int registered;

    OperatorLibrary(GpuOS os) {
        this.os = os;
    }

    /** The operator of a task, registering it (compile + generation swap) the first time its structure is seen. */
    OperatorRef get(KernelTask task) {
        return get(task.name(), task.prefix(), task.structure());
    }

    /**
     * The operator whose source is {@code prefix + structure}. Only the structure is the key: prefixes are
     * constant per kind of operator, and hashing them for every task would cost more than the lookup.
     */
    synchronized OperatorRef get(String name, String prefix, String structure) {
        OperatorRef ref = bySource.get(structure);
        if (ref != null) return ref;
        String source = prefix + structure;
        ref = registerAllRacing(java.util.Map.of(uniqueName(name, source), source)).getFirst();
        bySource.put(structure, ref);
        return ref;
    }

    /**
     * The operators of a submission's tasks, in order. Structures never seen before are registered together:
     * one link and one generation swap for the whole submission, however many are new.
     */
    synchronized OperatorRef[] getAll(java.util.List<KernelTask> tasks) {
        var fresh = new java.util.LinkedHashMap<String, String>();
        var freshStructures = new java.util.HashMap<String, String>();
        for (KernelTask task : tasks) {
            String structure = task.structure();
            if (bySource.containsKey(structure) || freshStructures.containsKey(structure)) continue;
            String source = task.prefix() + structure;
            String unique = uniqueName(task.name(), source);
            if (os.hasOperator(unique)) {
                bySource.put(structure, os.operator(unique)); // registered by another backend over this GpuOS
                continue;
            }
            fresh.put(unique, source);
            freshStructures.put(structure, unique);
        }
        if (!fresh.isEmpty()) {
            var refs = registerAllRacing(fresh);
            for (var ref : refs) {
                for (var e : freshStructures.entrySet()) {
                    if (e.getValue().equals(ref.name())) bySource.put(e.getKey(), ref);
                }
            }
        }
        OperatorRef[] ops = new OperatorRef[tasks.size()];
        for (int t = 0; t < ops.length; t++) ops[t] = bySource.get(tasks.get(t).structure());
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

    static String uniqueName(String name, String source) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(source.getBytes(StandardCharsets.UTF_8));
            String safe = name.replaceAll("[^A-Za-z0-9_]", "_");
            return (safe.length() > 48 ? safe.substring(0, 48) : safe) + "_" + HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
