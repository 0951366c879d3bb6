package dev.gpuos.cuda;

import static dev.gpuos.cuda.NvrtcSymbols.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * NVRTC: CUDA C++ source to cubin (or PTX) in-process. Distinct programs may be compiled on different threads
 * at once; each call here owns its program from create to destroy.
 */
public final class Nvrtc {

    /** A compiled image and the compiler log (warnings; empty when clean). */
    public record Result(byte[] cubin, String log) {
    }

    /** PTX text (without the trailing NUL) and the compiler log. */
    public record PtxResult(String ptx, String log) {
    }

    private Nvrtc() {
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

    /** {major, minor} of the loaded NVRTC, e.g. {13, 0}. */
    public static int[] version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT);
            MemorySegment minor = arena.allocate(JAVA_INT);
            int rc = (int) nvrtcVersion.invokeExact(major, minor);
            if (rc != 0) {
                throw new NvrtcException("-", "nvrtcVersion", rc, resultName(rc), "");
            }
            return new int[] {major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0)};
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    /**
     * Compiles to a cubin; {@code options} must name a real architecture ({@code --gpu-architecture=sm_90}),
     * since a virtual one produces no cubin. {@code headers} maps include names to contents, in the order given.
     */
    public static Result compile(String programName, String source, Map<String, String> headers,
                                 List<String> options) {
        Compiled c = compileTo(programName, source, headers, options, nvrtcGetCUBINSize, nvrtcGetCUBIN,
                "nvrtcGetCUBIN");
        return new Result(c.output(), c.log());
    }

    /** Compiles to PTX (e.g. with {@code --gpu-architecture=compute_90}). */
    public static PtxResult compilePtx(String programName, String source, Map<String, String> headers,
                                       List<String> options) {
        Compiled c = compileTo(programName, source, headers, options, nvrtcGetPTXSize, nvrtcGetPTX,
                "nvrtcGetPTX");
        byte[] text = c.output();
        int length = text.length;
        while (length > 0 && text[length - 1] == 0) {
            length--;
        }
        return new PtxResult(new String(text, 0, length, java.nio.charset.StandardCharsets.UTF_8), c.log());
    }

    private record Compiled(byte[] output, String log) {
    }

    private static Compiled compileTo(String programName, String source, Map<String, String> headers,
                                      List<String> options, MethodHandle sizeOf, MethodHandle copyOut,
                                      String outputStep) {
        Objects.requireNonNull(programName, "programName");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(headers, "headers");
        Objects.requireNonNull(options, "options");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment contents = arena.allocate(ADDRESS, Math.max(1, headers.size()));
            MemorySegment includeNames = arena.allocate(ADDRESS, Math.max(1, headers.size()));
            int i = 0;
            for (Map.Entry<String, String> header : headers.entrySet()) {
                includeNames.setAtIndex(ADDRESS, i, arena.allocateFrom(header.getKey()));
                contents.setAtIndex(ADDRESS, i, arena.allocateFrom(header.getValue()));
                i++;
            }
            MemorySegment program = arena.allocate(ADDRESS);
            int rc = (int) nvrtcCreateProgram.invokeExact(program, arena.allocateFrom(source),
                    arena.allocateFrom(programName), headers.size(), contents, includeNames);
            if (rc != 0) {
                throw new NvrtcException(programName, "nvrtcCreateProgram", rc, resultName(rc), "");
            }
            try {
                MemorySegment prog = program.get(ADDRESS, 0);
                MemorySegment argv = arena.allocate(ADDRESS, Math.max(1, options.size()));
                for (int k = 0; k < options.size(); k++) {
                    argv.setAtIndex(ADDRESS, k, arena.allocateFrom(options.get(k)));
                }
                rc = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), argv);
                String log = programLog(arena, prog);
                if (rc != 0) {
                    throw new NvrtcException(programName, "compilation", rc, resultName(rc), log);
                }
                MemorySegment size = arena.allocate(JAVA_LONG);
                rc = (int) sizeOf.invokeExact(prog, size);
                if (rc == 0) {
                    MemorySegment out = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
                    rc = (int) copyOut.invokeExact(prog, out);
                    if (rc == 0) {
                        return new Compiled(out.asSlice(0, size.get(JAVA_LONG, 0)).toArray(JAVA_BYTE), log);
                    }
                }
                throw new NvrtcException(programName, outputStep + " (options " + options + ")", rc,
                        resultName(rc), log);
            } finally {
                // Status ignored: a failure to free must not hide the compile error being thrown.
                int ignored = (int) nvrtcDestroyProgram.invokeExact(program);
            }
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }

    private static String programLog(Arena arena, MemorySegment prog) throws Throwable {
        MemorySegment size = arena.allocate(JAVA_LONG);
        if ((int) nvrtcGetProgramLogSize.invokeExact(prog, size) != 0 || size.get(JAVA_LONG, 0) <= 1) {
            return "";
        }
        MemorySegment log = arena.allocate(size.get(JAVA_LONG, 0));
        if ((int) nvrtcGetProgramLog.invokeExact(prog, log) != 0) {
            return "";
        }
        return log.getString(0);
    }

    static String resultName(int rc) {
        try {
            MemorySegment text = (MemorySegment) nvrtcGetErrorString.invokeExact(rc);
            String s = Driver.cString(text);
            return s == null ? NvrtcException.name(rc) : s;
        } catch (CudaUnavailableException e) {
            return NvrtcException.name(rc);
        } catch (Throwable t) {
            throw Downcalls.propagate(t);
        }
    }
}
