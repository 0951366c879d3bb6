package dev.gpuos.jit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A SHA-256 over everything that can change a compiled artifact. Fields are fed with a tag and a length prefix,
 * so no two different field sequences hash the same bytes ("ab"+"c" vs "a"+"bc", or a header moved into the
 * source).
 */
public record CacheKey(String hex) {
    public CacheKey {
        Objects.requireNonNull(hex, "hex");
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("cache key must be 64 lowercase hex digits, got '" + hex + "'");
        }
    }

    /** Starts a key for artifacts of {@code kind} (e.g. "nvrtc-rdc-cubin"), including the cache format version. */
    public static Builder builder(String kind) {
        return new Builder().text("format", Integer.toString(JitCache.FORMAT_VERSION)).text("kind", kind);
    }

    @Override
    public String toString() {
        return hex;
    }

    public static final class Builder {
        private final MessageDigest digest;

        private Builder() {
            try {
                digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is required by every Java platform", e);
            }
        }

        public Builder text(String tag, String value) {
            return bytes(tag, value.getBytes(StandardCharsets.UTF_8));
        }

        public Builder bytes(String tag, byte[] value) {
            byte[] t = tag.getBytes(StandardCharsets.UTF_8);
            lengthPrefix(t.length);
            digest.update(t);
            lengthPrefix(value.length);
            digest.update(value);
            return this;
        }

        public Builder texts(String tag, List<String> values) {
            text(tag, "list of " + values.size());
            for (String v : values) {
                text(tag, v);
            }
            return this;
        }

        /** Entries in iteration order: reordering headers is a different key. */
        public Builder entries(String tag, Map<String, String> values) {
            text(tag, "map of " + values.size());
            values.forEach((k, v) -> text(tag + ".name", k).text(tag + ".contents", v));
            return this;
        }

        public CacheKey build() {
            return new CacheKey(HexFormat.of().formatHex(digest.digest()));
        }

        private void lengthPrefix(int length) {
            digest.update(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8),
                    (byte) length});
        }
    }
}
