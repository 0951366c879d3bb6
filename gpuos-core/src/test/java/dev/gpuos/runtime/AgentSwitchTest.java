package dev.gpuos.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The agent's A/B switch (-Dgpuos.agent.ab): one known value, anything else refused with the property named. */
class AgentSwitchTest {
    @Test
    void serialReadsDefinesItsMacroBeforeTheWorkerSource() {
        String defines = WorkerSources.agentDefines("serial-reads");
        assertEquals("#define GPUOS_AB_SERIAL_READS 1\n", defines);
        String source = WorkerSources.workerWith(defines);
        assertTrue(source.startsWith(defines + "#line 1 \"worker.cu\"\n"), source.substring(0, 80));
        assertTrue(source.contains("#ifndef GPUOS_AB_SERIAL_READS"), "worker.cu no longer has the switch");
    }

    @Test
    void noSwitchLeavesTheSourceAsItIs() {
        assertEquals("", WorkerSources.agentDefines(null));
        assertEquals("", WorkerSources.agentDefines(" "));
        assertEquals(WorkerSources.workerWith(""), WorkerSources.worker());
    }

    @Test
    void anUnknownValueIsRefusedNamingTheProperty() {
        var e = assertThrows(IllegalArgumentException.class, () -> WorkerSources.agentDefines("parallel"));
        assertTrue(e.getMessage().contains("-Dgpuos.agent.ab=parallel"), e.getMessage());
    }
}
