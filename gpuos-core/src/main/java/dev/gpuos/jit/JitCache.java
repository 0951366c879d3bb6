package dev.gpuos.jit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * On-disk, content-addressed store of compiled artifacts (cubins), shared by every process of a user.
 *
 * <p>Each entry is written to a temporary file in the same directory and renamed over the final name, so a
 * reader sees either nothing or a whole file, even with several JVMs writing the same key at once. Entries
 * carry a header with their key, length and SHA-256; anything that does not check out (a truncated file after a
 * crash, a disk error, a foreign file) is counted as rejected, deleted and reported as a miss, so it gets
 * recompiled and rewritten. A cache is an optimisation: failing to write is counted, never thrown.
 *
 * <p>Location: system property {@code gpuos.cache.dir}, else {@code $GPUOS_CACHE_DIR}, else
 * {@code ~/.cache/gpuos}. Property {@code gpuos.cache.disabled=true} or {@code $GPUOS_CACHE_DISABLED=1} turns it
 * off (every lookup misses, nothing is written).
 */
public final class JitCache {
    /** Part of every key and every entry header: bump when the entry layout or key recipe changes. */
    public static final int FORMAT_VERSION = 1;

    private static final byte[] MAGIC = "GPUOSJIT".getBytes(StandardCharsets.US_ASCII);
    private static final int DIGEST_BYTES = 32;
    /** magic, format version (int), payload length (long), key digest, payload digest. */
    static final int HEADER_BYTES = MAGIC.length + Integer.BYTES + Long.BYTES + 2 * DIGEST_BYTES;

    /** Counters since this instance was created; {@code rejected} counts corrupt or foreign entries. */
    public record Stats(long hits, long misses, long writes, long rejected, long writeFailures) {
    }

    private final Path directory;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong writeFailures = new AtomicLong();
    private final AtomicReference<String> lastWriteError = new AtomicReference<>();

    private JitCache(Path directory) {
        this.directory = directory;
    }

    public static JitCache at(Path directory) {
        return new JitCache(directory.toAbsolutePath());
    }

    public static JitCache disabled() {
        return new JitCache(null);
    }

    /** The cache configured by properties/environment (see class comment). */
    public static JitCache openDefault() {
        return configured(System::getProperty, System::getenv, System.getProperty("user.home"));
    }

    static JitCache configured(Function<String, String> properties, Function<String, String> environment,
                               String userHome) {
        if ("true".equalsIgnoreCase(blankToNull(properties.apply("gpuos.cache.disabled")))
                || "1".equals(blankToNull(environment.apply("GPUOS_CACHE_DISABLED")))) {
            return disabled();
        }
        return at(defaultDirectory(properties, environment, userHome));
    }

    static Path defaultDirectory(Function<String, String> properties, Function<String, String> environment,
                                 String userHome) {
        String dir = blankToNull(properties.apply("gpuos.cache.dir"));
        if (dir == null) {
            dir = blankToNull(environment.apply("GPUOS_CACHE_DIR"));
        }
        return dir != null ? Path.of(dir) : Path.of(userHome, ".cache", "gpuos");
    }

    public boolean isEnabled() {
        return directory != null;
    }

    /** The cache root, or null when disabled. */
    public Path directory() {
        return directory;
    }

    /** Where the entry for {@code key} lives (two-level fan-out keeps directories small). */
    public Path pathOf(CacheKey key) {
        if (directory == null) {
            throw new IllegalStateException("the JIT cache is disabled; it has no entry paths");
        }
        return directory.resolve(key.hex().substring(0, 2)).resolve(key.hex() + ".bin");
    }

    public Optional<byte[]> get(CacheKey key) {
        if (directory == null) {
            misses.incrementAndGet();
            return Optional.empty();
        }
        Path path = pathOf(key);
        byte[] file;
        try {
            file = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            misses.incrementAndGet();
            return Optional.empty();
        } catch (IOException e) {
            return reject(path);
        }
        byte[] payload = decode(key, file);
        if (payload == null) {
            return reject(path);
        }
        hits.incrementAndGet();
        return Optional.of(payload);
    }

    /** Stores {@code artifact} under {@code key}; I/O failures are counted (see {@link #lastWriteError()}). */
    public void put(CacheKey key, byte[] artifact) {
        if (directory == null) {
            return;
        }
        Path path = pathOf(key);
        Path temp = null;
        try {
            Files.createDirectories(path.getParent());
            temp = Files.createTempFile(path.getParent(), key.hex(), ".tmp");
            Files.write(temp, encode(key, artifact));
            try {
                Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, path, StandardCopyOption.REPLACE_EXISTING);
            }
            temp = null;
            writes.incrementAndGet();
        } catch (IOException | RuntimeException e) {
            writeFailures.incrementAndGet();
            lastWriteError.set("writing " + path + ": " + e);
        } finally {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // The temp file name never collides with an entry; a leftover is only wasted space.
                }
            }
        }
    }

    public Stats stats() {
        return new Stats(hits.get(), misses.get(), writes.get(), rejected.get(), writeFailures.get());
    }

    /** The most recent write failure, or null. */
    public String lastWriteError() {
        return lastWriteError.get();
    }

    @Override
    public String toString() {
        return directory == null ? "JitCache(disabled)" : "JitCache(" + directory + ")";
    }

    private Optional<byte[]> reject(Path path) {
        rejected.incrementAndGet();
        misses.incrementAndGet();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // The next put replaces it anyway.
        }
        return Optional.empty();
    }

    static byte[] encode(CacheKey key, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + payload.length);
        b.put(MAGIC).putInt(FORMAT_VERSION).putLong(payload.length).put(HexFormat.of().parseHex(key.hex()))
                .put(sha256(payload)).put(payload);
        return b.array();
    }

    /** The payload, or null when the file is not a complete, intact entry for {@code key}. */
    static byte[] decode(CacheKey key, byte[] file) {
        if (file.length < HEADER_BYTES) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(file);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC) || b.getInt() != FORMAT_VERSION) {
            return null;
        }
        long length = b.getLong();
        if (length != file.length - HEADER_BYTES) {
            return null;
        }
        byte[] storedKey = new byte[DIGEST_BYTES];
        byte[] storedDigest = new byte[DIGEST_BYTES];
        b.get(storedKey).get(storedDigest);
        if (!Arrays.equals(storedKey, HexFormat.of().parseHex(key.hex()))) {
            return null;
        }
        byte[] payload = Arrays.copyOfRange(file, HEADER_BYTES, file.length);
        return MessageDigest.isEqual(storedDigest, sha256(payload)) ? payload : null;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
