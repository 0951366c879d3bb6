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
    void switchesJoinWithPlus() {
        assertEquals("#define GPUOS_AB_SERIAL_READS 1\n#define GPUOS_AB_NO_SHORT_PATH 1\n",
                WorkerSources.agentDefines("serial-reads+no-short-path"));
        assertTrue(WorkerSources.worker().contains("#ifdef GPUOS_AB_NO_SHORT_PATH"), "worker.cu no longer has the switch");
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
        var half = assertThrows(IllegalArgumentException.class, () -> WorkerSources.agentDefines("serial-reads+fast"));
        assertTrue(half.getMessage().contains("'fast'"), half.getMessage());
    }
}
