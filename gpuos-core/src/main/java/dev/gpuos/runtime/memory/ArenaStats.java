package dev.gpuos.runtime.memory;

/**
 * A consistent snapshot of a {@link DeviceArena}, taken under its lock.
 *
 * @param bytesInUse        capacity of blocks handed out and not yet released
 * @param blocksInUse       number of blocks handed out and not yet released
 * @param bytesPendingReuse capacity of released blocks still waiting for their last task to complete
 * @param slabBytes         bytes of all slabs held from the device (free or not)
 * @param dedicatedBytes    bytes of all dedicated (large) allocations held from the device, idle ones included
 * @param reservedBytes     bytes of all regions reserved ahead ({@link DeviceArena#reserve}), free parts included
 * @param reservedFreeBytes bytes of those regions not handed out (nor pending reuse)
 * @param allocations       blocks handed out since the arena was created
 * @param releases          blocks released since the arena was created
 */
public record ArenaStats(long bytesInUse, long blocksInUse, long bytesPendingReuse, long slabBytes,
                         long dedicatedBytes, long reservedBytes, long reservedFreeBytes, long allocations,
                         long releases) {

    /** Bytes this arena holds from the device. */
    public long deviceBytes() {
        return slabBytes + dedicatedBytes + reservedBytes;
    }
}
