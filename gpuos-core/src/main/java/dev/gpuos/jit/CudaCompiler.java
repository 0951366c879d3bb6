package dev.gpuos.jit;

import dev.gpuos.cuda.NvJitLink;
import dev.gpuos.cuda.Nvrtc;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Compiles units to relocatable cubins with NVRTC and links cubins with nvJitLink, both through a
 * {@link JitCache}. It only compiles and links: generating the sources belongs to the layers above.
 *
 * <p>Every unit is compiled with {@code -rdc=true} so that operators compiled at different times can be linked
 * against the same worker code; the driver cannot load such a cubin until nvJitLink has resolved it, hence
 * {@link #link}. There is no LTO: linking cubins is fast, and each unit's cubin stays cacheable on its own.
 * (Measured with nvcc 13.0 on 95 operators: an LTO link that inlines every operator into the worker's dispatch
 * took 402 s and left the worker a 736-byte frame; see {@link #LEAN_CALLS_PROPERTY} for what is done instead.)
 */
public final class CudaCompiler {
    private static final Pattern ARCH = Pattern.compile("sm_[0-9]{2,3}[af]?");

    /** Versions of the tools, as "major.minor"; part of every key since a new compiler makes new code. */
    public record ToolVersions(String nvrtc, String nvJitLink) {
        public ToolVersions {
            Objects.requireNonNull(nvrtc, "nvrtc");
            Objects.requireNonNull(nvJitLink, "nvJitLink");
        }

        /** Asks the loaded libraries; throws CudaUnavailableException when either is missing. */
        public static ToolVersions loaded() {
            int[] r = Nvrtc.version();
            int[] l = NvJitLink.version();
            return new ToolVersions(r[0] + "." + r[1], l[0] + "." + l[1]);
        }
    }

    /**
     * Cumulative and most recent timings; a hit's time is the cache lookup, a miss's is lookup + tool + write.
     * For cold/warm JIT numbers: {@code last*Nanos} after a miss is the cold cost, after a hit the warm one.
     */
    public record Timings(long compileHits, long compileMisses, long compileNanos, long lastCompileNanos,
                          boolean lastCompileHit, long linkHits, long linkMisses, long linkNanos,
                          long lastLinkNanos, boolean lastLinkHit) {
    }

    /**
     * {@code -Dgpuos.jit.leanCalls=true}: every unit is compiled with {@code -DGPUOS_LEAN_CALLS}, under which the
     * operators and the worker's indirect call agree on an ABI that preserves fewer registers across the call
     * (gpuos_device.cuh's {@code GPUOS_CALL_ABI}): W7's row step saves 8 registers a call instead of 48. Off by
     * default until a GPU run compares the two; one compiler compiles every unit of a generation, so worker and
     * operators always agree (the option is part of every compile key, so cached cubins of either ABI never mix).
     */
    public static final String LEAN_CALLS_PROPERTY = "gpuos.jit.leanCalls";
    static final String LEAN_CALLS_DEFINE = "-DGPUOS_LEAN_CALLS";

    /** The switch's value: absent is false; anything but true or false is refused, naming the value. */
    static boolean leanCalls(String value) {
        if (value == null || value.isBlank() || value.trim().equalsIgnoreCase("false")) return false;
        if (value.trim().equalsIgnoreCase("true")) return true;
        throw new IllegalArgumentException("-D" + LEAN_CALLS_PROPERTY + "=" + value + ": expected true or false");
    }

    private final JitCache cache;
    private final String arch;
    private final int maxRegisters;
    private final boolean leanCalls;
    private final ToolVersions versions;
    private final Object timingLock = new Object();
    private Timings timings = new Timings(0, 0, 0, 0, false, 0, 0, 0, 0, false);

    /**
     * Reads the tool versions from the loaded NVRTC and nvJitLink, so it throws CudaUnavailableException when
     * either library is missing.
     *
     * @param arch         a real architecture such as "sm_90" (see {@link #archFor})
     * @param maxRegisters per-thread register cap passed as -maxrregcount, 16..255, or 0 for no cap
     */
    public CudaCompiler(JitCache cache, String arch, int maxRegisters) {
        this(cache, arch, maxRegisters, ToolVersions.loaded());
    }

    /** Lean calls as {@link #LEAN_CALLS_PROPERTY} says. */
    public CudaCompiler(JitCache cache, String arch, int maxRegisters, ToolVersions versions) {
        this(cache, arch, maxRegisters, versions, leanCalls(System.getProperty(LEAN_CALLS_PROPERTY)));
    }

    public CudaCompiler(JitCache cache, String arch, int maxRegisters, ToolVersions versions, boolean leanCalls) {
        this.leanCalls = leanCalls;
        this.cache = Objects.requireNonNull(cache, "cache");
        this.arch = Objects.requireNonNull(arch, "arch");
        this.versions = Objects.requireNonNull(versions, "versions");
        if (!ARCH.matcher(arch).matches()) {
            throw new IllegalArgumentException("arch must be a real GPU architecture like sm_90 (NVRTC emits no"
                    + " cubin for a virtual compute_XX one), got '" + arch + "'");
        }
        if (maxRegisters != 0 && (maxRegisters < 16 || maxRegisters > 255)) {
            throw new IllegalArgumentException("maxRegisters must be 0 (no cap) or 16..255, got " + maxRegisters);
        }
        this.maxRegisters = maxRegisters;
    }

    /** "sm_" + major + minor, e.g. {9, 0} -> "sm_90". */
    public static String archFor(int[] computeCapability) {
        if (computeCapability.length != 2 || computeCapability[0] < 1 || computeCapability[1] < 0) {
            throw new IllegalArgumentException("compute capability must be {major, minor}, got "
                    + java.util.Arrays.toString(computeCapability));
        }
        return "sm_" + computeCapability[0] + computeCapability[1];
    }

    public String arch() {
        return arch;
    }

    public int maxRegisters() {
        return maxRegisters;
    }

    /** Whether operators and the worker's call site use the lean ABI ({@link #LEAN_CALLS_PROPERTY}). */
    public boolean leanCalls() {
        return leanCalls;
    }

    public ToolVersions versions() {
        return versions;
    }

    public JitCache cache() {
        return cache;
    }

    /** The full NVRTC command line for {@code unit}: fixed options first, then the unit's own. */
    public List<String> compileOptions(CompileUnit unit) {
        List<String> options = new ArrayList<>();
        options.add("--gpu-architecture=" + arch);
        options.add("-rdc=true");
        if (maxRegisters != 0) {
            options.add("-maxrregcount=" + maxRegisters);
        }
        options.add("--std=c++17");
        options.add("-default-device");
        if (leanCalls) {
            options.add(LEAN_CALLS_DEFINE);
        }
        options.addAll(unit.options());
        return List.copyOf(options);
    }

    public List<String> linkOptions() {
        return maxRegisters == 0 ? List.of("-arch=" + arch)
                : List.of("-arch=" + arch, "-maxrregcount=" + maxRegisters);
    }

    public CacheKey compileKey(CompileUnit unit) {
        return CacheKey.builder("nvrtc-rdc-cubin")
                .text("nvrtc", versions.nvrtc())
                .text("nvjitlink", versions.nvJitLink())
                .text("arch", arch)
                .texts("options", compileOptions(unit))
                .text("name", unit.name())
                .text("source", unit.source())
                .entries("header", unit.headers())
                .build();
    }

    /** Inputs enter by name, kind and SHA-256 of their bytes, in order (link order can matter). */
    public CacheKey linkKey(List<NvJitLink.Input> inputs) {
        CacheKey.Builder b = CacheKey.builder("nvjitlink-cubin")
                .text("nvrtc", versions.nvrtc())
                .text("nvjitlink", versions.nvJitLink())
                .text("arch", arch)
                .texts("options", linkOptions())
                .text("inputs", Integer.toString(inputs.size()));
        for (NvJitLink.Input input : inputs) {
            b.text("input.name", input.name()).text("input.kind", input.kind().name())
                    .bytes("input.sha256", JitCache.sha256(input.data()));
        }
        return b.build();
    }

    /** A relocatable cubin for {@code unit}, from the cache or NVRTC. Throws NvrtcException with the log. */
    public byte[] compileRelocatable(CompileUnit unit) {
        Objects.requireNonNull(unit, "unit");
        return cached(compileKey(unit), true,
                () -> Nvrtc.compile(unit.name(), unit.source(), unit.headers(), compileOptions(unit)).cubin());
    }

    /**
     * Relocatable cubins for {@code units}, in order. Units compile concurrently, up to {@link #COMPILE_THREADS}
     * at once: NVRTC compiles separate programs in parallel but one program on one thread, and a cold batch of
     * new operators (a first run, a fuzz round) would otherwise take the sum of its compiles. Every unit is
     * attempted; the first failure in list order is thrown once all have finished, later ones suppressed in it.
     */
    public List<byte[]> compileAllRelocatable(List<CompileUnit> units) {
        List<CompileUnit> copy = List.copyOf(units);
        if (copy.size() <= 1 || COMPILE_THREADS <= 1) {
            List<byte[]> out = new ArrayList<>(copy.size());
            for (CompileUnit unit : copy) out.add(compileRelocatable(unit));
            return out;
        }
        List<Future<byte[]>> futures = new ArrayList<>(copy.size());
        for (CompileUnit unit : copy) {
            futures.add(CompilePool.EXECUTOR.submit(() -> compileRelocatable(unit)));
        }
        List<byte[]> out = new ArrayList<>(copy.size());
        RuntimeException failure = null;
        boolean interrupted = false;
        for (Future<byte[]> f : futures) {
            byte[] cubin = null;
            Throwable error = null;
            while (true) {
                try {
                    cubin = f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;  // the compiles run anyway; waiting keeps the all-attempted contract
                } catch (ExecutionException e) {
                    error = e.getCause();
                    break;
                }
            }
            if (error != null) {
                if (error instanceof Error fatal) throw fatal;
                RuntimeException r = error instanceof RuntimeException re ? re : new IllegalStateException(error);
                if (failure == null) failure = r;
                else failure.addSuppressed(r);
            }
            out.add(cubin);
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (failure != null) throw failure;
        return out;
    }

    /** Most compiles {@link #compileAllRelocatable} runs at once: the CPUs, at most 16 ({@code gpuos.jit.threads}). */
    public static final int COMPILE_THREADS = Integer.getInteger("gpuos.jit.threads",
            Math.min(16, Runtime.getRuntime().availableProcessors()));

    /** Daemon threads: a compile in flight never keeps the JVM alive, and idle threads cost nothing to keep. */
    private static final class CompilePool {
        static final ExecutorService EXECUTOR = Executors.newFixedThreadPool(Math.max(1, COMPILE_THREADS), r -> {
            Thread t = new Thread(r, "gpuos-jit-" + POOL_THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    private static final AtomicInteger POOL_THREADS = new AtomicInteger();

    /** One loadable cubin from {@code inputs}, from the cache or nvJitLink. Throws NvJitLinkException. */
    public byte[] link(List<NvJitLink.Input> inputs) {
        List<NvJitLink.Input> copy = List.copyOf(inputs);
        if (copy.isEmpty()) {
            throw new IllegalArgumentException("link needs at least one input");
        }
        return cached(linkKey(copy), false, () -> NvJitLink.link(copy, linkOptions()).cubin());
    }

    public Timings timings() {
        synchronized (timingLock) {
            return timings;
        }
    }

    private byte[] cached(CacheKey key, boolean compile, Supplier<byte[]> produce) {
        long start = System.nanoTime();
        Optional<byte[]> hit = cache.get(key);
        byte[] result;
        if (hit.isPresent()) {
            result = hit.get();
        } else {
            result = produce.get();
            cache.put(key, result);
        }
        record(compile, hit.isPresent(), System.nanoTime() - start);
        return result;
    }

    private void record(boolean compile, boolean hit, long nanos) {
        synchronized (timingLock) {
            Timings t = timings;
            timings = compile
                    ? new Timings(t.compileHits() + (hit ? 1 : 0), t.compileMisses() + (hit ? 0 : 1),
                            t.compileNanos() + nanos, nanos, hit, t.linkHits(), t.linkMisses(), t.linkNanos(),
                            t.lastLinkNanos(), t.lastLinkHit())
                    : new Timings(t.compileHits(), t.compileMisses(), t.compileNanos(), t.lastCompileNanos(),
                            t.lastCompileHit(), t.linkHits() + (hit ? 1 : 0), t.linkMisses() + (hit ? 0 : 1),
                            t.linkNanos() + nanos, nanos, hit);
        }
    }

    @Override
    public String toString() {
        return "CudaCompiler(" + arch + ", maxrregcount " + maxRegisters + (leanCalls ? ", lean calls" : "")
                + ", NVRTC " + versions.nvrtc()
                + ", nvJitLink " + versions.nvJitLink() + ", " + cache + ")";
    }
}
