package dev.gpuos.runtime.memory;

import java.util.Arrays;

/**
 * The free blocks of one buddy order: a set of device addresses, each tagged with its slab, with O(1) add,
 * remove-by-address (needed to coalesce a buddy) and take-any.
 *
 * <p>Primitive arrays instead of {@code HashSet<Long>}: release and allocate walk up to ~18 orders each, and
 * boxing there would put garbage on the allocation fast path. Members live densely in {@code addresses}/
 * {@code owners}; an open-addressing table (linear probing, backward-shift deletion) maps address to dense
 * index. Address 0 marks an empty table cell; the driver never returns 0.
 */
final class FreeBlockSet {

    private long[] addresses = new long[16];
    private DeviceArena.Slab[] owners = new DeviceArena.Slab[16];
    private int size;

    private long[] tableKeys = new long[32];
    private int[] tableIndex = new int[32];
    private int mask = 31;

    int size() {
        return size;
    }

    long addressAt(int index) {
        return addresses[index];
    }

    DeviceArena.Slab ownerAt(int index) {
        return owners[index];
    }

    /** Adds a block that must not already be present. */
    void add(long address, DeviceArena.Slab owner) {
        if (address == 0) {
            throw new IllegalArgumentException("device address 0 cannot be a free block");
        }
        if (size == addresses.length) {
            addresses = Arrays.copyOf(addresses, size * 2);
            owners = Arrays.copyOf(owners, size * 2);
        }
        if ((size + 1) * 2 > tableKeys.length) {
            rehash(tableKeys.length * 2);
        }
        int cell = cellOf(address);
        while (tableKeys[cell] != 0) {
            if (tableKeys[cell] == address) {
                throw new IllegalStateException("block 0x" + Long.toHexString(address) + " is already free");
            }
            cell = (cell + 1) & mask;
        }
        tableKeys[cell] = address;
        tableIndex[cell] = size;
        addresses[size] = address;
        owners[size] = owner;
        size++;
    }

    /** Removes the block at {@code address} if it is present; returns whether it was. */
    boolean remove(long address) {
        int cell = find(address);
        if (cell < 0) {
            return false;
        }
        int index = tableIndex[cell];
        deleteCell(cell);
        int last = --size;
        if (index != last) {
            // Keep the members dense: move the last member into the hole and repoint its table cell.
            long moved = addresses[last];
            addresses[index] = moved;
            owners[index] = owners[last];
            tableIndex[find(moved)] = index;
        }
        owners[last] = null;
        return true;
    }

    private int find(long address) {
        int cell = cellOf(address);
        while (tableKeys[cell] != 0) {
            if (tableKeys[cell] == address) {
                return cell;
            }
            cell = (cell + 1) & mask;
        }
        return -1;
    }

    /** Backward-shift deletion keeps every probe chain gap-free without tombstones. */
    private void deleteCell(int hole) {
        int cell = hole;
        while (true) {
            cell = (cell + 1) & mask;
            long key = tableKeys[cell];
            if (key == 0) {
                break;
            }
            int home = cellOf(key);
            // Move key into the hole unless its home lies cyclically in (hole, cell].
            boolean homeBetween = hole <= cell ? (hole < home && home <= cell) : (hole < home || home <= cell);
            if (!homeBetween) {
                tableKeys[hole] = key;
                tableIndex[hole] = tableIndex[cell];
                hole = cell;
            }
        }
        tableKeys[hole] = 0;
    }

    private void rehash(int capacity) {
        tableKeys = new long[capacity];
        tableIndex = new int[capacity];
        mask = capacity - 1;
        for (int i = 0; i < size; i++) {
            int cell = cellOf(addresses[i]);
            while (tableKeys[cell] != 0) {
                cell = (cell + 1) & mask;
            }
            tableKeys[cell] = addresses[i];
            tableIndex[cell] = i;
        }
    }

    private int cellOf(long address) {
        // Blocks are 256-byte aligned, so the low 8 bits carry no information; mix the rest.
        long h = (address >>> 8) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }
}
