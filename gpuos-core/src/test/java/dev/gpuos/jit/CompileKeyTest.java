package dev.gpuos.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.gpuos.cuda.NvJitLink;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

/** Property checks: equal inputs give equal keys, and any single change to an input changes the key. */
class CompileKeyTest {
    private static final CudaCompiler.ToolVersions V = new CudaCompiler.ToolVersions("13.0", "13.0");

    private static String word(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int n = 1 + r.nextInt(12);
        for (int i = 0; i < n; i++) {
            sb.append((char) ('a' + r.nextInt(26)));
        }
        return sb.toString();
    }

    private static CompileUnit randomUnit(SplittableRandom r) {
        Map<String, String> headers = new LinkedHashMap<>();
        int h = 2 + r.nextInt(3);
        for (int i = 0; i < h; i++) {
            headers.put(word(r) + i + ".cuh", "// " + word(r) + "\n#define X" + i + " " + r.nextInt());
        }
        List<String> options = new ArrayList<>();
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
            options.add("-D" + word(r).toUpperCase() + "=" + r.nextInt(100));
        }
        return new CompileUnit(word(r) + ".cu", "__global__ void " + word(r) + "() { }\n// " + r.nextLong(),
                headers, options);
    }

    private static <K, V> Map<K, V> replaceValue(Map<K, V> m, K key, V value) {
        Map<K, V> copy = new LinkedHashMap<>(m);
        copy.put(key, value);
        return copy;
    }

    @RepeatedTest(25)
    void anySingleChangeToACompileInputChangesTheKey(RepetitionInfo repetition) {
        long seed = 0xC0FFEEL * repetition.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        CompileUnit u = randomUnit(r);
        CudaCompiler c = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V);
        CacheKey base = c.compileKey(u);
        String msg = "seed " + seed + ", unit " + u;

        CompileUnit same = new CompileUnit(u.name(), new String(u.source()), new LinkedHashMap<>(u.headers()),
                new ArrayList<>(u.options()));
        assertEquals(base, c.compileKey(same), msg);
        assertEquals(base, new CudaCompiler(JitCache.disabled(), "sm_90", 128, V).compileKey(u), msg);

        String firstHeader = u.headers().keySet().iterator().next();
        List<String> reversedHeaderNames = new ArrayList<>(u.headers().keySet()).reversed();
        Map<String, String> reordered = new LinkedHashMap<>();
        reversedHeaderNames.forEach(k -> reordered.put(k, u.headers().get(k)));
        Map<String, String> renamed = new LinkedHashMap<>();
        u.headers().forEach((k, v) -> renamed.put(k.equals(firstHeader) ? "z" + k : k, v));
        Map<String, String> plusOne = new LinkedHashMap<>(u.headers());
        plusOne.put("extra.cuh", "");
        List<String> moreOptions = new ArrayList<>(u.options());
        moreOptions.add("-lineinfo");

        Map<String, Function<CompileUnit, CacheKey>> mutations = new LinkedHashMap<>();
        mutations.put("source", x -> c.compileKey(new CompileUnit(x.name(), x.source() + " ", x.headers(),
                x.options())));
        mutations.put("name", x -> c.compileKey(new CompileUnit(x.name() + "2", x.source(), x.headers(),
                x.options())));
        mutations.put("header contents", x -> c.compileKey(new CompileUnit(x.name(), x.source(),
                replaceValue(x.headers(), firstHeader, x.headers().get(firstHeader) + "\n"), x.options())));
        mutations.put("header name", x -> c.compileKey(new CompileUnit(x.name(), x.source(), renamed,
                x.options())));
        mutations.put("header order", x -> c.compileKey(new CompileUnit(x.name(), x.source(), reordered,
                x.options())));
        mutations.put("added header", x -> c.compileKey(new CompileUnit(x.name(), x.source(), plusOne,
                x.options())));
        mutations.put("added option", x -> c.compileKey(new CompileUnit(x.name(), x.source(), x.headers(),
                moreOptions)));
        mutations.put("option order", x -> c.compileKey(new CompileUnit(x.name(), x.source(), x.headers(),
                x.options().reversed().equals(x.options()) ? moreOptions : x.options().reversed())));
        mutations.put("arch", x -> new CudaCompiler(JitCache.disabled(), "sm_89", 128, V).compileKey(x));
        mutations.put("max registers", x -> new CudaCompiler(JitCache.disabled(), "sm_90", 64, V).compileKey(x));
        mutations.put("call ABI", x -> new CudaCompiler(JitCache.disabled(), "sm_90", 128, V, !c.leanCalls()).compileKey(x));
        mutations.put("nvrtc version", x -> new CudaCompiler(JitCache.disabled(), "sm_90", 128,
                new CudaCompiler.ToolVersions("13.1", "13.0")).compileKey(x));
        mutations.put("nvjitlink version", x -> new CudaCompiler(JitCache.disabled(), "sm_90", 128,
                new CudaCompiler.ToolVersions("13.0", "13.1")).compileKey(x));
        mutations.put("header moved into source", x -> {
            Map<String, String> fewer = new LinkedHashMap<>(x.headers());
            String contents = fewer.remove(firstHeader);
            return c.compileKey(new CompileUnit(x.name(), x.source() + contents, fewer, x.options()));
        });
        mutations.forEach((what, mutate) -> assertNotEquals(base, mutate.apply(u), what + " must change the key; "
                + msg));
    }

    @RepeatedTest(15)
    void anySingleChangeToALinkInputChangesTheKey(RepetitionInfo repetition) {
        long seed = 0x11AL * repetition.getCurrentRepetition();
        SplittableRandom r = new SplittableRandom(seed);
        List<NvJitLink.Input> inputs = new ArrayList<>();
        for (int i = 0, n = 2 + r.nextInt(3); i < n; i++) {
            byte[] data = new byte[1 + r.nextInt(64)];
            r.nextBytes(data);
            inputs.add(new NvJitLink.Input(word(r) + i, data, NvJitLink.Kind.CUBIN));
        }
        CudaCompiler c = new CudaCompiler(JitCache.disabled(), "sm_90", 128, V);
        CacheKey base = c.linkKey(inputs);
        String msg = "seed " + seed;

        List<NvJitLink.Input> copy = inputs.stream()
                .map(in -> new NvJitLink.Input(in.name(), in.data().clone(), in.kind())).toList();
        assertEquals(base, c.linkKey(copy), msg);

        List<NvJitLink.Input> flipped = new ArrayList<>(copy);
        byte[] data = flipped.get(0).data().clone();
        data[data.length - 1] ^= 1;
        flipped.set(0, new NvJitLink.Input(flipped.get(0).name(), data, NvJitLink.Kind.CUBIN));
        assertNotEquals(base, c.linkKey(flipped), "input bytes; " + msg);
        assertNotEquals(base, c.linkKey(copy.reversed()), "input order; " + msg);
        assertNotEquals(base, c.linkKey(copy.subList(0, copy.size() - 1)), "dropped input; " + msg);
        List<NvJitLink.Input> rekinded = new ArrayList<>(copy);
        rekinded.set(0, new NvJitLink.Input(copy.get(0).name(), copy.get(0).data(), NvJitLink.Kind.OBJECT));
        assertNotEquals(base, c.linkKey(rekinded), "input kind; " + msg);
        List<NvJitLink.Input> renamed = new ArrayList<>(copy);
        renamed.set(0, new NvJitLink.Input(copy.get(0).name() + "x", copy.get(0).data(), NvJitLink.Kind.CUBIN));
        assertNotEquals(base, c.linkKey(renamed), "input name; " + msg);
        assertNotEquals(base, new CudaCompiler(JitCache.disabled(), "sm_100", 128, V).linkKey(copy), "arch; " + msg);
        assertNotEquals(base, new CudaCompiler(JitCache.disabled(), "sm_90", 0, V).linkKey(copy), "regs; " + msg);
        assertNotEquals(base, new CudaCompiler(JitCache.disabled(), "sm_90", 128,
                new CudaCompiler.ToolVersions("13.0", "13.2")).linkKey(copy), "nvJitLink version; " + msg);
        assertNotEquals(c.compileKey(new CompileUnit("a", "b")), c.linkKey(copy), msg);
    }

    @Test
    void fieldBoundariesAreUnambiguous() {
        assertNotEquals(CacheKey.builder("k").texts("o", List.of("ab", "c")).build(),
                CacheKey.builder("k").texts("o", List.of("a", "bc")).build());
        assertNotEquals(CacheKey.builder("k").text("a", "").text("b", "x").build(),
                CacheKey.builder("k").text("a", "x").text("b", "").build());
        assertNotEquals(CacheKey.builder("k1").build(), CacheKey.builder("k2").build());
        assertEquals(CacheKey.builder("k").text("a", "1").build(), CacheKey.builder("k").text("a", "1").build());
    }
}
