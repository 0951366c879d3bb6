package dev.gpuos.tensor.gpu;

import dev.gpuos.runtime.OperatorRef;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.Supplier;

/**
 * What distinguishes one operator from another, in two forms: a cheap structural {@link #key} (dtypes, op tree,
 * where each operand comes from; built from the recorded nodes in a few hundred nanoseconds) and the operator's
 * CUDA {@link #source}, rendered from the same description on first use only.
 *
 * <p>Why two: every submission looks its operators up, but only a native compile needs the source and the
 * name hashed from it. The interpreter tier runs a never-seen structure from its op program, so rendering
 * (tens to hundreds of microseconds) and SHA-256 naming (about as much again) would be pure latency on the
 * path to its first result (issue 6); they now happen when a native compile is requested, on the promoter
 * thread or in the native path that compiles anyway.
 *
 * <p>Contract, which every lookup relies on: equal keys render equal sources and carry equal names. The converse
 * need not hold; two keys with one source share one operator through the hashed {@link #uniqueName}, which is
 * also what two backends over one GpuOS meet on. Keys of different operator kinds never collide: each kind
 * starts its keys with its own tag.
 *
 * <p>Thread-safe: the planner and the promoter may both ask for the source; it is rendered once.
 */
final class OperatorStructure {
    private final String key, name, prefix;
    private Supplier<String> render;  // null once rendered (guarded by this)
    private volatile String body;
    private volatile String uniqueName;

    /**
     * @param key    the structural key (equal keys: equal sources)
     * @param name   a readable operator name; {@link #uniqueName} adds a hash of the source
     * @param prefix constant leading part of the source (support header, prelude), shared by a kind of operator
     * @param render the rest of the source; called at most once, and it must not keep tensors reachable
     */
    OperatorStructure(String key, String name, String prefix, Supplier<String> render) {
        this.key = key;
        this.name = name;
        this.prefix = prefix;
        this.render = render;
    }

    /** A structure whose source is already at hand (hand-written families, join, copy). */
    static OperatorStructure ofSource(String key, String name, String source) {
        OperatorStructure s = new OperatorStructure(key, name, "", null);
        s.body = source;
        return s;
    }

    String key() { return key; }

    /**
     * The operator {@code library} registered for this structure, or null: the planner asks per task, and a hit
     * skips the library's map, keyed by the String {@link #key} (most processes have one library; a second one
     * only replaces the entry).
     */
    OperatorRef registeredIn(Object library) {
        Registered r = registered;
        return r != null && r.library() == library ? r.ref() : null;
    }

    void registered(Object library, OperatorRef ref) {
        registered = new Registered(library, ref);
    }

    private record Registered(Object library, OperatorRef ref) {}

    private volatile Registered registered;

    String name() { return name; }

    /** The whole operator source (without the runtime header, which the JIT adds); renders on the first call. */
    String source() {
        return prefix + body();
    }

    /** The source less the constant prefix: what distinguishes operators of one kind. */
    String body() {
        String b = body;
        if (b != null) return b;
        synchronized (this) {
            if (body == null) {
                body = render.get();
                render = null;  // drop what the renderer captured
            }
            return body;
        }
    }

    /** Whether the source was rendered yet (tests: the interpreted path must not render). */
    boolean rendered() {
        return body != null;
    }

    /** The operator's registered name: the readable name plus a hash of the whole source (renders if needed). */
    String uniqueName() {
        String u = uniqueName;
        if (u == null) uniqueName = u = uniqueName(name, source());
        return u;
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

    @Override
    public String toString() {
        return "OperatorStructure[" + name + ", " + key + (rendered() ? "" : ", not rendered") + "]";
    }
}
