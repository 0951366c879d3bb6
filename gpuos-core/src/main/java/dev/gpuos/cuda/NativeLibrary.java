package dev.gpuos.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Finds one of the CUDA shared libraries (driver, NVRTC, nvJitLink) without ever throwing: the outcome is a
 * {@link Located} that either holds a {@link SymbolLookup} or says, in words, every place that was tried.
 *
 * <p>Order: an explicit override (system property, then environment variable) wins outright; if it cannot be
 * loaded the search stops there, because silently falling back to some other installation is how one ends up
 * debugging the wrong CUDA version. Without an override: the sonames through the dynamic loader's own search
 * (ld.so.cache, LD_LIBRARY_PATH), then the file names in the well-known toolkit directories.
 */
final class NativeLibrary {

    /** What to look for. {@code companions} are file-name prefixes loaded first from the same directory. */
    record Spec(String displayName, String property, String env, List<String> sonames, List<String> fileNames,
                List<Path> directories, List<String> companions) {
        Spec {
            sonames = List.copyOf(sonames);
            fileNames = List.copyOf(fileNames);
            directories = List.copyOf(directories);
            companions = List.copyOf(companions);
        }
    }

    /** Outcome of a search: {@code lookup} is null exactly when the library was not found. */
    record Located(String displayName, SymbolLookup lookup, String origin, String reason, List<String> tried) {
        Located {
            tried = List.copyOf(tried);
        }

        boolean isLoaded() {
            return lookup != null;
        }
    }

    /** Loads one library given a soname or an absolute path; throws IllegalArgumentException when it cannot. */
    @FunctionalInterface
    interface Loader {
        SymbolLookup load(String nameOrPath);
    }

    /** The real loader: dlopen through the FFM API. Libraries stay loaded for the life of the process. */
    @SuppressWarnings("restricted") // loading native code is this package's job; surefire enables native access
    static final Loader SYSTEM_LOADER = nameOrPath -> nameOrPath.startsWith("/")
            ? SymbolLookup.libraryLookup(Path.of(nameOrPath), Arena.global())
            : SymbolLookup.libraryLookup(nameOrPath, Arena.global());

    private NativeLibrary() {
    }

    static Located locate(Spec spec) {
        return locate(spec, System::getProperty, System::getenv, SYSTEM_LOADER);
    }

    static Located locate(Spec spec, Function<String, String> properties, Function<String, String> environment,
                          Loader loader) {
        List<String> tried = new ArrayList<>();
        String override = nonBlank(properties.apply(spec.property()));
        String overrideSource = "system property " + spec.property();
        if (override == null) {
            override = nonBlank(environment.apply(spec.env()));
            overrideSource = "environment variable " + spec.env();
        }
        if (override != null) {
            SymbolLookup lookup = tryLoad(loader, override, tried);
            if (lookup != null) {
                return new Located(spec.displayName(), lookup, overrideSource + "=" + override, null, tried);
            }
            return missing(spec, overrideSource + " names " + override + " but it could not be loaded ("
                    + tried.getLast() + "); not searching elsewhere because an explicit override was given",
                    tried);
        }
        for (String soname : spec.sonames()) {
            SymbolLookup lookup = tryLoad(loader, soname, tried);
            if (lookup != null) {
                return new Located(spec.displayName(), lookup, "soname " + soname, null, tried);
            }
        }
        for (Path dir : spec.directories()) {
            for (String file : spec.fileNames()) {
                Path candidate = dir.resolve(file);
                if (!Files.isRegularFile(candidate)) {
                    tried.add(candidate + ": no such file");
                    continue;
                }
                loadCompanions(loader, dir, spec.companions());
                SymbolLookup lookup = tryLoad(loader, candidate.toString(), tried);
                if (lookup != null) {
                    return new Located(spec.displayName(), lookup, candidate.toString(), null, tried);
                }
            }
        }
        return missing(spec, spec.displayName() + " not found; set " + spec.property() + " or " + spec.env()
                + " to its path. Tried: " + String.join("; ", tried), tried);
    }

    /**
     * The toolkit directories to search, in order: {@code $CUDA_HOME}, {@code /usr/local/cuda}, then every
     * {@code <root>/usr/local/cuda-13*} newest first. {@code root} is "/" except in tests.
     */
    static List<Path> toolkitDirectories(Function<String, String> environment, Path root) {
        List<Path> dirs = new ArrayList<>();
        String cudaHome = nonBlank(environment.apply("CUDA_HOME"));
        if (cudaHome != null) {
            dirs.add(Path.of(cudaHome, "lib64"));
            dirs.add(Path.of(cudaHome, "targets", "x86_64-linux", "lib"));
        }
        Path usrLocal = root.resolve("usr/local");
        dirs.add(usrLocal.resolve("cuda/lib64"));
        dirs.add(usrLocal.resolve("cuda/targets/x86_64-linux/lib"));
        try (Stream<Path> entries = Files.list(usrLocal)) {
            entries.filter(p -> p.getFileName().toString().startsWith("cuda-13"))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
                    .forEach(p -> dirs.add(p.resolve("targets/x86_64-linux/lib")));
        } catch (IOException e) {
            // No /usr/local (containers, tests): nothing to add, and the reason lists what was tried.
        }
        return dirs.stream().distinct().toList();
    }

    /** Returns the lookup, or null after recording why in {@code tried} (every attempt is recorded). */
    private static SymbolLookup tryLoad(Loader loader, String nameOrPath, List<String> tried) {
        try {
            SymbolLookup lookup = Objects.requireNonNull(loader.load(nameOrPath), "loader returned null");
            tried.add(nameOrPath + ": loaded");
            return lookup;
        } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            tried.add(nameOrPath + ": " + why);
            return null;
        }
    }

    private static Located missing(Spec spec, String reason, List<String> tried) {
        return new Located(spec.displayName(), null, null, reason, tried);
    }

    /**
     * NVRTC dlopens its builtins library by soname at compile time; when NVRTC itself came from a directory that
     * is not on the loader path, that second dlopen fails. Loading the companion first from the same directory
     * makes it resident, and glibc then satisfies the later dlopen by soname. Failures are ignored: NVRTC will
     * report its own error if the builtins are really missing.
     */
    private static void loadCompanions(Loader loader, Path dir, List<String> prefixes) {
        if (prefixes.isEmpty()) {
            return;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            entries.filter(p -> prefixes.stream().anyMatch(pre -> p.getFileName().toString().startsWith(pre)))
                    .filter(Files::isRegularFile)
                    .sorted()
                    .forEach(p -> {
                        try {
                            loader.load(p.toString());
                        } catch (RuntimeException ignored) {
                            // see method comment
                        }
                    });
        } catch (IOException ignored) {
            // see method comment
        }
    }

    private static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
