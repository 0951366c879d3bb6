package dev.gpuos.tensor.gpu;

import dev.gpuos.jit.CompileUnit;
import dev.gpuos.jit.GenerationBuilder;
import dev.gpuos.tensor.DType;
import dev.gpuos.tensor.gpu.OperatorSources.Family;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * matmul.cu's M_MMA_ASYNC and M_MMA_ROWS (8 and 16 columns a unit), compiled by nvcc for sm_90 from the operator
 * the JIT builds (BF16), each inlined into a probe kernel with the worker's launch bounds (256 threads, 2 blocks per
 * SM, -maxrregcount=128): (1) each needs at most 128 registers and spills nothing; (2) the PTX multiplies with bf16
 * mma.sync m16n8k16 and never reads through the non-coherent path or L1-allocating copies (a buffer an earlier task of
 * the running worker wrote must not be read stale); M_MMA_ASYNC stages with 16-byte cp.async.cg, waits for them
 * and reads fragments with ldmatrix.x4. (The operator's own __noinline__ functions show the device-function ABI's
 * callee-saved spills, as every separately linked operator does: see ElementwisePackCompileTest.) Skips without nvcc. That the instructions compute the right product is MatmulHostTest's
 * and GpuTensorCoreMatmulTest's business.
 */
class MatmulAsyncCompileTest {

    @Test
    void theTensorCorePathsUseTheirInstructionsWithinTheRegisterCap() throws Exception {
        Nvcc.assumeInstalled();
        DType t = DType.BF16;   // F16 differs in the mma's type only (OperatorSourceCompileTest compiles it)
        CompileUnit unit = GenerationBuilder.operatorUnit(0, "matmul_bf16", OperatorSources.family(Family.MATMUL, t));
        Map<String, String> probes = new LinkedHashMap<>();
        probes.put("probe_async", "mma_async_tiles");
        probes.put("probe_rows1", "mma_rows<1>");
        probes.put("probe_rows2", "mma_rows<2>");
        // one nvcc run: ptxas's report, and the PTX kept beside it
        var build = Nvcc.compileProbes(Nvcc.probeUnit(unit.source(), List.of("mma_async_tiles(", "mma_rows("), probes),
                unit.options(), true, true);
        for (var p : probes.entrySet()) {
            String name = p.getKey();
            build.assertFitsTheWorker(name, "matmul " + p.getValue() + " " + t);
            String body = build.entry(name);
            assertTrue(body.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), name + ": no bf16 mma");
            // inputs may have been written by earlier tasks of the running worker: no non-coherent or L1-cached copies
            assertFalse(body.contains(".nc"), name + ": a load through the non-coherent path");
            assertFalse(body.contains("cp.async.ca"), name + ": a cp.async through L1");
            if (name.equals("probe_async")) {
                assertTrue(body.contains("cp.async.cg.shared.global"), "no 16-byte L2-only cp.async");
                assertTrue(body.contains("ldmatrix.sync.aligned.m8n8.x4.shared.b16"), "no ldmatrix.x4");
                assertTrue(body.contains("cp.async.wait_group"), "the copies are never waited for");
            }
        }
    }
}
