package dev.gpuos.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Asks {@code dev.gpuos.cuda.Driver} whether a GPU runtime can be used, without a compile-time dependency
 * on it: the command line is built on branches where the cuda package does not exist yet. Once it does,
 * a direct call to {@code Driver.isAvailable()} / {@code Driver.unavailableReason()} replaces this class.
 */
public final class GpuProbe {

    static final String DRIVER_CLASS = "dev.gpuos.cuda.Driver";

    /** What the probe found: a usable GPU runtime or the reason there is none. */
    public record Result(boolean available, String detail) {
        public Result {
            if (detail == null || detail.isBlank()) {
                throw new IllegalArgumentException("a GPU probe result needs a detail, got '" + detail + "'");
            }
        }
    }

    private final String driverClass;

    public GpuProbe() {
        this(DRIVER_CLASS);
    }

    GpuProbe(String driverClass) {
        this.driverClass = driverClass;
    }

    public Result probe() {
        Class<?> driver;
        try {
            driver = Class.forName(driverClass, true, GpuProbe.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return new Result(false, "GPU runtime classes not present (" + driverClass + " is not on the class path)");
        } catch (LinkageError e) {
            return new Result(false, driverClass + " failed to initialise: " + e);
        }
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        try {
            MethodHandle isAvailable = lookup.findStatic(driver, "isAvailable", MethodType.methodType(boolean.class));
            if ((boolean) isAvailable.invokeExact()) {
                return new Result(true, "GPU runtime available");
            }
            MethodHandle reason = lookup.findStatic(driver, "unavailableReason", MethodType.methodType(String.class));
            String why = (String) reason.invokeExact();
            return new Result(false, why == null || why.isBlank() ? driverClass + " gave no reason" : why);
        } catch (NoSuchMethodException | IllegalAccessException e) {
            return new Result(false, driverClass + " lacks public static boolean isAvailable() / String unavailableReason(): " + e.getMessage());
        } catch (Throwable e) {
            // Probing must not take the command line down: a crash in the driver probe is itself the answer.
            return new Result(false, driverClass + " probe threw " + e);
        }
    }
}
