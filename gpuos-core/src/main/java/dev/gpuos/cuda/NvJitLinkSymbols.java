package dev.gpuos.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

/**
 * nvJitLink downcall handles, created once on first use of {@link NvJitLink}. nvJitLink.h #defines each public
 * name to a versioned export ({@code nvJitLinkCreate -> __nvJitLinkCreate_13_0} in CUDA 13) and the shared
 * library exports the plain names too; we take the 13.0 name when present, else the plain one.
 */
final class NvJitLinkSymbols {
    static final NativeLibrary.Spec SPEC = new NativeLibrary.Spec("nvJitLink (libnvJitLink)",
            "gpuos.nvjitlink.library", "GPUOS_NVJITLINK", List.of("libnvJitLink.so.13", "libnvJitLink.so"),
            List.of("libnvJitLink.so.13", "libnvJitLink.so"),
            NativeLibrary.toolkitDirectories(System::getenv, Path.of("/")), List.of());

    static final Downcalls LIB = new Downcalls(NativeLibrary.locate(SPEC));

    private static final FunctionDescriptor I_PP = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);

    /** (nvJitLinkHandle* handle, uint32_t numOptions, const char** options) */
    static final MethodHandle nvJitLinkCreate = bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS),
            "nvJitLinkCreate");
    static final MethodHandle nvJitLinkDestroy = bind(FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "nvJitLinkDestroy");
    /** (nvJitLinkHandle, nvJitLinkInputType, const void* data, size_t size, const char* name) */
    static final MethodHandle nvJitLinkAddData = bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS,
            JAVA_LONG, ADDRESS), "nvJitLinkAddData");
    static final MethodHandle nvJitLinkComplete = bind(FunctionDescriptor.of(JAVA_INT, ADDRESS),
            "nvJitLinkComplete");
    static final MethodHandle nvJitLinkGetLinkedCubinSize = bind(I_PP, "nvJitLinkGetLinkedCubinSize");
    static final MethodHandle nvJitLinkGetLinkedCubin = bind(I_PP, "nvJitLinkGetLinkedCubin");
    static final MethodHandle nvJitLinkGetErrorLogSize = bind(I_PP, "nvJitLinkGetErrorLogSize");
    static final MethodHandle nvJitLinkGetErrorLog = bind(I_PP, "nvJitLinkGetErrorLog");
    static final MethodHandle nvJitLinkGetInfoLogSize = bind(I_PP, "nvJitLinkGetInfoLogSize");
    static final MethodHandle nvJitLinkGetInfoLog = bind(I_PP, "nvJitLinkGetInfoLog");
    static final MethodHandle nvJitLinkVersion = bind(I_PP, "nvJitLinkVersion");

    private NvJitLinkSymbols() {
    }

    private static MethodHandle bind(FunctionDescriptor descriptor, String name) {
        return LIB.bind(descriptor, "__" + name + "_13_0", name, "__" + name + "_12_0");
    }
}
