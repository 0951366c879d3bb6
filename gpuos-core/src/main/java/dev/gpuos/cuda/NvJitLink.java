package dev.gpuos.cuda;

import static dev.gpuos.cuda.NvJitLinkSymbols.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Objects;

/**
 * nvJitLink: links relocatable device code (NVRTC output compiled with {@code -rdc=true}) into one loadable
 * cubin. The driver cannot load an -rdc cubin that has unresolved references, so this step is mandatory for
 * separately compiled units.
 */
public final class NvJitLink {

    /** nvJitLinkInputType values (nvJitLink.h). */
    public enum Kind {
        CUBIN(1), PTX(2), LTOIR(3), FATBIN(4), OBJECT(5), LIBRARY(6);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    /** One link input; {@code name} only appears in diagnostics. */
    public record Input(String name, byte[] data, Kind kind) {
        public Input {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(kind, "kind");
            if (data.length == 0) {
                throw new IllegalArgumentException("link input '" + name + "' is empty");
            }
        }
    }

    public record Result(byte[] cubin, String infoLog) {
    }

    private NvJitLink() {
    }

    public static boolean isAvailable() {
        return LIB.library().isLoaded();
    }

    public static String unavailableReason() {
        return LIB.library().reason();
    }

    public static String libraryOrigin() {
        return LIB.library().origin();
    }

    /** {major, minor} of the loaded nvJitLink, e.g. {13, 0}. */
    public static int[] version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT);
            MemorySegment minor = arena.allocate(JAVA_INT);
            int rc = (int) nvJitLinkVersion.invokeExact(major, minor);
            if (rc != 0) {
                throw new NvJitLinkException("nvJitLinkVersion", rc, "", "");
            }
            return new int[] {major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0)};
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /** Links {@code inputs} with {@code options} (must include {@code -arch=sm_XX}). */
    public static Result link(List<Input> inputs, List<String> options) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(options, "options");
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("nvJitLink needs at least one input");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment argv = arena.allocate(ADDRESS, Math.max(1, options.size()));
            for (int i = 0; i < options.size(); i++) {
                argv.setAtIndex(ADDRESS, i, arena.allocateFrom(options.get(i)));
            }
            MemorySegment handle = arena.allocate(ADDRESS);
            int rc = (int) nvJitLinkCreate.invokeExact(handle, options.size(), argv);
            if (rc != 0) {
                // A failed create may still hand back a handle whose error log says which option was bad.
                MemorySegment h = handle.get(ADDRESS, 0);
                String errorLog = h.equals(MemorySegment.NULL) ? "" : log(arena, h, false);
                if (!h.equals(MemorySegment.NULL)) {
                    int ignored = (int) nvJitLinkDestroy.invokeExact(handle);
                }
                throw new NvJitLinkException("nvJitLinkCreate (options " + options + ")", rc, errorLog, "");
            }
            try {
                MemorySegment h = handle.get(ADDRESS, 0);
                for (Input input : inputs) {
                    MemorySegment data = arena.allocate(input.data().length, 16);
                    MemorySegment.copy(input.data(), 0, data, JAVA_BYTE, 0, input.data().length);
                    rc = (int) nvJitLinkAddData.invokeExact(h, input.kind().code(), data,
                            (long) input.data().length, arena.allocateFrom(input.name()));
                    failIfError(arena, h, rc, "nvJitLinkAddData(" + input.name() + ", " + input.kind() + ")");
                }
                rc = (int) nvJitLinkComplete.invokeExact(h);
                failIfError(arena, h, rc, "nvJitLinkComplete (options " + options + ")");
                MemorySegment size = arena.allocate(JAVA_LONG);
                rc = (int) nvJitLinkGetLinkedCubinSize.invokeExact(h, size);
                failIfError(arena, h, rc, "nvJitLinkGetLinkedCubinSize");
                MemorySegment cubin = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)), 16);
                rc = (int) nvJitLinkGetLinkedCubin.invokeExact(h, cubin);
                failIfError(arena, h, rc, "nvJitLinkGetLinkedCubin");
                return new Result(cubin.asSlice(0, size.get(JAVA_LONG, 0)).toArray(JAVA_BYTE), log(arena, h, true));
            } finally {
                // Status ignored: a failure to free must not hide the link error being thrown.
                int ignored = (int) nvJitLinkDestroy.invokeExact(handle);
            }
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static void failIfError(Arena arena, MemorySegment h, int rc, String step) throws Throwable {
        if (rc != 0) {
            throw new NvJitLinkException(step, rc, log(arena, h, false), log(arena, h, true));
        }
    }

    private static String log(Arena arena, MemorySegment h, boolean info) throws Throwable {
        MethodHandle sizeOf = info ? nvJitLinkGetInfoLogSize : nvJitLinkGetErrorLogSize;
        MethodHandle copyOut = info ? nvJitLinkGetInfoLog : nvJitLinkGetErrorLog;
        MemorySegment size = arena.allocate(JAVA_LONG);
        if ((int) sizeOf.invokeExact(h, size) != 0 || size.get(JAVA_LONG, 0) <= 1) {
            return "";
        }
        MemorySegment text = arena.allocate(size.get(JAVA_LONG, 0));
        if ((int) copyOut.invokeExact(h, text) != 0) {
            return "";
        }
        return text.getString(0);
    }
}
