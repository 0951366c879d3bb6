package dev.gpuos.runtime.ops;

/**
 * Life of one operator version in its slot.
 *
 * <pre>
 *   PENDING ──activate──▶ ACTIVE ──newer version activated──▶ SUPERSEDED ──last task completed──▶ RETIRED
 *      │
 *      └──abort (compile/link failed)──▶ ABORTED
 * </pre>
 *
 * <ul>
 *   <li>PENDING: the slot is reserved and the code is compiled into the next generation, but names do not
 *       resolve to it yet.</li>
 *   <li>ACTIVE: the name resolves to this slot; at most one version per name is active.</li>
 *   <li>SUPERSEDED: a newer version took over the name, but tasks submitted with this slot may still be
 *       queued, so the slot stays in every generation.</li>
 *   <li>RETIRED and ABORTED are final: no task can reference the slot any more, and its number may be reused
 *       once the loaded generation no longer contains it.</li>
 * </ul>
 */
public enum OperatorState {
    PENDING,
    ACTIVE,
    SUPERSEDED,
    RETIRED,
    ABORTED;

    public boolean canMoveTo(OperatorState next) {
        return switch (this) {
            case PENDING -> next == ACTIVE || next == ABORTED;
            case ACTIVE -> next == SUPERSEDED;
            case SUPERSEDED -> next == RETIRED;
            case RETIRED, ABORTED -> false;
        };
    }

    /**
     * @param subject what is moving, for the message (e.g. {@code "add_f32 v2 in slot 7"})
     * @return {@code next}
     * @throws IllegalStateException if the transition is not allowed
     */
    public OperatorState moveTo(OperatorState next, String subject) {
        if (!canMoveTo(next)) {
            throw new IllegalStateException(subject + ": illegal transition " + this + " -> " + next);
        }
        return next;
    }

    /** True for RETIRED and ABORTED: no task references the slot and no transition leads out. */
    public boolean isFinal() {
        return this == RETIRED || this == ABORTED;
    }
}
