package dev.gpuos.runtime;

/**
 * Device memory a task may reference. Task operands are built only from live buffers and checked against
 * their bounds, so a descriptor can never carry a null, freed or out-of-range pointer.
 */
public interface DeviceBuffer {
    /** Device address of the first byte. */
    long address();

    /** Usable size in bytes. */
    long byteSize();

    /** False once the buffer was released to its arena. */
    boolean isLive();
}
