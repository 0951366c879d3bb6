package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;


/**
 * The matmul.cu paths that store through an epilogue (bias, gelu, residual, cast: EPI_* in matmul.cu): M_SKINNY_K
 * at 16 rows (BERT batch 1's products) and 8, M_TILED, and today's 16-row M_SKINNY_K instance beside them (it must
 * stay as it was), F32 and BF16, compiled by nvcc for sm_90 from the operator the JIT builds, each inlined into a
 * probe kernel with the worker's launch bounds (256 threads, 2 blocks per SM, -maxrregcount=128): at most 128
 * registers, nothing spilled. Whole-program (no -rdc): only the probes' code is compiled, 4x faster than the whole
 * operator. (M_MMA has no epilogue: its instance spilled 108 bytes.) Skips without nvcc. That they compute the
 * separate tasks' values is MatmulHostTest's business.
 */
class MatmulEpilogueCompileTest {

    @Test
    void theEpiloguePathsFitTheWorkersRegisters() throws Exception {
        Nvcc.assumeInstalled();
        for (DType t : new DType[]{DType.F32, DType.BF16}) {
            CompileUnit unit = GenerationBuilder.operatorUnit(0, "matmul_" + t.name().toLowerCase(),
                    OperatorSources.family(Family.MATMUL, t));
            Map<String, String> probes = new LinkedHashMap<>();
            probes.put("probe_skinny16_1", "skinny_k<16, 1, true>");
            probes.put("probe_skinny8_1", "skinny_k<8, 1, true>");
            probes.put("probe_skinny16_main", "skinny_k<16, 1, false>");
            probes.put("probe_tiled", "tiled<true>");
            var build = Nvcc.compileProbes(Nvcc.probeUnit(unit.source(), List.of("skinny_k(", "tiled("), probes),
                    unit.options(), false, false);
            for (var p : probes.entrySet()) {
                build.assertFitsTheWorker(p.getKey(), "matmul " + p.getValue() + " " + t);
            }
        }
    }
}
