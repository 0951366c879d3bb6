package dev.gpuos.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;

/**
 * Builds the {@code void** kernelParams} array of cuLaunchKernel: element i points at an 8-byte slot holding
 * argument i. The driver reads {@code sizeof(param i)} bytes from each pointer at launch time and copies them,
 * so the array only has to live for the duration of the call.
 *
 * <p>Every argument is one 8-byte slot. A kernel parameter narrower than 8 bytes (int, float bits) works too:
 * x86-64 and the GPU are little-endian, so the low bytes of the slot are the value.
 */
public final class KernelParams {
    private KernelParams() {
    }

    /** Returns the pointer array (or {@link MemorySegment#NULL} when there are no arguments). */
    public static MemorySegment marshal(SegmentAllocator allocator, long... args) {
        if (args.length == 0) {
            return MemorySegment.NULL;
        }
        MemorySegment values = allocator.allocateFrom(ValueLayout.JAVA_LONG, args);
        MemorySegment pointers = allocator.allocate(ValueLayout.ADDRESS, args.length);
        for (int i = 0; i < args.length; i++) {
            pointers.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice((long) i * Long.BYTES, Long.BYTES));
        }
        return pointers;
    }
}
