package dev.gpuos.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import java.util.Optional;

/**
 * Turns symbols of one located library into downcall handles. A handle is always returned: when the library or
 * the symbol is missing it is a handle of the same type that throws {@link CudaUnavailableException}. That keeps
 * the symbol tables' static initialisers total (no ExceptionInInitializerError on a machine without CUDA) and
 * moves the failure to the first real call, where the message can say what was missing.
 */
final class Downcalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle NEW_UNAVAILABLE;

    static {
        try {
            NEW_UNAVAILABLE = MethodHandles.lookup().findStatic(Downcalls.class, "newUnavailable",
                    MethodType.methodType(CudaUnavailableException.class, String.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final NativeLibrary.Located library;

    Downcalls(NativeLibrary.Located library) {
        this.library = library;
    }

    NativeLibrary.Located library() {
        return library;
    }

    /** Binds the first of {@code candidates} that the library exports (newest versioned name first). */
    @SuppressWarnings("restricted") // the descriptor is the C prototype checked against the CUDA 13.0 headers
    MethodHandle bind(FunctionDescriptor descriptor, String... candidates) {
        MethodType type = descriptor.toMethodType();
        if (!library.isLoaded()) {
            return raising(type, library.reason());
        }
        for (String name : candidates) {
            Optional<MemorySegment> symbol = library.lookup().find(name);
            if (symbol.isPresent()) {
                return LINKER.downcallHandle(symbol.get(), descriptor);
            }
        }
        return raising(type, "none of the symbols " + Arrays.toString(candidates) + " is exported by "
                + library.origin() + " (library too old?)");
    }

    private MethodHandle raising(MethodType type, String reason) {
        MethodHandle make = MethodHandles.insertArguments(NEW_UNAVAILABLE, 0, library.displayName(), reason);
        MethodHandle raise = MethodHandles.throwException(type.returnType(), CudaUnavailableException.class);
        return MethodHandles.dropArguments(MethodHandles.collectArguments(raise, 0, make), 0,
                type.parameterList());
    }

    private static CudaUnavailableException newUnavailable(String library, String reason) {
        return new CudaUnavailableException(library, reason);
    }

    /** invokeExact declares Throwable; our handles only throw unchecked exceptions, anything else is a bug. */
    static RuntimeException propagate(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("unexpected checked exception from a native downcall", t);
    }
}
