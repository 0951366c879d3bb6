package dev.gpuos.runtime;

/**
 * Maps a logical operator to the physical slot of the running generation, at the moment a task is written
 * into the ring. The queue calls both methods under its submission lock, so a generation planned after a
 * task was written always sees that task's use of its slot.
 */
public interface SlotResolver {
    int slotFor(int logicalOp);

    /**
     * Called once per distinct slot of a submitted batch, after its tasks were written, with the seq of the
     * slot's LAST task in the batch (its highest seq there); not once per task, and in no particular order. Only
     * tasks actually written count: a batch cut short by a timeout reports the slots of its written prefix.
     */
    void noteUse(int slot, long seq);

    /** Logical op == physical slot; for tests and fixed operator sets. */
    SlotResolver IDENTITY = new SlotResolver() {
        @Override
        public int slotFor(int logicalOp) {
            return logicalOp;
        }

        @Override
        public void noteUse(int slot, long seq) {}
    };
}
