package dev.gpuos.jit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class JitCacheTest {
    @TempDir
    Path dir;

    private static CacheKey key(String s) {
        return CacheKey.builder("test").text("s", s).build();
    }

    private static byte[] artifact(long seed, int size) {
        byte[] b = new byte[size];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < size; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    private List<Path> filesUnder(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    @Test
    void putThenGetReturnsTheSameBytesAndCountsHitsAndMisses() throws IOException {
        JitCache cache = JitCache.at(dir);
        CacheKey k = key("a");
        assertTrue(cache.get(k).isEmpty());
        byte[] cubin = artifact(1, 10_000);
        cache.put(k, cubin);
        assertArrayEquals(cubin, cache.get(k).orElseThrow());
        assertEquals(new JitCache.Stats(1, 1, 1, 0, 0), cache.stats());
        assertEquals(List.of(cache.pathOf(k)), filesUnder(dir), "exactly one file, no temporaries left");
        assertEquals(JitCache.HEADER_BYTES + cubin.length, Files.size(cache.pathOf(k)));
    }

    @Test
    void entriesSurviveIntoANewInstance() {
        byte[] cubin = artifact(2, 300);
        JitCache.at(dir).put(key("b"), cubin);
        JitCache again = JitCache.at(dir);
        assertArrayEquals(cubin, again.get(key("b")).orElseThrow());
        assertEquals(1, again.stats().hits());
    }

    @Test
    void emptyArtifactRoundTrips() {
        JitCache cache = JitCache.at(dir);
        cache.put(key("empty"), new byte[0]);
        assertArrayEquals(new byte[0], cache.get(key("empty")).orElseThrow());
    }

    static Stream<Arguments> corruptions() {
        return Stream.of(
                Arguments.of("empty file", (UnaryOperator<byte[]>) b -> new byte[0]),
                Arguments.of("truncated payload", (UnaryOperator<byte[]>) b -> java.util.Arrays.copyOf(b, b.length - 1)),
                Arguments.of("truncated header", (UnaryOperator<byte[]>) b -> java.util.Arrays.copyOf(b, 10)),
                Arguments.of("extra trailing byte", (UnaryOperator<byte[]>) b -> java.util.Arrays.copyOf(b, b.length + 1)),
                Arguments.of("flipped payload byte", (UnaryOperator<byte[]>) b -> flip(b, b.length - 5)),
                Arguments.of("flipped magic", (UnaryOperator<byte[]>) b -> flip(b, 0)),
                Arguments.of("flipped format version", (UnaryOperator<byte[]>) b -> flip(b, 11)),
                Arguments.of("flipped key digest", (UnaryOperator<byte[]>) b -> flip(b, 25)),
                Arguments.of("flipped payload digest", (UnaryOperator<byte[]>) b -> flip(b, 60)),
                Arguments.of("text garbage", (UnaryOperator<byte[]>) b ->
                        "not a cache entry at all, but long enough to pass a size check....................."
                                .getBytes(StandardCharsets.US_ASCII)));
    }

    private static byte[] flip(byte[] b, int index) {
        byte[] c = b.clone();
        c[index] ^= 0x40;
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptions")
    void corruptEntryIsRejectedDeletedAndRewritable(String what, UnaryOperator<byte[]> corrupt) throws IOException {
        JitCache cache = JitCache.at(dir);
        CacheKey k = key("c");
        byte[] cubin = artifact(3, 500);
        cache.put(k, cubin);
        Path file = cache.pathOf(k);
        Files.write(file, corrupt.apply(Files.readAllBytes(file)));

        assertEquals(Optional.empty(), cache.get(k), what);
        assertEquals(1, cache.stats().rejected(), what);
        assertFalse(Files.exists(file), "corrupt entry should be deleted: " + what);

        cache.put(k, cubin);
        assertArrayEquals(cubin, cache.get(k).orElseThrow(), what);
    }

    @Test
    void entryCopiedUnderAnotherKeysNameIsRejected() throws IOException {
        JitCache cache = JitCache.at(dir);
        cache.put(key("x"), artifact(4, 64));
        Path target = cache.pathOf(key("y"));
        Files.createDirectories(target.getParent());
        Files.copy(cache.pathOf(key("x")), target);
        assertTrue(cache.get(key("y")).isEmpty());
        assertEquals(1, cache.stats().rejected());
    }

    @Test
    void concurrentWritersOfOneKeyLeaveOneIntactEntry() throws Exception {
        JitCache cache = JitCache.at(dir);
        CacheKey k = key("race");
        byte[] cubin = artifact(5, 200_000);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 10; i++) {
                        cache.put(k, cubin);
                        cache.get(k).ifPresent(got -> assertArrayEquals(cubin, got, "a reader saw a torn entry"));
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(1, java.util.concurrent.TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, cache.stats().rejected(), "no reader may ever see a partial file");
        assertEquals(40, cache.stats().writes());
        assertEquals(List.of(cache.pathOf(k)), filesUnder(dir));
    }

    @Test
    void writeFailureIsCountedNotThrown() throws IOException {
        Path blocker = Files.writeString(dir.resolve("blocker"), "a file where a directory should be");
        JitCache cache = JitCache.at(blocker.resolve("cache"));
        cache.put(key("w"), artifact(6, 10));
        assertEquals(1, cache.stats().writeFailures());
        assertTrue(cache.lastWriteError().contains(blocker.toString()), cache.lastWriteError());
        assertTrue(cache.get(key("w")).isEmpty());
    }

    @Test
    void disabledCacheMissesAndStoresNothing() {
        JitCache cache = JitCache.disabled();
        assertFalse(cache.isEnabled());
        assertNull(cache.directory());
        cache.put(key("d"), artifact(7, 10));
        assertTrue(cache.get(key("d")).isEmpty());
        assertEquals(new JitCache.Stats(0, 1, 0, 0, 0), cache.stats());
        assertThrows(IllegalStateException.class, () -> cache.pathOf(key("d")));
    }

    @Test
    void locationComesFromPropertyThenEnvironmentThenHome() {
        Map<String, String> props = Map.of("gpuos.cache.dir", "/p/cache");
        Map<String, String> env = Map.of("GPUOS_CACHE_DIR", "/e/cache");
        assertEquals(Path.of("/p/cache"), JitCache.defaultDirectory(props::get, env::get, "/home/u"));
        assertEquals(Path.of("/e/cache"), JitCache.defaultDirectory(k -> null, env::get, "/home/u"));
        assertEquals(Path.of("/home/u/.cache/gpuos"), JitCache.defaultDirectory(k -> null, k -> null, "/home/u"));
        assertEquals(Path.of("/home/u/.cache/gpuos"),
                JitCache.defaultDirectory(Map.of("gpuos.cache.dir", " ")::get, k -> null, "/home/u"));
    }

    @Test
    void disabledByPropertyOrEnvironment() {
        assertFalse(JitCache.configured(Map.of("gpuos.cache.disabled", "true")::get, k -> null, "/h").isEnabled());
        assertFalse(JitCache.configured(k -> null, Map.of("GPUOS_CACHE_DISABLED", "1")::get, "/h").isEnabled());
        JitCache on = JitCache.configured(k -> null, Map.of("GPUOS_CACHE_DIR", dir.toString())::get, "/h");
        assertTrue(on.isEnabled());
        assertEquals(dir.toAbsolutePath(), on.directory());
    }
}
