package dev.gpuos.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

/** NVRTC downcall handles, created once on first use of {@link Nvrtc}. nvrtcResult -> int, size_t* -> ADDRESS. */
final class NvrtcSymbols {
    static final NativeLibrary.Spec SPEC = new NativeLibrary.Spec("NVRTC (libnvrtc)", "gpuos.nvrtc.library",
            "GPUOS_NVRTC", List.of("libnvrtc.so.13", "libnvrtc.so"), List.of("libnvrtc.so.13", "libnvrtc.so"),
            NativeLibrary.toolkitDirectories(System::getenv, Path.of("/")), List.of("libnvrtc-builtins.so"));

    static final Downcalls LIB = new Downcalls(NativeLibrary.locate(SPEC));

    private static final FunctionDescriptor I_PP = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);

    static final MethodHandle nvrtcGetErrorString = LIB.bind(FunctionDescriptor.of(ADDRESS, JAVA_INT),
            "nvrtcGetErrorString");
    static final MethodHandle nvrtcVersion = LIB.bind(I_PP, "nvrtcVersion");
    /** (nvrtcProgram* prog, const char* src, const char* name, int numHeaders, const char* const* headers,
     *  const char* const* includeNames) */
    static final MethodHandle nvrtcCreateProgram = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
            ADDRESS, JAVA_INT, ADDRESS, ADDRESS), "nvrtcCreateProgram");
    static final MethodHandle nvrtcDestroyProgram = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "nvrtcDestroyProgram");
    static final MethodHandle nvrtcCompileProgram = LIB.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
            ADDRESS), "nvrtcCompileProgram");
    static final MethodHandle nvrtcGetProgramLogSize = LIB.bind(I_PP, "nvrtcGetProgramLogSize");
    static final MethodHandle nvrtcGetProgramLog = LIB.bind(I_PP, "nvrtcGetProgramLog");
    static final MethodHandle nvrtcGetCUBINSize = LIB.bind(I_PP, "nvrtcGetCUBINSize");
    static final MethodHandle nvrtcGetCUBIN = LIB.bind(I_PP, "nvrtcGetCUBIN");
    static final MethodHandle nvrtcGetPTXSize = LIB.bind(I_PP, "nvrtcGetPTXSize");
    static final MethodHandle nvrtcGetPTX = LIB.bind(I_PP, "nvrtcGetPTX");

    private NvrtcSymbols() {
    }
}
