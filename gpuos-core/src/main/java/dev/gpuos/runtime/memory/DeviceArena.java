package dev.gpuos.runtime.memory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * Sub-allocates device memory in Java so that nothing is returned to the driver while a worker kernel runs.
 *
 * <p><b>Why.</b> {@code cuMemFree} waits until the context is idle, and the persistent worker keeps it busy
 * forever, so a free during normal operation would hang the runtime. {@code cuMemAlloc} does work while a
 * kernel runs. The arena therefore takes large slabs from {@link DeviceMemory} and splits them with a binary
 * buddy allocator (power-of-two classes from 256 bytes, so every block is 256-byte aligned); requests above
 * the largest class get a dedicated allocation. Memory reserved ahead in one piece ({@link #reserve}: a model's
 * weights) serves requests of at least {@link #RESERVED_MIN_BYTES} first, cut exactly. Idle slabs, dedicated
 * allocations and reserved regions go back to the device only in {@link #trim()} or {@link #close()}, which
 * refuse unless {@link DeviceMemory#freeAllowed()}.
 *
 * <p><b>Reuse after completion.</b> A block released with {@code lastUseSeq} is reusable only once the
 * completion watermark passes it ({@code completedSeq > lastUseSeq}); until then a task still queued on the
 * GPU may read or write it. Pending blocks wait in queues ordered by {@code lastUseSeq} (a FIFO for blocks
 * released in that order, the usual case, a priority queue for the rest), so {@link #advance(long)} only touches
 * blocks that actually became reusable.
 *
 * <p><b>Small blocks as longs.</b> A tensor op's result is a small block made and given back per op; a
 * {@link DeviceBlock} object for it was 64 bytes of garbage per op. {@link #allocateSmall} hands such a block out
 * as one long instead (its address, with its size class in the low 8 bits that 256-byte alignment leaves zero),
 * and {@link #releaseSmall} takes it back; the slab is found again from the address. The caller keeps the long
 * and releases it exactly once, as it would a block.
 *
 * <p><b>Threads.</b> One lock guards all state; the critical sections are a few array operations except when
 * a new slab is requested from the device.
 */
public final class DeviceArena implements AutoCloseable {

    public static final long DEFAULT_SLAB_BYTES = 64L << 20;
    /** Smallest size class, and the alignment of every block. */
    public static final long MIN_BLOCK_BYTES = 256;
    /**
     * Requests of at least this many bytes are cut exactly from reserved regions while one has room ({@link
     * #reserve}): a model's weights and caches. Smaller ones stay in the slabs, whose classes waste little on them.
     */
    public static final long RESERVED_MIN_BYTES = 1L << 20;

    /** A slab taken from the device; {@code freeBytes} is guarded by the arena lock. */
    static final class Slab {
        final long base;
        final long bytes;
        long freeBytes;

        Slab(long base, long bytes) {
            this.base = base;
            this.bytes = bytes;
            this.freeBytes = bytes;
        }
    }

    private final DeviceMemory device;
    private final long slabBytes;
    private final long largestClassBytes;
    /** Buddy order of a whole slab: slabBytes = MIN_BLOCK_BYTES << slabOrder. */
    private final int slabOrder;

    private final Object lock = new Object();
    // Everything below is guarded by lock, except completedSeq, which is also read without it.
    private final FreeBlockSet[] freeByOrder;
    private final List<Slab> slabs = new ArrayList<>();
    /** The slabs ordered by base address, for finding a small block's slab from its address. */
    private Slab[] slabsByBase = new Slab[0];
    /** Small blocks released while a task may still use them, in order of last use: a ring of (block, seq). */
    private long[] pendingSmall = new long[64], pendingSmallSeq = new long[64];
    private int pendingSmallHead, pendingSmallCount;
    /** The slab of the block {@link #carveAddress} returned last (guarded by lock). */
    private Slab carvedSlab;
    /**
     * Small blocks given back and not merged with their buddies yet, a stack per order: a streamed loop gives back
     * and takes blocks of one size over and over, and a stack costs neither the free sets' hashing nor the splits
     * and merges. They are merged ({@link #mergeQuick}) before a slab is added or trimmed, so no memory is taken
     * from the device while one of them could serve, and their slab's freeBytes counts them only once merged.
     */
    private final long[][] quick;
    private final int[] quickCount;
    /**
     * Released blocks waiting for their last use to complete, in two queues: those released in order of last use
     * (every release at the current submission seq, e.g. a scope's thousands of buffers at its close) append to
     * a FIFO in O(1); any other waits in the priority queue.
     */
    private final ArrayDeque<DeviceBlock> pendingInOrder = new ArrayDeque<>();
    private final PriorityQueue<DeviceBlock> pending =
            new PriorityQueue<>(Comparator.comparingLong((DeviceBlock b) -> b.lastUseSeq));
    /** Idle dedicated allocations: capacity to addresses. */
    private final TreeMap<Long, ArrayDeque<Long>> idleDedicated = new TreeMap<>();
    /** Every dedicated allocation held from the device (live, pending or idle): address to bytes. */
    private final Map<Long, Long> dedicatedRegions = new HashMap<>();
    /** Regions reserved ahead, in the order they were taken. */
    private final List<ReservedRegion> reserved = new ArrayList<>();
    private long reservedBytesHeld;
    private volatile long completedSeq;
    private long bytesInUse;
    private long blocksInUse;
    private long bytesPendingReuse;
    private long slabBytesHeld;
    private long dedicatedBytesHeld;
    private long allocations;
    private long releases;
    private boolean closed;

    /** An arena with 64 MiB slabs whose largest size class is half a slab. */
    public DeviceArena(DeviceMemory device) {
        this(device, DEFAULT_SLAB_BYTES, DEFAULT_SLAB_BYTES / 2);
    }

    /**
     * @param slabBytes         bytes requested from the device per slab; a power of two, at least 256
     * @param largestClassBytes requests above this get a dedicated allocation; a power of two in
     *                          [256, slabBytes]. Half a slab bounds the waste of one class block at 2x.
     */
    public DeviceArena(DeviceMemory device, long slabBytes, long largestClassBytes) {
        this.device = Objects.requireNonNull(device, "device");
        if (slabBytes < MIN_BLOCK_BYTES || Long.bitCount(slabBytes) != 1) {
            throw new IllegalArgumentException("slabBytes must be a power of two >= " + MIN_BLOCK_BYTES
                    + ", got " + slabBytes);
        }
        if (largestClassBytes < MIN_BLOCK_BYTES || largestClassBytes > slabBytes
                || Long.bitCount(largestClassBytes) != 1) {
            throw new IllegalArgumentException("largestClassBytes must be a power of two in [" + MIN_BLOCK_BYTES
                    + ", " + slabBytes + "], got " + largestClassBytes);
        }
        this.slabBytes = slabBytes;
        this.largestClassBytes = largestClassBytes;
        this.slabOrder = orderOf(slabBytes);
        this.freeByOrder = new FreeBlockSet[slabOrder + 1];
        this.quick = new long[slabOrder + 1][];
        this.quickCount = new int[slabOrder + 1];
        for (int i = 0; i <= slabOrder; i++) {
            freeByOrder[i] = new FreeBlockSet();
        }
    }

    /** The size class a request of {@code bytes} is rounded up to (for requests up to the largest class). */
    static long sizeClassOf(long bytes) {
        return MIN_BLOCK_BYTES << orderOf(bytes);
    }

    /** Buddy order: the smallest k with (256 << k) >= bytes. */
    private static int orderOf(long bytes) {
        if (bytes <= MIN_BLOCK_BYTES) {
            return 0;
        }
        return 64 - Long.numberOfLeadingZeros(bytes - 1) - 8;
    }

    /**
     * Hands out a block of at least {@code bytes}, 256-byte aligned.
     *
     * @throws DeviceOutOfMemoryException when neither reusable blocks nor the device can supply it; the arena
     *                                    stays usable and later requests succeed once blocks are released
     */
    public DeviceBlock allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        if (bytes >= RESERVED_MIN_BYTES) {
            DeviceBlock block = allocateReserved(bytes);
            if (block != null) return block;
        }
        if (bytes > largestClassBytes) {
            return allocateDedicated(bytes);
        }
        int order = orderOf(bytes);
        synchronized (lock) {
            requireOpen();
            DeviceBlock block = carve(order, bytes);
            if (block == null) {
                reclaim();
                block = carve(order, bytes);
            }
            if (block == null && mergeQuick()) {
                block = carve(order, bytes);
            }
            if (block == null) {
                addSlab(bytes);
                block = carve(order, bytes);
            }
            return handOut(block);
        }
    }

    /**
     * Whether {@link #allocateSmall} serves a request of {@code bytes}: positive, below {@link #RESERVED_MIN_BYTES}
     * (so never an extent of a reserved region) and at most the largest size class (so always a piece of a slab).
     */
    public boolean isSmall(long bytes) {
        return bytes > 0 && bytes < RESERVED_MIN_BYTES && bytes <= largestClassBytes;
    }

    /** The device address of a small block (see {@link #allocateSmall}). */
    public static long smallAddress(long block) {
        return block & -MIN_BLOCK_BYTES;
    }

    /** The bytes a small block holds: its size class. */
    public static long smallCapacity(long block) {
        return MIN_BLOCK_BYTES << (block & (MIN_BLOCK_BYTES - 1));
    }

    /**
     * {@link #allocate} for a request that {@link #isSmall}, with no object: the block is the returned long
     * ({@link #smallAddress}, {@link #smallCapacity}; never 0), given back once with {@link #releaseSmall}.
     *
     * @throws IllegalArgumentException when {@code bytes} is not small
     * @throws DeviceOutOfMemoryException as {@link #allocate}
     */
    public long allocateSmall(long bytes) {
        if (!isSmall(bytes)) {
            throw new IllegalArgumentException("a small block holds 1 to " + Math.min(RESERVED_MIN_BYTES - 1,
                    largestClassBytes) + " bytes, got a request for " + bytes);
        }
        int order = orderOf(bytes);
        synchronized (lock) {
            requireOpen();
            long address = carveAddress(order);
            if (address == 0) {
                reclaim();
                address = carveAddress(order);
            }
            if (address == 0 && mergeQuick()) {
                address = carveAddress(order);
            }
            if (address == 0) {
                addSlab(bytes);
                address = carveAddress(order);
            }
            allocations++;
            blocksInUse++;
            bytesInUse += MIN_BLOCK_BYTES << order;
            return address | order;
        }
    }

    /**
     * Gives back the small blocks {@code blocks[0, count)}, all last used at {@code lastUseSeq}, under one lock: as
     * {@link #release(DeviceBlock[], int, long)} for blocks. Each must come from {@link #allocateSmall} of this
     * arena and be given back once; one that lies in no slab of this arena throws, and those before it stay
     * released. (A small block given back twice is found only when it reaches a free set that holds it already.)
     */
    public void releaseSmall(long[] blocks, int count, long lastUseSeq) {
        Objects.checkFromToIndex(0, count, blocks.length);
        synchronized (lock) {
            requireOpen();
            for (int i = 0; i < count; i++) {
                long block = blocks[i];
                if (slabOf(block) == null) {
                    throw new IllegalArgumentException("0x" + Long.toHexString(block) + " is not a small block of this"
                            + " arena (no slab holds address 0x" + Long.toHexString(smallAddress(block)) + ")");
                }
                long capacity = smallCapacity(block);
                releases++;
                blocksInUse--;
                bytesInUse -= capacity;
                if (lastUseSeq < completedSeq) {
                    makeSmallReusable(block);
                } else {
                    pendSmall(block, lastUseSeq);
                    bytesPendingReuse += capacity;
                }
            }
        }
    }

    /**
     * Appends to the ring in order of last use. A block whose last use is below the newest one waits for that
     * newest one instead: later reuse is always safe, and the ring stays a FIFO (a scope's close gives back
     * thousands at one seq, in order).
     */
    private void pendSmall(long block, long lastUseSeq) {
        int n = pendingSmall.length;
        if (pendingSmallCount == n) {
            long[] blocks = new long[2 * n], seqs = new long[2 * n];
            for (int i = 0; i < n; i++) {
                blocks[i] = pendingSmall[(pendingSmallHead + i) & (n - 1)];
                seqs[i] = pendingSmallSeq[(pendingSmallHead + i) & (n - 1)];
            }
            pendingSmall = blocks;
            pendingSmallSeq = seqs;
            pendingSmallHead = 0;
            n *= 2;
        }
        int tail = (pendingSmallHead + pendingSmallCount) & (n - 1);
        long newest = pendingSmallCount == 0 ? lastUseSeq : pendingSmallSeq[(tail - 1) & (n - 1)];
        pendingSmall[tail] = block;
        pendingSmallSeq[tail] = Math.max(lastUseSeq, newest);
        pendingSmallCount++;
    }

    /** The slab holding a small block's address, or null. */
    private Slab slabOf(long block) {
        long address = smallAddress(block);
        Slab[] byBase = slabsByBase;
        int lo = 0, hi = byBase.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Slab slab = byBase[mid];
            if (address < slab.base) hi = mid - 1;
            else if (address >= slab.base + slab.bytes) lo = mid + 1;
            else return slab;
        }
        return null;
    }

    private void indexSlabs() {
        Slab[] byBase = slabs.toArray(new Slab[0]);
        java.util.Arrays.sort(byBase, Comparator.comparingLong((Slab slab) -> slab.base));
        slabsByBase = byBase;
    }

    /**
     * Makes sure at least {@code bytes} of reserved memory are free or pending reuse, taking the shortfall from the
     * device in ONE allocation: later requests of at least {@link #RESERVED_MIN_BYTES} are cut from it exactly
     * (first fit) before any slab or dedicated allocation is made. A model load calls this with its weights' bytes:
     * one {@code cuMemAlloc} instead of one per weight (about 10 ms each while a worker runs). Reserved memory goes
     * back to the device only when a whole region is free, in {@link #trim()} or {@link #close()}.
     *
     * @return bytes newly taken from the device (0 when enough was free already)
     * @throws DeviceOutOfMemoryException when the device cannot supply the shortfall in one piece
     */
    public long reserve(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes to reserve must be positive, got " + bytes);
        }
        if (bytes > Long.MAX_VALUE - MIN_BLOCK_BYTES) {
            throw new IllegalArgumentException("cannot reserve " + bytes + " bytes");
        }
        synchronized (lock) {
            long shortfall = reserveShortfall(bytes);
            if (shortfall == 0) return 0;
            long base = allocateFromDevice(shortfall, shortfall, "a reservation of " + shortfall + " bytes");
            reserved.add(new ReservedRegion(base, shortfall));
            reservedBytesHeld += shortfall;
            return shortfall;
        }
    }

    /**
     * Bytes {@link #reserve}({@code bytes}) would take from the device now: 0 when the reserved regions' free
     * extents and the reserved blocks pending reuse hold {@code bytes} already.
     */
    public long reserveShortfall(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes to reserve must be positive, got " + bytes);
        }
        synchronized (lock) {
            requireOpen();
            reclaim();
            long available = 0;
            for (ReservedRegion r : reserved) available += r.freeBytes();
            for (DeviceBlock b : pendingInOrder) if (b.region != null) available += b.capacity();
            for (DeviceBlock b : pending) if (b.region != null) available += b.capacity();
            return bytes <= available ? 0 : (bytes - available + MIN_BLOCK_BYTES - 1) & -MIN_BLOCK_BYTES;
        }
    }

    /**
     * Gives a block back. It is reused only once {@code completedSeq > lastUseSeq}, i.e. after every task that
     * used it has completed; {@code lastUseSeq < 0} means no task used it, so it is reusable at once.
     *
     * @throws IllegalStateException if the block was already released or the arena is closed
     */
    public void release(DeviceBlock block, long lastUseSeq) {
        checkOwn(block);
        synchronized (lock) {
            requireOpen();
            releaseLocked(block, lastUseSeq);
        }
    }

    /**
     * Gives back {@code blocks[0, count)} at once, all last used at {@code lastUseSeq}: as {@link #release} each,
     * under one lock (a scope's close gives back thousands). A block that is not this arena's or was already
     * released throws, and the blocks before it stay released.
     */
    public void release(DeviceBlock[] blocks, int count, long lastUseSeq) {
        Objects.checkFromToIndex(0, count, blocks.length);
        for (int i = 0; i < count; i++) checkOwn(blocks[i]);
        synchronized (lock) {
            requireOpen();
            for (int i = 0; i < count; i++) releaseLocked(blocks[i], lastUseSeq);
        }
    }

    private void checkOwn(DeviceBlock block) {
        Objects.requireNonNull(block, "block");
        if (block.arena != this) {
            throw new IllegalArgumentException(block + " belongs to another arena");
        }
    }

    private void releaseLocked(DeviceBlock block, long lastUseSeq) {
        if (block.isReleased()) {
            throw new IllegalStateException("double release of " + block);
        }
        block.markReleased();
        releases++;
        blocksInUse--;
        bytesInUse -= block.capacity();
        if (lastUseSeq < completedSeq) {
            makeReusable(block);
        } else {
            block.lastUseSeq = lastUseSeq;
            DeviceBlock last = pendingInOrder.peekLast();
            if (last == null || last.lastUseSeq <= lastUseSeq) pendingInOrder.addLast(block);
            else pending.add(block);
            bytesPendingReuse += block.capacity();
        }
    }

    /**
     * Moves the completion watermark: every task with seq &lt; {@code completedSeq} is complete. Blocks whose
     * last use is below it become reusable. A watermark lower than one already seen is ignored.
     */
    public void advance(long completedSeq) {
        if (completedSeq <= this.completedSeq) {
            return;
        }
        synchronized (lock) {
            if (completedSeq <= this.completedSeq) {
                return;
            }
            this.completedSeq = completedSeq;
            if (!closed) {
                reclaim();
            }
        }
    }

    /** The highest watermark passed to {@link #advance(long)}. */
    public long completedSeq() {
        return completedSeq;
    }

    /**
     * Returns wholly free slabs, wholly free reserved regions and idle dedicated allocations to the device.
     *
     * @return bytes returned to the device
     * @throws IllegalStateException while a worker kernel runs ({@link DeviceMemory#freeAllowed()} is false)
     */
    public long trim() {
        synchronized (lock) {
            if (closed) {
                return 0;
            }
            requireFreeAllowed("trim");
            return trimLocked();
        }
    }

    /**
     * Returns every slab and dedicated allocation to the device, including those of blocks never released:
     * like a scope, closing the arena ends the life of everything it handed out. Idempotent.
     *
     * @throws IllegalStateException while a worker kernel runs
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            requireFreeAllowed("close");
            // Freed one at a time, forgetting each only after the driver accepted it, so a failure part-way
            // leaves the arena describing exactly what it still holds.
            try {
                for (Iterator<Slab> it = slabs.iterator(); it.hasNext(); ) {
                    Slab slab = it.next();
                    device.free(slab.base);
                    it.remove();
                    slabBytesHeld -= slab.bytes;
                }
            } finally {
                indexSlabs();
            }
            for (Iterator<ReservedRegion> it = reserved.iterator(); it.hasNext(); ) {
                ReservedRegion r = it.next();
                device.free(r.base);
                it.remove();
                reservedBytesHeld -= r.bytes;
            }
            for (Iterator<Map.Entry<Long, Long>> it = dedicatedRegions.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Long, Long> region = it.next();
                device.free(region.getKey());
                it.remove();
                dedicatedBytesHeld -= region.getValue();
            }
            for (FreeBlockSet set : freeByOrder) {
                while (set.size() > 0) {
                    set.remove(set.addressAt(set.size() - 1));
                }
            }
            pending.clear();
            pendingInOrder.clear();
            pendingSmallCount = 0;
            java.util.Arrays.fill(quickCount, 0);
            bytesPendingReuse = 0;
            idleDedicated.clear();
            closed = true;
        }
    }

    public ArenaStats stats() {
        synchronized (lock) {
            return statsLocked();
        }
    }

    public long slabBytes() {
        return slabBytes;
    }

    public long largestClassBytes() {
        return largestClassBytes;
    }

    @Override
    public String toString() {
        return "DeviceArena[slabBytes=" + slabBytes + ", largestClassBytes=" + largestClassBytes + ", "
                + stats() + "]";
    }

    private ArenaStats statsLocked() {
        long reservedFree = 0;
        for (ReservedRegion r : reserved) reservedFree += r.freeBytes();
        return new ArenaStats(bytesInUse, blocksInUse, bytesPendingReuse, slabBytesHeld, dedicatedBytesHeld,
                reservedBytesHeld, reservedFree, allocations, releases);
    }

    /** An extent of a reserved region for {@code bytes}, or null when no region has room for it. */
    private DeviceBlock allocateReserved(long bytes) {
        if (bytes > Long.MAX_VALUE - MIN_BLOCK_BYTES) return null;
        long capacity = (bytes + MIN_BLOCK_BYTES - 1) & -MIN_BLOCK_BYTES;
        synchronized (lock) {
            requireOpen();
            if (reserved.isEmpty()) return null;
            for (int attempt = 0; attempt < 2; attempt++) {
                for (ReservedRegion r : reserved) {
                    long at = r.take(capacity);
                    if (at >= 0) return handOut(new DeviceBlock(this, null, r, -1, at, bytes, capacity));
                }
                reclaim();
            }
            return null;
        }
    }

    private DeviceBlock handOut(DeviceBlock block) {
        allocations++;
        blocksInUse++;
        bytesInUse += block.capacity();
        return block;
    }

    /** Takes a free block of {@code order}, splitting a larger one if needed; null if none is free. */
    private DeviceBlock carve(int order, long size) {
        long address = carveAddress(order);
        if (address == 0) return null;
        Slab slab = carvedSlab != null ? carvedSlab : slabOf(address);
        return new DeviceBlock(this, slab, order, address, size, MIN_BLOCK_BYTES << order);
    }

    /**
     * {@link #carve} without the object: the address, or 0 if none is free. Its slab is left in {@link #carvedSlab}
     * when known at no cost (null for a block of the quick stacks: a small block needs none).
     */
    private long carveAddress(int order) {
        int q = quickCount[order];
        if (q > 0) {
            long address = quick[order][q - 1];
            quickCount[order] = q - 1;
            carvedSlab = null;
            return address;
        }
        for (int j = order; j <= slabOrder; j++) {
            FreeBlockSet set = freeByOrder[j];
            int count = set.size();
            if (count == 0) {
                continue;
            }
            long address = set.addressAt(count - 1);
            Slab slab = set.ownerAt(count - 1);
            set.remove(address);
            while (j > order) {
                j--;
                freeByOrder[j].add(address + (MIN_BLOCK_BYTES << j), slab);
            }
            slab.freeBytes -= MIN_BLOCK_BYTES << order;
            carvedSlab = slab;
            return address;
        }
        return 0;
    }

    private void makeReusable(DeviceBlock block) {
        if (block.region != null) {
            block.region.giveBack(block.address(), block.capacity());
            return;
        }
        Slab slab = block.slab;
        if (slab == null) {
            idleDedicated.computeIfAbsent(block.capacity(), k -> new ArrayDeque<>()).push(block.address());
            return;
        }
        freeInSlab(slab, block.address(), block.order);
    }

    private void makeSmallReusable(long block) {
        int order = (int) (block & (MIN_BLOCK_BYTES - 1));
        long[] stack = quick[order];
        int q = quickCount[order];
        if (stack == null || q == stack.length) quick[order] = stack = java.util.Arrays.copyOf(stack == null ? new long[0] : stack, Math.max(64, 2 * q));
        stack[q] = smallAddress(block);
        quickCount[order] = q + 1;
    }

    /**
     * Makes every released block whose last use completed free, and merges the quick stacks into the free sets: the
     * free memory is then the maximal buddy blocks around what is in use, whatever order blocks were given back in
     * (as if every release had merged at once). For a point where the program waits anyway (a sync): the same
     * program then gets the same blocks, and a large request finds whole blocks without a merge of its own.
     */
    public void settle(long completedSeq) {
        synchronized (lock) {
            if (closed) return;
            if (completedSeq > this.completedSeq) this.completedSeq = completedSeq;
            reclaim();
            mergeQuick();
        }
    }

    /** Merges every block of the quick stacks into the free sets, with its buddies; returns whether there was one. */
    private boolean mergeQuick() {
        boolean any = false;
        for (int order = 0; order < quick.length; order++) {
            int q = quickCount[order];
            quickCount[order] = 0;
            for (int i = 0; i < q; i++) freeInSlab(slabOf(quick[order][i]), quick[order][i], order);
            any |= q > 0;
        }
        return any;
    }

    private void freeInSlab(Slab slab, long address, int order) {
        slab.freeBytes += MIN_BLOCK_BYTES << order;
        // Coalesce with the buddy while it is free at the same order; buddies are relative to the slab base
        // because the driver aligns slabs only to 256 bytes, not to their size.
        while (order < slabOrder) {
            long buddy = slab.base + ((address - slab.base) ^ (MIN_BLOCK_BYTES << order));
            if (!freeByOrder[order].remove(buddy)) {
                break;
            }
            address = Math.min(address, buddy);
            order++;
        }
        freeByOrder[order].add(address, slab);
    }

    private void reclaim() {
        int n = pendingSmall.length;
        while (pendingSmallCount > 0 && pendingSmallSeq[pendingSmallHead] < completedSeq) {
            long block = pendingSmall[pendingSmallHead];
            pendingSmallHead = (pendingSmallHead + 1) & (n - 1);
            pendingSmallCount--;
            bytesPendingReuse -= smallCapacity(block);
            makeSmallReusable(block);
        }
        while (!pendingInOrder.isEmpty() && pendingInOrder.peekFirst().lastUseSeq < completedSeq) {
            DeviceBlock block = pendingInOrder.pollFirst();
            bytesPendingReuse -= block.capacity();
            makeReusable(block);
        }
        while (!pending.isEmpty() && pending.peek().lastUseSeq < completedSeq) {
            DeviceBlock block = pending.poll();
            bytesPendingReuse -= block.capacity();
            makeReusable(block);
        }
    }

    private void addSlab(long requested) {
        long base = allocateFromDevice(slabBytes, requested, "a new " + slabBytes + "-byte slab");
        if ((base & (MIN_BLOCK_BYTES - 1)) != 0) {
            throw new IllegalStateException("device returned slab address 0x" + Long.toHexString(base)
                    + ", which is not " + MIN_BLOCK_BYTES + "-byte aligned (the slab is kept, unused)");
        }
        Slab slab = new Slab(base, slabBytes);
        slabs.add(slab);
        indexSlabs();
        slabBytesHeld += slabBytes;
        freeByOrder[slabOrder].add(base, slab);
    }

    private DeviceBlock allocateDedicated(long bytes) {
        if (bytes > Long.MAX_VALUE - MIN_BLOCK_BYTES) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        }
        long capacity = (bytes + MIN_BLOCK_BYTES - 1) & -MIN_BLOCK_BYTES;
        synchronized (lock) {
            requireOpen();
            // Reuse an idle allocation if it wastes at most half of itself.
            Long idle = takeIdleDedicated(capacity, 2 * capacity);
            if (idle == null) {
                reclaim();
                idle = takeIdleDedicated(capacity, 2 * capacity);
            }
            long address;
            if (idle != null) {
                address = idle;
            } else {
                try {
                    address = allocateFromDevice(capacity, bytes, "a dedicated " + capacity + "-byte allocation");
                    dedicatedRegions.put(address, capacity);
                    dedicatedBytesHeld += capacity;
                } catch (DeviceOutOfMemoryException e) {
                    // Better to waste part of a larger idle allocation than to fail.
                    Long larger = takeIdleDedicated(capacity, Long.MAX_VALUE);
                    if (larger == null) {
                        throw e;
                    }
                    address = larger;
                }
            }
            return handOut(new DeviceBlock(this, null, -1, address, bytes, dedicatedRegions.get(address)));
        }
    }

    /** Removes and returns an idle dedicated allocation with capacity in [min, max], or null. */
    private Long takeIdleDedicated(long min, long max) {
        Map.Entry<Long, ArrayDeque<Long>> entry = idleDedicated.ceilingEntry(min);
        if (entry == null || entry.getKey() > max) {
            return null;
        }
        Long address = entry.getValue().pop();
        if (entry.getValue().isEmpty()) {
            idleDedicated.remove(entry.getKey());
        }
        return address;
    }

    /** Asks the device for memory; when it is full and freeing is allowed, trims and asks once more. */
    private long allocateFromDevice(long deviceBytes, long requested, String what) {
        try {
            return device.allocate(deviceBytes);
        } catch (DeviceOutOfMemoryException first) {
            if (device.freeAllowed() && trimLocked() > 0) {
                try {
                    return device.allocate(deviceBytes);
                } catch (DeviceOutOfMemoryException second) {
                    throw outOfMemory(requested, what, second);
                }
            }
            throw outOfMemory(requested, what, first);
        }
    }

    private DeviceOutOfMemoryException outOfMemory(long requested, String what, DeviceOutOfMemoryException cause) {
        long free = device.freeBytes();
        String hint = device.freeAllowed() ? ""
                : "; idle memory cannot be returned to the device while a worker kernel runs";
        return new DeviceOutOfMemoryException(requested, free, "cannot allocate " + requested + " bytes: needed "
                + what + " but the device has " + free + " of " + device.totalBytes() + " bytes free; arena "
                + statsLocked() + hint, cause);
    }

    private long trimLocked() {
        mergeQuick();  // a wholly free slab is whole in the free sets only once merged
        long returned = 0;
        for (Iterator<Slab> it = slabs.iterator(); it.hasNext(); ) {
            Slab slab = it.next();
            if (slab.freeBytes != slab.bytes) {
                continue;
            }
            freeToDevice(slab.base);
            if (!freeByOrder[slabOrder].remove(slab.base)) {
                throw new AssertionError("wholly free slab 0x" + Long.toHexString(slab.base)
                        + " is missing from the top-order free set");
            }
            it.remove();
            slabBytesHeld -= slab.bytes;
            returned += slab.bytes;
        }
        indexSlabs();
        for (Iterator<ReservedRegion> it = reserved.iterator(); it.hasNext(); ) {
            ReservedRegion r = it.next();
            if (!r.isWhollyFree()) {
                continue;
            }
            freeToDevice(r.base);
            it.remove();
            reservedBytesHeld -= r.bytes;
            returned += r.bytes;
        }
        while (!idleDedicated.isEmpty()) {
            Map.Entry<Long, ArrayDeque<Long>> entry = idleDedicated.firstEntry();
            long address = entry.getValue().peek();
            freeToDevice(address);
            entry.getValue().pop();
            if (entry.getValue().isEmpty()) {
                idleDedicated.remove(entry.getKey());
            }
            dedicatedRegions.remove(address);
            dedicatedBytesHeld -= entry.getKey();
            returned += entry.getKey();
        }
        return returned;
    }

    /** The only path to {@link DeviceMemory#free} besides close, which checks the same condition first. */
    private void freeToDevice(long address) {
        requireFreeAllowed("free device memory");
        device.free(address);
    }

    private void requireFreeAllowed(String action) {
        if (!device.freeAllowed()) {
            throw new IllegalStateException("cannot " + action + " while a worker kernel runs: the driver's free "
                    + "waits for the context to go idle, which would block forever; park the worker first");
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("arena is closed");
        }
    }
}
