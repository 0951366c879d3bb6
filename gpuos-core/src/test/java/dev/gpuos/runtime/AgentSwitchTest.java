package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The agent's A/B switches are gone after their GPU run: -Dgpuos.agent.ab is refused with the reason, not ignored. */
class AgentSwitchTest {
    @Test
    void anyAgentSwitchIsRefusedNamingThePropertyAndWhy() {
        var e = assertThrows(IllegalArgumentException.class, () -> WorkerSources.checkAgent("serial-reads"));
        assertTrue(e.getMessage().contains("-Dgpuos.agent.ab=serial-reads"), e.getMessage());
        assertTrue(e.getMessage().contains("removed"), e.getMessage());
    }

    @Test
    void noSwitchIsAccepted() {
        assertDoesNotThrow(() -> WorkerSources.checkAgent(null));
        assertDoesNotThrow(() -> WorkerSources.checkAgent(" "));
    }

    @Test
    void theWorkerSourceHasNoneOfTheSwitchesLeft() {
        assertFalse(WorkerSources.worker().contains("GPUOS_AB_"), "worker.cu still has an A/B switch");
    }
}
